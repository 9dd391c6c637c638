"""The SQLite index of the archive: uid -> (object, byte offset, frame length).

It also maps each measurement's content hash to its uid, which is how a
re-submitted measurement is recognised.  The index is derived data: the
files are the truth and :meth:`Archive.reindex` rebuilds it from them.
One connection, guarded by a lock, serves every thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

_SCHEMA: Final = resources.files(__package__).joinpath("index.sql").read_text()
# SQLite's default limit on bound parameters is well above this.
_LOOKUP_CHUNK: Final = 500


@dataclass(frozen=True)
class Location:
    """Where one measurement's frame is stored."""

    object_key: str
    offset: int
    length: int
    line: int


@dataclass(frozen=True)
class IndexEntry:
    """One row of the index."""

    measurement_uid: str
    content_hash: str
    location: Location
    report_id: str | None
    probe_cc: str
    test_name: str


@dataclass(frozen=True)
class ObjectSummary:
    """An archive object with how many indexed measurements it holds."""

    object_key: str
    size: int
    measurements: int


class ArchiveIndex:
    """Lookups and inserts on the index database at ``path``."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        uri = f"file:{path}?mode={'ro' if read_only else 'rwc'}"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        if not read_only:
            # FULL: a committed row survives power loss (WAL fsync per commit).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def uids_for_hashes(
        self, hashes: Iterable[str]
    ) -> dict[str, tuple[str, str | None]]:
        """``content_hash -> (uid, report_id)`` for the hashes already indexed."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, tuple[str, str | None]] = {}
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT content_hash, measurement_uid, report_id FROM measurements"
                    f" WHERE content_hash IN ({marks})",
                    chunk,
                )
                found.update((row[0], (row[1], row[2])) for row in rows)
        return found

    def insert(self, entries: Sequence[IndexEntry]) -> int:
        """Add entries (existing uids or hashes are kept); return rows added."""
        rows = [
            (
                e.measurement_uid,
                e.content_hash,
                e.location.object_key,
                e.location.offset,
                e.location.length,
                e.location.line,
                e.report_id,
                e.probe_cc,
                e.test_name,
            )
            for e in entries
        ]
        with self._lock, self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO measurements VALUES (?,?,?,?,?,?,?,?,?)", rows
            )
            return self._db.total_changes - before

    def locate(self, uid: str) -> Location | None:
        with self._lock:
            row = self._db.execute(
                "SELECT object_key, frame_offset, frame_length, line"
                " FROM measurements WHERE measurement_uid = ?",
                (uid,),
            ).fetchone()
        return None if row is None else Location(*row)

    def counts_by_object(self, prefix: str) -> dict[str, int]:
        """Indexed measurements per object whose key starts with ``prefix``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT object_key, count(*) FROM measurements"
                " WHERE object_key >= ? AND object_key < ? GROUP BY object_key",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        return dict(rows)

    def count(self) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT count(*) FROM measurements").fetchone()[0]
            )

    def objects_indexed(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT object_key FROM measurements")
            return {row[0] for row in rows}
