"""The analytical store of scored measurements.

* ``schema`` - the measurements table's columns (defined once) and SQL builders.
* ``base`` - the :class:`Warehouse` protocol callers depend on, with
  :class:`MeasurementFilter` and the ingestion bookkeeping :class:`FileState`.
* ``duckdb_store`` - the embedded DuckDB backend (default: one file).
* ``locking`` - taking turns on the file with other processes (retry, holder).
* ``sql/`` - the statements, parameters always bound.

A ClickHouse backend implements the same protocol; :func:`open_warehouse`
is the one place that picks a backend.
"""

from __future__ import annotations

from pathlib import Path

from censorscope.warehouse.base import (
    FileState,
    MeasurementFilter,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
)
from censorscope.warehouse.duckdb_store import DuckDBWarehouse
from censorscope.warehouse.schema import COLUMN_NAMES, COLUMNS, LIVE_SOURCE, Row


def open_warehouse(
    path: str | Path,
    *,
    read_only: bool = False,
    threads: int | None = None,
    busy_timeout: float | None = None,
) -> DuckDBWarehouse:
    """The warehouse at ``path`` (created if needed, unless ``read_only``).

    The file is opened for each call and closed after, so that other
    processes can use it in between; ``busy_timeout`` bounds how long a call
    waits for them (default 60 s for writing, 10 s read-only).
    """
    # Shortcoming: only DuckDB; a clickhouse:// URL would select another backend here.
    return DuckDBWarehouse(
        path, read_only=read_only, threads=threads, busy_timeout=busy_timeout
    )


__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "LIVE_SOURCE",
    "DuckDBWarehouse",
    "FileState",
    "MeasurementFilter",
    "Row",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "open_warehouse",
]
