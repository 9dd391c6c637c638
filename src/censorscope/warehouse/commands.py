"""``censorscope measurements`` and ``censorscope aggregate``: read the warehouse.

Both open the warehouse read-only, filter like OONI's API (country, network,
test, domain, input, time range, verdict flags) and print a table, or JSON
lines with ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from censorscope.measurement.ids import asn_number
from censorscope.scoring.commands import WarehouseOption, resolve_warehouse_path
from censorscope.warehouse import (
    DuckDBWarehouse,
    MeasurementFilter,
    WarehouseError,
    open_warehouse,
)
from censorscope.warehouse.base import DIMENSIONS

# (column in the warehouse's answer, heading printed)
_LIST_COLUMNS = (
    ("measurement_start_time", "time (UTC)"),
    ("probe_cc", "cc"),
    ("probe_asn", "asn"),
    ("test_name", "test"),
    ("input", "input"),
    ("anomaly", "anomaly"),
    ("confirmed", "confirmed"),
    ("failure", "failure"),
    ("down", "down"),
    ("blocking", "blocking"),
)
_COUNT_COLUMNS = (
    ("measurement_count", "measurements"),
    ("ok_count", "ok"),
    ("anomaly_count", "anomaly"),
    ("confirmed_count", "confirmed"),
    ("failure_count", "failure"),
)
_PIPE_WIDTH = 200  # a table written to a pipe or file is not cut at 80 columns

CountryOption = Annotated[str | None, typer.Option("--cc", help="Country code.")]
AsnOption = Annotated[str | None, typer.Option("--asn", help="Network: AS30985.")]
TestOption = Annotated[str | None, typer.Option("--test", help="Test name.")]
DomainOption = Annotated[str | None, typer.Option("--domain", help="Domain.")]
InputOption = Annotated[str | None, typer.Option("--input", help="Exact input.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this UTC time (YYYY-MM-DD[ HH:MM]).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Before this UTC time.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON lines.")]


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        # The warehouse stores naive UTC timestamps (DuckDB TIMESTAMP).
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r}: {error}", param_hint=option) from error


def _filter(
    *,
    cc: str | None,
    asn: str | None,
    test: str | None,
    domain: str | None,
    input_: str | None,
    since: str | None,
    until: str | None,
    anomaly: bool | None = None,
) -> MeasurementFilter:
    return MeasurementFilter(
        probe_cc=cc.upper() if cc else None,
        probe_asn=asn_number(asn if asn.upper().startswith("AS") else f"AS{asn}")
        if asn
        else None,
        test_name=test,
        domain=domain,
        input=input_,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
        anomaly=anomaly,
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _print(
    rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...], as_json: bool
) -> None:
    if not rows and not as_json:
        Console(stderr=True).print("no measurements match")
        return
    if as_json:
        for row in rows:
            sys.stdout.buffer.write(
                orjson.dumps(row, default=str, option=orjson.OPT_APPEND_NEWLINE)
            )
        return
    table = Table()
    for _, heading in columns:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column, _ in columns))
    width = None if sys.stdout.isatty() else _PIPE_WIDTH
    Console(highlight=False, width=width).print(table)


def _run(
    warehouse: Path | None, query: Callable[[DuckDBWarehouse], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run ``query`` on the warehouse opened read-only; errors end the command."""
    try:
        with open_warehouse(resolve_warehouse_path(warehouse), read_only=True) as store:
            return query(store)
    except WarehouseError as error:
        Console(stderr=True).print(f"[red]error[/red] {error}")
        raise typer.Exit(1) from error


_SELECTION = ("cc", "asn", "test", "domain", "input_", "since", "until", "anomaly")


def _selection(options: dict[str, Any]) -> dict[str, Any]:
    """The filter options among a command's parameters."""
    return {name: options[name] for name in _SELECTION if name in options}


def measurements(  # noqa: PLR0917 - Typer maps parameters to options
    warehouse: WarehouseOption = None,
    cc: CountryOption = None,
    asn: AsnOption = None,
    test: TestOption = None,
    domain: DomainOption = None,
    input_: InputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    anomaly: Annotated[
        bool | None,
        typer.Option("--anomaly/--no-anomaly", help="Only (not) anomalous."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most N rows.")] = 50,
    oldest_first: Annotated[bool, typer.Option(help="Oldest first.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List scored measurements from the warehouse, newest first."""
    where = _filter(**_selection(locals()))
    rows = _run(
        warehouse,
        lambda store: store.search(where, limit=limit, newest_first=not oldest_first),
    )
    _print(rows, _LIST_COLUMNS, as_json)


def aggregate(  # noqa: PLR0917 - Typer maps parameters to options
    by: Annotated[
        str, typer.Option("--by", help=f"Comma list of: {', '.join(DIMENSIONS)}.")
    ] = "day",
    warehouse: WarehouseOption = None,
    cc: CountryOption = None,
    asn: AsnOption = None,
    test: TestOption = None,
    domain: DomainOption = None,
    input_: InputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Count measurements, ok, anomalies, confirmed and failures per dimension."""
    dimensions = tuple(name.strip() for name in by.split(",") if name.strip())
    unknown = [name for name in dimensions if name not in DIMENSIONS]
    if unknown:
        raise typer.BadParameter(f"unknown dimension {unknown[0]!r}", param_hint="--by")
    where = _filter(**_selection(locals()))
    rows = _run(warehouse, lambda store: store.aggregate(dimensions, where))
    _print(rows, tuple((name, name) for name in dimensions) + _COUNT_COLUMNS, as_json)


def register(app: typer.Typer) -> None:
    """Add ``measurements`` and ``aggregate`` to the CLI."""
    app.command()(measurements)
    app.command()(aggregate)
