"""The report ids this collector issued, in SQLite beside the archive.

Opening a report commits before the id is handed out, so a collector that
restarts still accepts every id it gave.  Closing only records the time: a
probe that retries a submission after closing is still accepted, because
refusing it would lose a measurement for no gain.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Final

from censorscope.collector.validation import ReportMeta

REPORTS_NAME: Final = "reports.sqlite3"
_SCHEMA: Final = resources.files(__package__).joinpath("reports.sql").read_text()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReportRegistry:
    """Issued report ids; every method is safe from any thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def open(self, report_id: str, meta: ReportMeta) -> None:
        """Record a newly issued id (durable when this returns)."""
        row = (
            report_id,
            _now(),
            meta.probe_cc,
            meta.probe_asn,
            meta.test_name,
            meta.software_name,
            meta.software_version,
            meta.test_version,
            meta.test_start_time,
        )
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO reports (report_id, opened, probe_cc, probe_asn,"
                " test_name, software_name, software_version, test_version,"
                " test_start_time)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                row,
            )

    def is_known(self, report_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM reports WHERE report_id = ?", (report_id,)
            ).fetchone()
        return row is not None

    def close_report(self, report_id: str) -> bool:
        """Record that the probe closed the report; False if the id is unknown."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "UPDATE reports SET closed = coalesce(closed, ?) WHERE report_id = ?",
                (_now(), report_id),
            )
        return cursor.rowcount > 0

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM reports").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
