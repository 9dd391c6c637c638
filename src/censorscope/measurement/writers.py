"""Writers for JSONL measurement files: plain, gzip (``.gz``) or zstd (``.zst``).

The compression follows the file name's suffix.  Each measurement is written
as one line of compact JSON, exactly the value that was read.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import orjson
import zstandard

from censorscope.measurement.model import Measurement


class JsonlWriter:
    """Append measurements to an open binary stream, one JSON document a line."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.written = 0

    def write(self, item: Measurement | dict[str, Any]) -> None:
        doc = item.doc if isinstance(item, Measurement) else item
        self._stream.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        self.written += 1

    def write_all(self, items: Iterable[Measurement | dict[str, Any]]) -> int:
        for item in items:
            self.write(item)
        return self.written


def _open_compressed(path: Path, append: bool) -> IO[bytes]:
    mode = "ab" if append else "wb"
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.GzipFile(path, mode, compresslevel=6))
    if path.suffix == ".zst":
        raw = path.open(mode)
        writer = zstandard.ZstdCompressor(level=6).stream_writer(raw, closefd=True)
        return cast(IO[bytes], writer)
    return path.open(mode)


@contextmanager
def open_jsonl_writer(
    path: str | Path, *, append: bool = False
) -> Iterator[JsonlWriter]:
    """Open ``path`` for writing measurements; compression from the suffix.

    Appending to a compressed file adds a new gzip member or zstd frame, which
    every reader here (and the standard tools) reads as one stream.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = _open_compressed(target, append)
    try:
        yield JsonlWriter(stream)
    finally:
        stream.close()


def write_jsonl(path: str | Path, items: Iterable[Measurement | dict[str, Any]]) -> int:
    """Write ``items`` to ``path`` and return how many were written."""
    with open_jsonl_writer(path) as writer:
        return writer.write_all(items)
