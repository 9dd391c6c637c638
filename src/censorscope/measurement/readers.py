"""Streaming readers for every layout in which OONI has published measurements.

Supported, detected from the content (magic bytes), not only from the name:

* one JSON document (pretty-printed or not), or a JSON array of documents;
* JSONL, plain or compressed with gzip, zstd or lz4 (frame format);
* OONI "cans": tar archives (``.tar.lz4``, ``.tar.gz``, plain ``.tar``) whose
  members are JSONL ``.json`` files or YAML-era ``.yaml`` reports;
* "postcans": tar archives of ``.post`` bodies ``{"format": "json",
  "content": {...}}``, each named after its ``measurement_uid``;
* YAML-era reports, normalised into today's JSON shape.

Memory stays flat: files are decompressed as streams and read line by line or
member by member.  A broken record is reported to ``on_reject`` with its
location (file, archive member, line) and the reason, and reading goes on
with the next one; in strict mode the first rejection raises
:class:`RejectedRecord`.
"""

from __future__ import annotations

import gzip
import io
import logging
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, cast

import lz4.frame
import orjson
import zstandard

from censorscope.measurement.legacy_yaml import iter_yaml_report
from censorscope.measurement.model import (
    Measurement,
    MeasurementError,
    check_measurement,
)

logger = logging.getLogger(__name__)

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_LZ4_MAGIC: Final = b"\x04\x22\x4d\x18"
_PEEK: Final = 1024
_STREAM_ERRORS: Final = (
    OSError,
    EOFError,
    tarfile.TarError,
    zstandard.ZstdError,
    RuntimeError,  # lz4.frame raises RuntimeError on corrupt frames
    zlib.error,
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not be read: where it was and why."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


class RejectedRecord(Exception):  # noqa: N818 - reads better at call sites
    """Raised in strict mode at the first rejected record."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection


@dataclass
class ReadStats:
    """Counts kept while reading, for the closing summary of a command."""

    read: int = 0
    rejected: int = 0
    files: int = 0
    rejections: list[Rejection] = field(default_factory=list)


RejectHandler = Callable[[Rejection], None]


class _Context:
    """Per-call reading state: where rejections go and what is counted."""

    def __init__(self, strict: bool, on_reject: RejectHandler | None, stats: ReadStats):
        self.strict = strict
        self.on_reject = on_reject
        self.stats = stats

    def reject(self, location: str, reason: str) -> None:
        rejection = Rejection(location, reason)
        self.stats.rejected += 1
        if len(self.stats.rejections) < 1000:
            self.stats.rejections.append(rejection)
        logger.debug("rejected %s", rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)
        if self.strict:
            raise RejectedRecord(rejection)


def read_measurements(
    paths: Iterable[str | Path],
    *,
    strict: bool = False,
    on_reject: RejectHandler | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Measurement]:
    """Yield every measurement in ``paths`` (files or directories, recursively)."""
    context = _Context(strict, on_reject, stats if stats is not None else ReadStats())
    for path in measurement_files(paths):
        context.stats.files += 1
        yield from _read_file(path, context)


def read_file(path: str | Path, *, strict: bool = False) -> list[Measurement]:
    """Read a whole (small) file; convenience for tests and ``show``."""
    return list(read_measurements([path], strict=strict))


# Files a directory walk skips: indexes and databases kept beside measurements
# (our archive's SQLite index, OONI's per-day ``index.json.gz``) and hidden
# files.  A file named explicitly is always read.
_NOT_MEASUREMENTS: Final = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".lock")
_INDEX_NAMES: Final = frozenset({"index.json.gz", "index.json"})


def _is_measurement_file(path: Path) -> bool:
    name = path.name
    return not (
        name.startswith(".") or name.endswith(_NOT_MEASUREMENTS) or name in _INDEX_NAMES
    )


def measurement_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and the measurement files under directories named (sorted)."""
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found = (
                p for p in path.rglob("*") if p.is_file() and _is_measurement_file(p)
            )
            yield from sorted(found)
        else:
            yield path


def _read_file(path: Path, context: _Context) -> Iterator[Measurement]:
    try:
        raw = path.open("rb")
    except OSError as error:
        context.reject(str(path), f"cannot open: {error.strerror or error}")
        return
    with raw:
        try:
            stream = _decompressed(raw)
            yield from _read_stream(stream, str(path), context)
        except _STREAM_ERRORS as error:
            context.reject(str(path), f"unreadable stream: {error}")


def _buffered(stream: IO[bytes]) -> io.BufferedReader:
    """A stream that can ``peek`` (decompressors and tar members may not)."""
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(cast(io.RawIOBase, stream), buffer_size=1 << 16)


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    """Wrap ``raw`` in the decompressor its magic bytes call for."""
    buffered = _buffered(raw)
    magic = buffered.peek(4)[:4]
    if magic.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
    if magic == _ZSTD_MAGIC:
        decompressor = zstandard.ZstdDecompressor()
        return cast(
            IO[bytes], decompressor.stream_reader(buffered, read_across_frames=True)
        )
    if magic == _LZ4_MAGIC:
        return cast(IO[bytes], lz4.frame.LZ4FrameFile(buffered, mode="rb"))
    return buffered


def _peek(stream: IO[bytes]) -> tuple[IO[bytes], bytes]:
    """Look at the first bytes of a stream without consuming them."""
    buffered = _buffered(stream)
    return buffered, buffered.peek(_PEEK)


def _read_stream(
    stream: IO[bytes], location: str, context: _Context
) -> Iterator[Measurement]:
    stream, head = _peek(stream)
    if head[257:262] == b"ustar":
        yield from _read_tar(stream, location, context)
        return
    yield from _read_text(stream, head, location, context)


def _read_text(
    stream: IO[bytes], head: bytes, location: str, context: _Context
) -> Iterator[Measurement]:
    first = head.lstrip()[:1]
    if head.lstrip().startswith(b"---") or (
        first and first not in b"{[" and b": " in head
    ):
        yield from _read_yaml(stream, location, context)
    elif first == b"[":
        yield from _read_array(stream.read(), location, context)
    else:
        yield from _read_jsonl(stream, location, context)


def _read_jsonl(
    stream: IO[bytes], location: str, context: _Context
) -> Iterator[Measurement]:
    """JSONL, falling back to one pretty-printed document if line 1 is partial."""
    stats = context.stats
    for number, line in enumerate(stream, 1):
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            if (
                number == 1
                and line.lstrip().startswith(b"{")
                and not line.rstrip().endswith(b"}")
            ):
                yield from _read_document(line + stream.read(), location, context)
                return
            if line.strip():
                context.reject(f"{location}:{number}", f"invalid JSON: {error}")
            continue
        try:
            check_measurement(doc)
        except MeasurementError as error:
            context.reject(f"{location}:{number}", error.reason)
            continue
        stats.read += 1
        yield Measurement(doc, f"{location}:{number}", line)


def _accepted(
    doc: Any, location: str, context: _Context, uid: str | None = None
) -> Measurement | None:
    """The checked measurement, counted; or None after rejecting it."""
    try:
        check_measurement(doc)
    except MeasurementError as error:
        context.reject(location, error.reason)
        return None
    context.stats.read += 1
    return Measurement(doc, location, None, uid=uid)


def _read_document(
    data: bytes, location: str, context: _Context
) -> Iterator[Measurement]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        context.reject(location, f"invalid JSON: {error}")
        return
    if (measurement := _accepted(doc, location, context)) is not None:
        yield measurement


def _read_array(data: bytes, location: str, context: _Context) -> Iterator[Measurement]:
    try:
        documents = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        context.reject(location, f"invalid JSON: {error}")
        return
    for index, doc in enumerate(documents):
        if (measurement := _accepted(doc, f"{location}[{index}]", context)) is not None:
            yield measurement


def _read_yaml(
    stream: IO[bytes], location: str, context: _Context
) -> Iterator[Measurement]:
    for number, item in enumerate(iter_yaml_report(stream), 1):
        where = f"{location}#entry{number}"
        if isinstance(item, Exception):
            context.reject(where, f"invalid YAML report: {_one_line(item)}")
        elif (measurement := _accepted(item, where, context)) is not None:
            yield measurement


def _read_tar(
    stream: IO[bytes], location: str, context: _Context
) -> Iterator[Measurement]:
    """Cans and postcans, read in stream mode (no seeking, flat memory)."""
    member_name = "(header)"
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed by the caller's stream
        for member in archive:
            member_name = member.name
            if not member.isfile():
                continue
            where = f"{location}:{member.name}"
            member_file = archive.extractfile(member)
            if member_file is None:
                continue
            yield from _read_member(member.name, member_file, where, context)
    except _STREAM_ERRORS as error:
        context.reject(
            f"{location}:{member_name}", f"truncated or corrupt archive: {error}"
        )


def _read_member(
    name: str, member: IO[bytes], location: str, context: _Context
) -> Iterator[Measurement]:
    if name.endswith(".post"):
        yield from _read_post(name, member.read(), location, context)
    elif name.endswith((".yaml", ".yml")):
        yield from _read_yaml(member, location, context)
    else:
        stream = _decompressed(member)  # a member may itself be compressed
        yield from _read_stream(stream, location, context)


def _read_post(
    name: str, data: bytes, location: str, context: _Context
) -> Iterator[Measurement]:
    """A postcan member: the raw POST body, named ``<measurement_uid>.post``."""
    uid = name.rsplit("/", 1)[-1].removesuffix(".post")
    try:
        body: Any = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        context.reject(location, f"invalid JSON: {error}")
        return
    if not isinstance(body, dict) or "content" not in body:
        context.reject(location, "a .post body must be an object with 'content'")
        return
    if body.get("format", "json") != "json":
        context.reject(location, f"unsupported post format {body.get('format')!r}")
        return
    if (measurement := _accepted(body["content"], location, context, uid)) is not None:
        yield measurement


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
