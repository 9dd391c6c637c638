"""The DuckDB warehouse: one file, no server.

Bulk loads pass one Python list per column as a bound parameter and let
DuckDB zip them with ``unnest``: no per-row statement, no Arrow or pandas.
Replacing by uid deletes the batch's uids within its time range first (see
``sql/delete_batch.sql``).  Measured on this machine with one DuckDB thread
and real rows (~0.5 KB of JSON each): 25-30k rows/s, steady as the table
grows; ``INSERT OR REPLACE`` on a uid primary key gave 10-22k rows/s and an
index held in memory, ``executemany`` ~200 rows/s.

DuckDB allows one writing process per file.  So that ingest, rescore, the
collector's live sink and the readers can share one file, a store holds it
open only for one call (or one :meth:`DuckDBWarehouse.session`): it attaches
the file to its own in-memory DuckDB instance, does the work, commits and
detaches it, which checkpoints and releases DuckDB's file lock; a refused
attach is retried (:mod:`.locking`).  Attaching and detaching cost ~2 ms on
a 1.6M-row (200 MB) file, plus the checkpoint after a write (~15-25 ms for a
2,000-row batch); ``duckdb.connect`` and ``close`` on the file cost ~20 ms
more (creating a database instance), hence the instance kept per store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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
from censorscope.warehouse.locking import (
    READ_TIMEOUT,
    WRITE_TIMEOUT,
    open_file,
    process_lock,
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
_ALIAS: Final = "warehouse"  # the attached file's catalog name


def _sql(name: str) -> str:
    return resources.files("censorscope.warehouse").joinpath("sql", name).read_text()


def _sort_key(row: Row) -> tuple[str, str, str]:
    start, cc, test = (row[index] for index in _SORT_INDEXES)
    return (start or "", cc or "", test or "")


class DuckDBWarehouse:
    """:class:`~censorscope.warehouse.base.Warehouse` on a DuckDB file.

    Each call opens the file (waiting up to ``busy_timeout`` seconds while
    another process holds it: 60 s for writing, 10 s read-only), runs, and
    closes it.  Constructing the store opens it once to check it (and, for
    writing, to create the tables), so a missing or corrupt file fails here.
    Thread-safe: the threads of a process take turns on the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        threads: int | None = None,
        busy_timeout: float | None = None,
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        default = READ_TIMEOUT if read_only else WRITE_TIMEOUT
        self.busy_timeout = default if busy_timeout is None else busy_timeout
        config: dict[str, Any] = {} if threads is None else {"threads": threads}
        # The engine the file is attached to for each call (see the module doc).
        self._engine = duckdb.connect(":memory:", config=config)
        quoted = self.path.replace("'", "''")
        options = " (READ_ONLY)" if read_only else ""
        self._attach = f"ATTACH '{quoted}' AS {_ALIAS}{options}"
        self._lock = process_lock(self.path)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._owner: int | None = None  # thread inside a session
        self._closed = False
        self._insert = insert_sql()
        self._delete = _sql("delete_batch.sql")
        self._delete_untimed = _sql("delete_batch_untimed.sql")
        try:
            self._create()
        except WarehouseError:
            self._engine.close()
            raise

    def _create(self) -> None:
        with self._session() as con:
            if not self.read_only:
                con.execute(create_table_sql())
                con.execute(_sql("bookkeeping.sql"))

    def close(self) -> None:
        """Release the store's engine; the file is not held between calls anyway."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._engine.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep the file open (and other processes out) for the whole block.

        For a run of small calls (planning an ingest reads one bookkeeping
        row per file); keep it short, as every other writer and reader waits.
        """
        with self._session():
            yield

    @contextmanager
    def _session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The engine with the file attached, attached here (and detached after)."""
        me = threading.get_ident()
        if self._con is not None and self._owner == me:
            yield self._con  # a call inside session(): the file is attached
            return
        open_file(self.path, self._open, timeout=self.busy_timeout, lock=self._lock)
        try:
            self._con, self._owner = self._engine, me
            yield self._engine
        except BaseException:
            _abandon(self._engine)  # else DETACH fails and the file stays locked
            raise
        finally:
            self._con, self._owner = None, None
            try:
                self._detach()
            finally:
                self._lock.release()

    def _open(self) -> None:
        if self._closed:
            raise WarehouseError(f"warehouse {self.path} is closed")
        self._engine.execute(self._attach)
        try:
            self._engine.execute(f"USE {_ALIAS}")
        except duckdb.Error:
            self._engine.execute(f"DETACH {_ALIAS}")  # never keep the lock
            raise

    def _detach(self) -> None:
        """Detach (and so checkpoint and unlock) the file."""
        try:
            self._engine.execute("USE memory")
            self._engine.execute(f"DETACH {_ALIAS}")
        except duckdb.Error as error:
            message = f"cannot close warehouse {self.path}: {error}"
            raise WarehouseError(message) from error

    # Writing -----------------------------------------------------------------

    def upsert_many(self, rows: Sequence[Row], files: Sequence[FileState] = ()) -> int:
        """Insert or replace ``rows`` by uid and record ``files``, in one transaction.

        Rows are deduplicated by uid (last wins) and sorted by the table's
        sort key before insertion.  Start times must be canonical text
        (``YYYY-mm-dd HH:MM:SS``) or None, as :func:`build_row` makes them.
        """
        unique = list({row[_UID]: row for row in rows}.values()) if rows else []
        unique.sort(key=_sort_key)
        with self._session() as con:
            con.begin()
            try:
                if unique:
                    self._replace(con, unique)
                self._record_files(con, files)
                con.commit()
            except duckdb.Error as error:
                con.rollback()
                raise WarehouseError(f"cannot write to {self.path}: {error}") from error
        return len(unique)

    def _replace(self, con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
        columns = [list(column) for column in zip(*rows, strict=True)]
        timed = [row[_UID] for row in rows if row[_START] is not None]
        untimed = [row[_UID] for row in rows if row[_START] is None]
        if timed:
            times = [row[_START] for row in rows if row[_START] is not None]
            bounds = {"first": min(times), "last": max(times), "uids": timed}
            con.execute(self._delete, bounds)
        if untimed:
            con.execute(self._delete_untimed, {"uids": untimed})
        con.execute(self._insert, columns)

    def record_files(self, files: Sequence[FileState]) -> None:
        with self._session() as con:
            try:
                self._record_files(con, files)
            except duckdb.Error as error:
                raise WarehouseError(f"cannot write to {self.path}: {error}") from error

    def _record_files(
        self, con: duckdb.DuckDBPyConnection, files: Sequence[FileState]
    ) -> None:
        statement = _sql("record_file.sql")
        for state in files:
            con.execute(
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
        with self._session() as con:
            con.begin()
            con.execute(create_table_sql("measurements_sorted"))
            con.execute(
                "INSERT INTO measurements_sorted"
                f" SELECT * FROM measurements ORDER BY {order}"
            )
            con.execute("DROP TABLE measurements")
            con.execute("ALTER TABLE measurements_sorted RENAME TO measurements")
            con.commit()
            con.execute("CHECKPOINT")

    # Reading -----------------------------------------------------------------

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        with self._session() as con:
            try:
                cursor = con.execute(sql, params)
            except duckdb.Error as error:
                raise WarehouseError(f"query failed: {error}") from error
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def iter_rows(
        self, sql: str, params: dict[str, Any], batch: int = 10_000
    ) -> Iterator[Row]:
        """Stream a query; the file stays open (locked) until the stream ends."""
        with self._session() as con:
            # A cursor of its own so that writes may interleave with the stream.
            cursor = con.cursor()
            try:
                cursor.execute(f"USE {_ALIAS}")
                cursor.execute(sql, params)
                while chunk := cursor.fetchmany(batch):
                    yield from chunk
            finally:
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

    def file_states(self) -> dict[str, FileState]:
        rows = self.query(_sql("file_states.sql"))
        return {row["path"]: FileState(**row) for row in rows}

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
        with self._session() as con:
            names = ", ".join(COLUMN_NAMES)
            return con.execute(
                f"SELECT {names} FROM measurements ORDER BY measurement_uid"
            ).fetchall()


def _abandon(engine: duckdb.DuckDBPyConnection) -> None:
    """Roll back the transaction a failed call left open, if it left one."""
    with suppress(duckdb.TransactionException):  # raised when none was open
        engine.rollback()


# The same partition of counts as OONI's aggregation API.
_COUNTS: Final = (
    "count(*) AS measurement_count, "
    "count(*) FILTER (WHERE anomaly AND NOT confirmed AND NOT failure)"
    " AS anomaly_count, "
    "count(*) FILTER (WHERE confirmed AND NOT failure) AS confirmed_count, "
    "count(*) FILTER (WHERE failure) AS failure_count, "
    "count(*) FILTER (WHERE NOT anomaly AND NOT failure) AS ok_count"
)
