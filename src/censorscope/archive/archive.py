"""The archive: durable, deduplicated, append-only storage of measurements.

:meth:`Archive.store` writes a batch of measurements as compressed JSONL
frames (each line the measurement with its ``measurement_uid``), makes the
bytes durable, then records them in the index; only then are they reported
stored.  A measurement whose content was stored before is not written again:
the earlier uid is returned.  Content identity ignores ``report_id`` and
``measurement_uid``, so a probe that resubmits under a new report is
recognised too.

Writes come from one thread at a time (see :mod:`.writer`); reads
(:meth:`get`, :meth:`locate`, :meth:`objects`) are safe from any thread.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from censorscope.archive.framing import Codec, Frame, FramingError, codec_for
from censorscope.archive.index import ArchiveIndex, IndexEntry, Location, ObjectSummary
from censorscope.archive.layout import (
    RAW_PREFIX,
    SegmentName,
    path_country,
    path_test_name,
    upload_hour,
)
from censorscope.archive.storage import FilesystemStorage, StorageBackend
from censorscope.measurement.ids import new_measurement_uid

logger = logging.getLogger(__name__)

INDEX_NAME: Final = "index.sqlite3"
# OONI's uploader closes a postcan past ~20 MB; same order of magnitude here.
DEFAULT_MAX_FILE_BYTES: Final = 20_000_000
_NOT_CONTENT: Final = frozenset({"report_id", "measurement_uid"})
_HASH_CHARS: Final = 32

_Slot = tuple[datetime, str, str]


class ArchiveError(RuntimeError):
    """The archive cannot do what was asked (missing, damaged, unreadable)."""


def canonical_content(doc: dict[str, Any]) -> bytes:
    """The bytes that identify a measurement's content.

    Keys sorted at every level, compact; ``report_id`` and
    ``measurement_uid`` left out because a resubmission may change them.
    """
    content = {k: v for k, v in doc.items() if k not in _NOT_CONTENT}
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def content_digest(doc: dict[str, Any]) -> str:
    """The content hash the archive deduplicates on (128 bits of sha512, hex)."""
    return hashlib.sha512(canonical_content(doc)).hexdigest()[:_HASH_CHARS]


@dataclass(frozen=True)
class Submission:
    """A measurement ready to be stored, with its candidate uid and hash."""

    doc: dict[str, Any]
    measurement_uid: str
    content_hash: str
    received: datetime

    @classmethod
    def prepare(
        cls, doc: dict[str, Any], received: datetime | None = None
    ) -> Submission:
        """Compute the uid (OONI's format, hashing the canonical content)."""
        received = received or datetime.now(UTC)
        canonical = canonical_content(doc)
        probe_cc = path_country(doc.get("probe_cc"))
        test_name = str(doc.get("test_name") or "unknown")
        uid = new_measurement_uid(canonical, probe_cc, test_name, received=received)
        digest = hashlib.sha512(canonical).hexdigest()[:_HASH_CHARS]
        return cls(doc, uid, digest, received)


@dataclass(frozen=True)
class Stored:
    """The outcome of storing one submission.

    ``duplicate`` means the content was already archived: ``measurement_uid``
    and ``report_id`` are then those of the earlier copy and ``doc`` is None.
    Otherwise ``doc`` is the stored document (with its uid).
    """

    measurement_uid: str
    duplicate: bool
    report_id: str | None
    doc: dict[str, Any] | None


@dataclass
class ReindexReport:
    """What :meth:`Archive.reindex` found."""

    objects: int = 0
    frames: int = 0
    added: int = 0
    skipped: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)


@dataclass
class _OpenSegment:
    name: SegmentName
    size: int = 0
    lines: int = 0


class Archive:
    """An archive rooted at a directory (index there, objects in ``backend``).

    ``backend`` defaults to files under ``root``.  ``compression`` is ``zst``
    or ``gz``.  Files rotate by upload hour and when the next frame would
    take one past ``max_file_bytes``.  ``read_only`` opens an existing
    archive for lookups without creating anything.
    """

    def __init__(
        self,
        root: Path,
        *,
        backend: StorageBackend | None = None,
        collector_id: int = 1,
        compression: str = "zst",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_open_files: int = 256,
        read_only: bool = False,
    ) -> None:
        self.root = root
        self._index = self._open_index(root, read_only)
        self._backend = backend or FilesystemStorage(root)
        self._codec: Codec = codec_for(compression)
        self._collector_id = collector_id
        self._max_file_bytes = max_file_bytes
        self._max_open_files = max_open_files
        self._segments: OrderedDict[_Slot, _OpenSegment] = OrderedDict()
        self._counters: dict[_Slot, int] = {}
        self._hour: datetime | None = None

    @staticmethod
    def _open_index(root: Path, read_only: bool) -> ArchiveIndex:
        path = root / INDEX_NAME
        if read_only and not path.is_file():
            raise ArchiveError(f"no archive at {root} (missing {INDEX_NAME})")
        if not read_only:
            root.mkdir(parents=True, exist_ok=True)
        return ArchiveIndex(path, read_only=read_only)

    def close(self) -> None:
        """Seal open files and close the index."""
        self._backend.close()
        self._segments.clear()
        self._index.close()

    # -- writing -------------------------------------------------------------

    def store(self, submissions: Sequence[Submission]) -> list[Stored]:
        """Store a batch durably; return one outcome per submission, in order.

        Order of durability: frames are written and synced before their index
        rows commit, so an indexed measurement is always readable.  A crash
        in between leaves frames that :meth:`reindex` recovers.
        """
        # Shortcoming: the duplicate check and the insert are atomic only
        # within this process; two collectors sharing one index could both
        # store the same content (the index then keeps one, reindex too).
        known = self._index.uids_for_hashes(s.content_hash for s in submissions)
        outcomes: list[Stored] = []
        entries: list[IndexEntry] = []
        for submission in submissions:
            earlier = known.get(submission.content_hash)
            if earlier is not None:
                outcomes.append(Stored(earlier[0], True, earlier[1], None))
                continue
            entry, doc = self._append(submission)
            known[submission.content_hash] = (entry.measurement_uid, entry.report_id)
            entries.append(entry)
            outcomes.append(Stored(entry.measurement_uid, False, entry.report_id, doc))

        if entries:
            self._backend.sync()
            self._index.insert(entries)
        return outcomes

    def _append(self, submission: Submission) -> tuple[IndexEntry, dict[str, Any]]:
        doc = {**submission.doc, "measurement_uid": submission.measurement_uid}
        frame = self._codec.compress(orjson.dumps(doc) + b"\n")
        segment = self._segment_for(submission, len(frame))
        key = segment.name.key
        offset = self._backend.append(key, frame)
        location = Location(key, offset, len(frame), segment.lines)
        segment.size += len(frame)
        segment.lines += 1
        report_id = doc.get("report_id")
        entry = IndexEntry(
            measurement_uid=submission.measurement_uid,
            content_hash=submission.content_hash,
            location=location,
            report_id=report_id if isinstance(report_id, str) else None,
            probe_cc=segment.name.probe_cc,
            test_name=segment.name.test_name,
        )
        return entry, doc

    def _segment_for(self, submission: Submission, frame_size: int) -> _OpenSegment:
        hour = upload_hour(submission.received)
        self._seal_hours_before(hour)
        doc = submission.doc
        slot = (
            hour,
            path_country(doc.get("probe_cc")),
            path_test_name(doc.get("test_name")),
        )
        segment = self._segments.get(slot)
        if (
            segment
            and segment.lines
            and segment.size + frame_size > self._max_file_bytes
        ):
            self._seal(slot)
            segment = None
        if segment is None:
            segment = self._open_segment(slot)
        self._segments.move_to_end(slot)
        # Evicting the least recently used file ends it; its slot's next
        # measurement starts a new file.  With a bound well above the number
        # of country/test pairs active in an hour this is rare.
        while len(self._segments) > self._max_open_files:
            self._seal(next(iter(self._segments)))
        return segment

    def _open_segment(self, slot: _Slot) -> _OpenSegment:
        counter = self._counters.get(slot)
        if counter is None:
            counter = self._first_free_counter(slot)
        self._counters[slot] = counter + 1
        hour, probe_cc, test_name = slot
        name = SegmentName(
            hour, probe_cc, test_name, self._collector_id, counter, self._codec.suffix
        )
        segment = _OpenSegment(name)
        self._segments[slot] = segment
        logger.debug("archive file %s opened", name.key)
        return segment

    def _first_free_counter(self, slot: _Slot) -> int:
        # A restarted collector never appends to a file of an earlier run, so
        # a frame cut short by a crash stays at the end of its own file.
        hour, probe_cc, test_name = slot
        probe = SegmentName(hour, probe_cc, test_name, self._collector_id, 0, "")
        counters = [
            name.counter
            for stored in self._backend.list(probe.directory)
            if (name := SegmentName.parse(stored.key))
            and name.collector_id == self._collector_id
        ]
        return max(counters, default=-1) + 1

    def _seal(self, slot: _Slot) -> None:
        segment = self._segments.pop(slot)
        self._backend.seal(segment.name.key)
        logger.debug(
            "archive file %s sealed (%d lines)", segment.name.key, segment.lines
        )

    def _seal_hours_before(self, hour: datetime) -> None:
        if self._hour is not None and hour <= self._hour:
            return
        self._hour = hour
        for slot in [s for s in self._segments if s[0] < hour]:
            self._seal(slot)
        self._counters = {s: c for s, c in self._counters.items() if s[0] >= hour}

    # -- reading -------------------------------------------------------------

    def locate(self, uid: str) -> Location | None:
        """Where the measurement with ``uid`` is stored, if it is."""
        return self._index.locate(uid)

    def get_line(self, uid: str) -> bytes | None:
        """The stored JSON line (with trailing newline) of ``uid``, if any."""
        location = self._index.locate(uid)
        if location is None:
            return None
        frame = self._backend.get_range(
            location.object_key, location.offset, location.length
        )
        if len(frame) != location.length:
            raise ArchiveError(
                f"{location.object_key} is shorter than its index says"
                f" (frame of {uid} at {location.offset})"
            )
        try:
            return _codec_of(location.object_key).decompress(frame)
        except FramingError as error:
            raise ArchiveError(
                f"{location.object_key}@{location.offset}: {error}"
            ) from error

    def get(self, uid: str) -> dict[str, Any] | None:
        """The stored measurement ``uid`` (with its ``measurement_uid``), if any."""
        line = self.get_line(uid)
        return None if line is None else orjson.loads(line)

    def objects(self, prefix: str = RAW_PREFIX) -> list[ObjectSummary]:
        """Archive files under ``prefix`` with size and indexed measurement count."""
        counts = self._index.counts_by_object(prefix)
        return [
            ObjectSummary(stored.key, stored.size, counts.get(stored.key, 0))
            for stored in self._backend.list(prefix)
            if SegmentName.parse(stored.key) is not None
        ]

    def frames(self, key: str) -> Iterator[Frame]:
        """The frames of one archive file, in order (lines decompressed)."""
        return _codec_of(key).frames(self._backend.get_range(key))

    def count(self) -> int:
        """Measurements in the index."""
        return self._index.count()

    # -- recovery ------------------------------------------------------------

    def reindex(self) -> ReindexReport:
        """Add to the index every stored frame it lacks (idempotent).

        Meant for a stopped collector (or one whose open files are synced): a
        frame cut short at the end of a file is reported as damaged.
        """
        report = ReindexReport()
        for stored in self._backend.list(RAW_PREFIX):
            if SegmentName.parse(stored.key) is None:
                report.skipped.append(stored.key)
                continue
            report.objects += 1
            entries = self._entries_in(stored.key, report)
            report.frames += len(entries)
            report.added += self._index.insert(entries)
        return report

    def _entries_in(self, key: str, report: ReindexReport) -> list[IndexEntry]:
        name = SegmentName.parse(key)
        if name is None:
            return []
        entries: list[IndexEntry] = []
        try:
            for line, frame in enumerate(self.frames(key)):
                entry = _entry_from_frame(key, name, line, frame)
                if entry is None:
                    report.damaged.append(f"{key}@{frame.offset}: line without uid")
                else:
                    entries.append(entry)
        except FramingError as error:
            report.damaged.append(f"{key}: {error}")
        return entries


def _codec_of(key: str) -> Codec:
    return codec_for(key.rsplit(".", 1)[-1])


def _entry_from_frame(
    key: str, name: SegmentName, line: int, frame: Frame
) -> IndexEntry | None:
    try:
        doc = orjson.loads(frame.data)
    except orjson.JSONDecodeError:
        return None
    uid = doc.get("measurement_uid") if isinstance(doc, dict) else None
    if not isinstance(uid, str):
        return None
    report_id = doc.get("report_id")
    return IndexEntry(
        measurement_uid=uid,
        content_hash=content_digest(doc),
        location=Location(key, frame.offset, frame.length, line),
        report_id=report_id if isinstance(report_id, str) else None,
        probe_cc=name.probe_cc,
        test_name=name.test_name,
    )
