"""The measurements table: its columns, defined once, and the SQL built from them.

A row is a plain tuple in :data:`COLUMNS` order (cheap to build on the hot
path, cheap to transpose into column lists for a bulk insert).  The table is
kept sorted by ``(measurement_start_time, probe_cc, test_name)``, the leading
filters of the API, the explorer and the change detector: batches are sorted
before insertion and :meth:`Warehouse.compact` rewrites the table in order.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple


class Column(NamedTuple):
    name: str
    type: str
    description: str


COLUMNS: Final = (
    Column("measurement_uid", "VARCHAR", "OONI measurement uid (primary key)"),
    Column("measurement_start_time", "TIMESTAMP", "when the measurement started (UTC)"),
    Column("probe_cc", "VARCHAR", "probe country code (ZZ = unknown)"),
    Column("test_name", "VARCHAR", "nettest name, e.g. web_connectivity"),
    Column("probe_asn", "UINTEGER", "probe AS number (0 = unknown)"),
    Column("probe_network_name", "VARCHAR", "name of the probe's network"),
    Column("report_id", "VARCHAR", "report (session) id"),
    Column("input", "VARCHAR", "the measured input ('' when none)"),
    Column("domain", "VARCHAR", "host name of the input URL ('' when none)"),
    Column("category_code", "VARCHAR", "Citizen Lab category of the input, if known"),
    Column("test_start_time", "TIMESTAMP", "when the test (report) started"),
    Column("test_version", "VARCHAR", "version of the nettest"),
    Column("software_name", "VARCHAR", "probe software name"),
    Column("software_version", "VARCHAR", "probe software version"),
    Column("platform", "VARCHAR", "annotations.platform"),
    Column("engine_name", "VARCHAR", "annotations.engine_name"),
    Column("engine_version", "VARCHAR", "annotations.engine_version"),
    Column("test_runtime", "DOUBLE", "seconds the test ran"),
    Column("test_helper_address", "VARCHAR", "test helper used (web connectivity)"),
    Column("anomaly", "BOOLEAN", "signs of interference"),
    Column("confirmed", "BOOLEAN", "interference proven by a fingerprint"),
    Column("failure", "BOOLEAN", "the measurement itself failed"),
    Column("blocking", "VARCHAR", "mechanism when anomaly: dns, tcp_ip, tls, ..."),
    Column("down", "BOOLEAN", "the target failed from the control vantage point too"),
    Column("blocking_general", "DOUBLE", "fastpath's blocking_general score"),
    Column("scores", "VARCHAR", "fastpath-compatible scores (JSON)"),
    Column("evidence", "VARCHAR", "rules fired, failures, fingerprints (JSON)"),
    Column("rules_version", "VARCHAR", "hash of the scoring rules used"),
    Column("fingerprints_version", "VARCHAR", "hash of the fingerprint CSVs used"),
    Column("source", "VARCHAR", "file ingested from, or 'collector'"),
    Column("origin", "VARCHAR", "where in the source (member, line)"),
)
COLUMN_NAMES: Final = tuple(column.name for column in COLUMNS)
COLUMN_INDEX: Final = {name: index for index, name in enumerate(COLUMN_NAMES)}
SORT_KEY: Final = ("measurement_start_time", "probe_cc", "test_name")
LIVE_SOURCE: Final = "collector"

Row = tuple[Any, ...]


def create_table_sql(table: str = "measurements") -> str:
    """CREATE TABLE for the measurements table.

    ``measurement_uid`` is unique by construction but not declared a primary
    key: DuckDB keeps such an index in memory and maintaining it halved the
    insert rate; the writer deletes a batch's uids (within the batch's time
    range, so only a few row groups are scanned) before inserting it.
    """
    lines = [f"    {column.name} {column.type}" for column in COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {table} (\n" + ",\n".join(lines) + "\n)"


def insert_sql(table: str = "measurements") -> str:
    """Insert from one list parameter per column, zipped by unnest.

    Times arrive as text already checked by the row builder and are cast
    with ``try_cast`` so that no value can fail a whole batch.
    """
    unnested = ", ".join(
        f"unnest(${index + 1}::{_list_type(column)}[]) AS {column.name}"
        for index, column in enumerate(COLUMNS)
    )
    selected = ", ".join(_cast(column) for column in COLUMNS)
    names = ", ".join(COLUMN_NAMES)
    return f"INSERT INTO {table} ({names})\nSELECT {selected}\nFROM (SELECT {unnested})"


def _list_type(column: Column) -> str:
    return "VARCHAR" if column.type == "TIMESTAMP" else column.type


def _cast(column: Column) -> str:
    if column.type == "TIMESTAMP":
        return f"try_cast({column.name} AS TIMESTAMP)"
    return column.name
