"""The DuckDB warehouse: one file, no server.

Bulk loads pass one Python list per column as a bound parameter and let
DuckDB zip them with ``unnest``: no per-row statement, no Arrow or pandas.
Replacing by uid deletes the batch's uids within its time range first (see
``sql/delete_batch.sql``).  Measured on this machine with one DuckDB thread
and real rows (~0.5 KB of JSON each): 25-30k rows/s, steady as the table
grows; ``INSERT OR REPLACE`` on a uid primary key gave 10-22k rows/s and an
index held in memory, ``executemany`` ~200 rows/s.

DuckDB allows one writing process per file; within a process the store is
shared between threads behind a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import duckdb

from censorscope.warehouse.base import (
    DIMENSIONS,
    FileState,
    MeasurementFilter,
    WarehouseError,
)
from censorscope.warehouse.schema import (
    COLUMN_INDEX,
    COLUMN_NAMES,
    SORT_KEY,
    Row,
    create_table_sql,
    insert_sql,
)

logger = logging.getLogger(__name__)

_SORT_INDEXES: Final = tuple(COLUMN_INDEX[name] for name in SORT_KEY)
_UID: Final = COLUMN_INDEX["measurement_uid"]
_START: Final = COLUMN_INDEX["measurement_start_time"]


def _sql(name: str) -> str:
    return resources.files("censorscope.warehouse").joinpath("sql", name).read_text()


def _sort_key(row: Row) -> tuple[str, str, str]:
    start, cc, test = (row[index] for index in _SORT_INDEXES)
    return (start or "", cc or "", test or "")


class DuckDBWarehouse:
    """:class:`~censorscope.warehouse.base.Warehouse` on a DuckDB file."""

    def __init__(
        self, path: str | Path, *, read_only: bool = False, threads: int | None = None
    ) -> None:
        self.path = str(path)
        config: dict[str, Any] = {}
        if threads is not None:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as error:
            raise WarehouseError(
                f"cannot open warehouse {self.path}: {error}"
            ) from error
        self._lock = threading.RLock()
        self._insert = insert_sql()
        self._delete = _sql("delete_batch.sql")
        self._delete_untimed = _sql("delete_batch_untimed.sql")
        if not read_only:
            self._con.execute(create_table_sql())
            self._con.execute(_sql("bookkeeping.sql"))

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Writing -----------------------------------------------------------------

    def upsert_many(self, rows: Sequence[Row], files: Sequence[FileState] = ()) -> int:
        """Insert or replace ``rows`` by uid and record ``files``, in one transaction.

        Rows are deduplicated by uid (last wins) and sorted by the table's
        sort key before insertion.  Start times must be canonical text
        (``YYYY-mm-dd HH:MM:SS``) or None, as :func:`build_row` makes them.
        """
        unique = list({row[_UID]: row for row in rows}.values()) if rows else []
        unique.sort(key=_sort_key)
        with self._lock:
            self._con.begin()
            try:
                if unique:
                    self._replace(unique)
                self._record_files(files)
                self._con.commit()
            except duckdb.Error as error:
                self._con.rollback()
                raise WarehouseError(f"cannot write to {self.path}: {error}") from error
        return len(unique)

    def _replace(self, rows: list[Row]) -> None:
        columns = [list(column) for column in zip(*rows, strict=True)]
        timed = [row[_UID] for row in rows if row[_START] is not None]
        untimed = [row[_UID] for row in rows if row[_START] is None]
        if timed:
            times = [row[_START] for row in rows if row[_START] is not None]
            bounds = {"first": min(times), "last": max(times), "uids": timed}
            self._con.execute(self._delete, bounds)
        if untimed:
            self._con.execute(self._delete_untimed, {"uids": untimed})
        self._con.execute(self._insert, columns)

    def record_files(self, files: Sequence[FileState]) -> None:
        with self._lock:
            self._record_files(files)

    def _record_files(self, files: Sequence[FileState]) -> None:
        statement = _sql("record_file.sql")
        for state in files:
            self._con.execute(
                statement,
                {
                    "path": state.path,
                    "size": state.size,
                    "mtime_ns": state.mtime_ns,
                    "records_done": state.records_done,
                    "rejects": state.rejects,
                    "completed": state.completed,
                    "rules_version": state.rules_version,
                    "fingerprints_version": state.fingerprints_version,
                },
            )

    def compact(self) -> None:
        """Rewrite the measurements table in sort-key order."""
        order = ", ".join(SORT_KEY)
        with self._lock:
            self._con.begin()
            self._con.execute(create_table_sql("measurements_sorted"))
            self._con.execute(
                "INSERT INTO measurements_sorted"
                f" SELECT * FROM measurements ORDER BY {order}"
            )
            self._con.execute("DROP TABLE measurements")
            self._con.execute("ALTER TABLE measurements_sorted RENAME TO measurements")
            self._con.commit()
            self._con.execute("CHECKPOINT")

    # Reading -----------------------------------------------------------------

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cursor = self._con.execute(sql, params)
            except duckdb.Error as error:
                raise WarehouseError(f"query failed: {error}") from error
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def iter_rows(
        self, sql: str, params: dict[str, Any], batch: int = 10_000
    ) -> Iterator[Row]:
        # A cursor of its own so that writes may interleave with the stream.
        with self._lock:
            cursor = self._con.cursor()
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(batch):
            yield from chunk
        cursor.close()

    def get(self, uid: str) -> dict[str, Any] | None:
        rows = self.query(_sql("get_measurement.sql"), {"uid": uid})
        return rows[0] if rows else None

    def search(
        self,
        where: MeasurementFilter | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        clause, params = (where or MeasurementFilter()).where()
        direction = "DESC" if newest_first else "ASC"
        params.update(limit=limit, offset=offset)
        sql = (
            f"SELECT * FROM measurements {clause} "
            f"ORDER BY measurement_start_time {direction}, measurement_uid "
            "LIMIT $limit OFFSET $offset"
        )
        return self.query(sql, params)

    def count(self, where: MeasurementFilter | None = None) -> int:
        clause, params = (where or MeasurementFilter()).where()
        rows = self.query(f"SELECT count(*) AS n FROM measurements {clause}", params)
        return int(rows[0]["n"])

    def aggregate(
        self, dimensions: Sequence[str], where: MeasurementFilter | None = None
    ) -> list[dict[str, Any]]:
        unknown = [name for name in dimensions if name not in DIMENSIONS]
        if unknown:
            raise WarehouseError(f"cannot group by {', '.join(unknown)}")
        clause, params = (where or MeasurementFilter()).where()
        keys = [f"{DIMENSIONS[name]} AS {name}" for name in dimensions]
        group = f"GROUP BY {', '.join(dimensions)} ORDER BY {', '.join(dimensions)}"
        sql = f"SELECT {', '.join([*keys, _COUNTS])} FROM measurements {clause} " + (
            group if dimensions else ""
        )
        return self.query(sql, params)

    # Bookkeeping -------------------------------------------------------------

    def file_state(self, path: str) -> FileState | None:
        rows = self.query(_sql("file_state.sql"), {"path": path})
        return FileState(**rows[0]) if rows else None

    def stale_sources(
        self, rules_version: str, fingerprints_version: str
    ) -> dict[str, int]:
        params = {
            "rules_version": rules_version,
            "fingerprints_version": fingerprints_version,
        }
        rows = self.query(_sql("stale_sources.sql"), params)
        return {row["source"]: int(row["stale"]) for row in rows}

    def stale_uids(
        self, source: str, rules_version: str, fingerprints_version: str
    ) -> Iterator[str]:
        params = {
            "source": source,
            "rules_version": rules_version,
            "fingerprints_version": fingerprints_version,
        }
        for row in self.iter_rows(_sql("stale_uids.sql"), params):
            yield str(row[0])

    def table_digest(self) -> list[tuple[Any, ...]]:
        """Every measurement row in uid order (for tests comparing warehouses)."""
        with self._lock:
            names = ", ".join(COLUMN_NAMES)
            return self._con.execute(
                f"SELECT {names} FROM measurements ORDER BY measurement_uid"
            ).fetchall()


# The same partition of counts as OONI's aggregation API.
_COUNTS: Final = (
    "count(*) AS measurement_count, "
    "count(*) FILTER (WHERE anomaly AND NOT confirmed AND NOT failure)"
    " AS anomaly_count, "
    "count(*) FILTER (WHERE confirmed AND NOT failure) AS confirmed_count, "
    "count(*) FILTER (WHERE failure) AS failure_count, "
    "count(*) FILTER (WHERE NOT anomaly AND NOT failure) AS ok_count"
)
