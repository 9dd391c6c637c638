"""``censorscope fingerprints update``: fetch OONI's fingerprint CSVs.

Both files are downloaded first, checked (they must parse and hold rows),
and only then replace the local copies, each by an atomic rename, so a
failed update leaves the previous fingerprints in place.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

import httpx

from censorscope.scoring.fingerprints import (
    CSV_FILES,
    FingerprintDB,
    FingerprintError,
    parse_csv,
)

logger = logging.getLogger(__name__)

UPSTREAM_URL: Final = (
    "https://raw.githubusercontent.com/ooni/blocking-fingerprints/main/"
)
_REQUIRED: Final = ("name", "scope", "location_found", "pattern_type", "pattern")


def _fetch(client: httpx.Client, url: str) -> bytes:
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise FingerprintError(f"cannot fetch {url}: {error}") from error
    return response.content


def _check(name: str, content: bytes) -> None:
    header = content.split(b"\n", 1)[0].decode("utf-8", "replace")
    missing = [column for column in _REQUIRED if column not in header.split(",")]
    if missing:
        raise FingerprintError(f"{name} lacks the columns {', '.join(missing)}")
    try:
        rows = parse_csv(content)
    except (UnicodeDecodeError, KeyError) as error:
        raise FingerprintError(f"{name} is not a fingerprint CSV: {error}") from error
    if not rows:
        raise FingerprintError(f"{name} holds no fingerprints")


def _replace(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def update_fingerprints(
    directory: Path, *, base_url: str = UPSTREAM_URL, timeout: float = 30.0
) -> FingerprintDB:
    """Download the CSVs into ``directory`` and return them loaded."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        contents = {name: _fetch(client, base + name) for name in CSV_FILES}
    for name, content in contents.items():
        _check(name, content)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        _replace(directory / name, content)
    logger.info("fingerprints updated in %s from %s", directory, base)
    return FingerprintDB.from_csv_bytes(contents)
