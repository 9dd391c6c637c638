"""Citizen Lab categories for measured inputs, from a directory of test lists.

``global.csv`` and ``<cc>.csv`` (columns ``url,category_code,...``).  A
country's own list wins over the global one; an input not listed by URL falls
back to any listed URL with the same host name.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Final

from censorscope.scoring.rows import host_of

logger = logging.getLogger(__name__)

_GLOBAL: Final = "XX"


class CategoryIndex:
    """Lookup of ``category_code`` by (country, URL) then (country, host)."""

    def __init__(self) -> None:
        self._by_url: dict[tuple[str, str], str] = {}
        self._by_host: dict[tuple[str, str], str] = {}

    @classmethod
    def load(cls, directory: Path) -> CategoryIndex:
        index = cls()
        for path in sorted(directory.glob("*.csv")):
            if path.name.startswith("00-"):
                continue  # legends, not lists
            code = "XX" if path.stem == "global" else path.stem.upper()
            index._add_list(path, code)
        logger.info("loaded %d categorised URLs from %s", len(index._by_url), directory)
        return index

    def _add_list(self, path: Path, country: str) -> None:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                url, category = row.get("url"), row.get("category_code")
                if not url or not category:
                    continue
                self._by_url.setdefault((country, url.strip()), category)
                self._by_host.setdefault((country, host_of(url.strip())), category)

    def __len__(self) -> int:
        return len(self._by_url)

    def lookup(self, probe_cc: str, url: str, host: str) -> str | None:
        """The category of ``url`` as listed for ``probe_cc`` or globally."""
        if not url:
            return None
        for key, table in (
            ((probe_cc, url), self._by_url),
            ((_GLOBAL, url), self._by_url),
            ((probe_cc, host), self._by_host),
            ((_GLOBAL, host), self._by_host),
        ):
            found = table.get(key)
            if found is not None:
                return found
        return None
