"""The warehouse interface every backend implements, and the values it exchanges.

Callers (ingest, the live sink, rescore, the API, the explorer, the change
detector) depend on :class:`Warehouse` only, so that a ClickHouse backend can
replace DuckDB without touching them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from censorscope.warehouse.schema import Row

# Dimensions :meth:`Warehouse.aggregate` may group by, with their SQL.
DIMENSIONS: Final = {
    "day": "CAST(date_trunc('day', measurement_start_time) AS DATE)",
    "probe_cc": "probe_cc",
    "probe_asn": "probe_asn",
    "test_name": "test_name",
    "domain": "domain",
    "input": "input",
    "category_code": "category_code",
    "blocking": "blocking",
}


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or used (locked, corrupt, bad query)."""


class WarehouseBusyError(WarehouseError):
    """Another process kept the warehouse locked longer than this one would wait."""

    def __init__(self, path: str, holder: str, waited: float) -> None:
        super().__init__(
            f"warehouse {path} is locked by {holder}; gave up after {waited:.1f} s"
        )
        self.path = path
        self.holder = holder
        self.waited = waited


@dataclass(frozen=True, slots=True)
class FileState:
    """How far the ingestion of one input file went."""

    path: str
    size: int
    mtime_ns: int
    records_done: int
    rejects: int
    completed: bool
    rules_version: str
    fingerprints_version: str


@dataclass(frozen=True, slots=True)
class MeasurementFilter:
    """Conditions on measurements; ``None`` means no condition."""

    probe_cc: str | None = None
    probe_asn: int | None = None
    test_name: str | None = None
    domain: str | None = None
    input: str | None = None
    category_code: str | None = None
    report_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    anomaly: bool | None = None
    confirmed: bool | None = None
    failure: bool | None = None
    blocking: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """A WHERE clause (or '') and its bound parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for name in _EQUALITY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{name} = ${name}")
                params[name] = value
        if self.since is not None:
            clauses.append("measurement_start_time >= $since")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("measurement_start_time < $until")
            params["until"] = self.until
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


_EQUALITY_FIELDS: Final = (
    "probe_cc",
    "probe_asn",
    "test_name",
    "domain",
    "input",
    "category_code",
    "report_id",
    "anomaly",
    "confirmed",
    "failure",
    "blocking",
)


class Warehouse(Protocol):
    """Analytical store of scored measurements, one row per measurement_uid.

    A store opens the underlying database for each call and closes it after,
    so that several processes can take turns on one warehouse; ``session()``
    keeps it open over several calls (and keeps others out meanwhile).
    """

    def session(self) -> AbstractContextManager[None]:
        """Keep the warehouse open, and its lock held, until the block ends."""
        ...

    def upsert_many(self, rows: Sequence[Row], files: Sequence[FileState] = ()) -> int:
        """Insert or replace rows (by uid) and record file progress, atomically."""
        ...

    def get(self, uid: str) -> dict[str, Any] | None:
        """One measurement row as a dict, or None."""
        ...

    def search(
        self,
        where: MeasurementFilter | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        """Rows matching ``where``, ordered by start time."""
        ...

    def count(self, where: MeasurementFilter | None = None) -> int: ...

    def aggregate(
        self, dimensions: Sequence[str], where: MeasurementFilter | None = None
    ) -> list[dict[str, Any]]:
        """Counts (measurement, anomaly, confirmed, failure, ok) per dimension value."""
        ...

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """Run a read-only SQL statement with bound parameters."""
        ...

    def iter_rows(
        self, sql: str, params: dict[str, Any], batch: int = 10_000
    ) -> Iterator[Row]:
        """Stream the rows of a query without loading them all."""
        ...

    def file_state(self, path: str) -> FileState | None: ...

    def file_states(self) -> dict[str, FileState]:
        """Every file's ingestion progress, by path (one read for a whole plan)."""
        ...

    def record_files(self, files: Sequence[FileState]) -> None: ...

    def stale_sources(
        self, rules_version: str, fingerprints_version: str
    ) -> dict[str, int]:
        """Sources with verdicts from other rules/fingerprints, and how many."""
        ...

    def stale_uids(
        self, source: str, rules_version: str, fingerprints_version: str
    ) -> Iterator[str]: ...

    def compact(self) -> None:
        """Rewrite the table in sort-key order (after many small inserts)."""
        ...

    def close(self) -> None: ...
