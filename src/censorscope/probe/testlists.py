"""Citizen Lab test lists: reading them, and fetching them into a cache.

A list is a CSV with the columns ``url,category_code,category_description,
date_added,source,notes``: ``global.csv`` plus one ``<cc>.csv`` per country
(lower-case code).  The probe measures the country's list first, then the
global one, without duplicates.  Lists are fetched from the upstream
repository's raw files and cached for a day; a stale cache is used when the
upstream cannot be reached.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

logger = logging.getLogger(__name__)

UPSTREAM_LISTS_URL: Final = (
    "https://raw.githubusercontent.com/citizenlab/test-lists/master/lists/"
)
CACHE_MAX_AGE: Final = 24 * 3600.0
GLOBAL_LIST: Final = "global"
GLOBAL_CC: Final = "XX"  # OONI's country code for entries of the global list
_HEADER: Final = "url,category_code,category_description,date_added,source,notes\n"


class TestListError(RuntimeError):
    """No usable test list (missing directory, global list unreachable)."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class UrlEntry:
    """One URL to measure and where it came from (OONI's ``XX`` = global)."""

    url: str
    category_code: str
    country_code: str


def read_test_list(path: Path, country_code: str) -> list[UrlEntry]:
    """The entries of one list file; bad rows are logged and skipped."""
    entries = []
    with path.open(encoding="utf-8", newline="") as stream:
        for line, row in enumerate(csv.DictReader(stream), start=2):
            url = (row.get("url") or "").strip()
            if not url.startswith(("http://", "https://")):
                logger.warning("%s:%d: no http(s) url, row skipped", path, line)
                continue
            category = (row.get("category_code") or "MISC").strip() or "MISC"
            entries.append(UrlEntry(url, category, country_code))
    return entries


def list_files(directory: Path, country_code: str) -> list[tuple[Path, str]]:
    """The files to read in order: the country's list, then the global one."""
    files = []
    if country_code and country_code.upper() != "ZZ":
        files.append((directory / f"{country_code.lower()}.csv", country_code.upper()))
    files.append((directory / f"{GLOBAL_LIST}.csv", GLOBAL_CC))
    return files


def load_test_lists(
    directory: Path, country_code: str, categories: Iterable[str] = ()
) -> list[UrlEntry]:
    """Country and global entries, deduplicated, filtered by category codes."""
    if not (directory / f"{GLOBAL_LIST}.csv").is_file():
        raise TestListError(f"no {GLOBAL_LIST}.csv in test list directory {directory}")
    wanted = {code.upper() for code in categories}
    seen: set[str] = set()
    entries = []
    for path, code in list_files(directory, country_code):
        if not path.is_file():
            logger.info("no test list %s", path)
            continue
        for entry in read_test_list(path, code):
            if entry.url in seen or (wanted and entry.category_code not in wanted):
                continue
            seen.add(entry.url)
            entries.append(entry)
    return entries


def _is_fresh(path: Path, max_age: float) -> bool:
    return path.is_file() and time.time() - path.stat().st_mtime < max_age


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(content)
    os.replace(partial, path)


async def _fetch_one(
    client: httpx.AsyncClient, url: str, path: Path, may_be_missing: bool
) -> bool:
    """Download ``url`` into ``path``; a 404 for an optional list caches it empty."""
    try:
        response = await client.get(url)
    except httpx.HTTPError as error:
        logger.warning("fetching test list %s failed: %s", url, error)
        return False
    if response.status_code == 404 and may_be_missing:
        _write_atomically(path, _HEADER.encode())
        return True
    if not response.is_success:
        logger.warning("fetching test list %s: HTTP %d", url, response.status_code)
        return False
    _write_atomically(path, response.content)
    return True


async def fetch_test_lists(
    cache_dir: Path,
    country_code: str,
    base_url: str = UPSTREAM_LISTS_URL,
    *,
    max_age: float = CACHE_MAX_AGE,
    timeout: float = 30.0,
) -> Path:
    """Refresh the cached global and country lists; return the cache directory.

    Raises TestListError only when there is no global list at all.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        for path, code in list_files(cache_dir, country_code):
            if _is_fresh(path, max_age):
                continue
            # Many countries have no list of their own; the global one must exist.
            optional = code != GLOBAL_CC
            fetched = await _fetch_one(client, base + path.name, path, optional)
            if not fetched and path.is_file():
                logger.warning("using stale cached test list %s", path)
    if not (cache_dir / f"{GLOBAL_LIST}.csv").is_file():
        raise TestListError(f"could not fetch the global test list from {base}")
    return cache_dir
