"""``censorscope show`` and ``censorscope stats``: look at measurement files."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from censorscope.measurement.model import Measurement
from censorscope.measurement.readers import (
    ReadStats,
    RejectedRecord,
    Rejection,
    read_measurements,
)
from censorscope.measurement.summary import key_results
from censorscope.measurement.writers import open_jsonl_writer

_STATS_PROGRESS_BYTES = 20 * 1024 * 1024  # show a progress bar above this input size

PathsArgument = Annotated[
    list[Path], typer.Argument(help="Files or directories of measurements.")
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Stop at the first rejected record.")
]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _report_rejection(rejection: Rejection) -> None:
    _stderr().print(f"[red]rejected[/red] {rejection.location}: {rejection.reason}")


def _read(paths: list[Path], strict: bool, stats: ReadStats) -> Iterator[Measurement]:
    return read_measurements(
        paths, strict=strict, on_reject=_report_rejection, stats=stats
    )


def _finish(stats: ReadStats) -> None:
    """Print the closing counts; exit non-zero if anything was rejected."""
    _stderr().print(f"{stats.read} measurements read, {stats.rejected} rejected")
    if stats.rejected:
        raise typer.Exit(1)


def _network(measurement: Measurement) -> str:
    name = measurement.probe_network_name
    label = f"{measurement.probe_cc} {measurement.probe_asn}"
    return f"{label} ({name})" if name else label


def _print_summary(console: Console, measurement: Measurement) -> None:
    rows = [
        ("time", measurement.measurement_start_time),
        ("network", _network(measurement)),
        ("input", measurement.input),
        ("report", measurement.report_id),
        *key_results(measurement.test_name, measurement.doc.get("test_keys")),
    ]
    width = max(len(name) for name, _ in rows)
    console.print(f"[bold]{measurement.test_name}[/bold]  {measurement.origin or ''}")
    for name, value in rows:
        console.print(f"  {name:<{width}}  {value}", soft_wrap=True, markup=False)


def show(
    paths: PathsArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each normalised document as JSON.")
    ] = False,
    strict: StrictOption = False,
) -> None:
    """Print a readable summary of each measurement (or the JSON with --json)."""
    stats = ReadStats()
    console = Console(highlight=False)
    try:
        for measurement in _read(paths, strict, stats):
            if as_json:
                sys.stdout.buffer.write(
                    orjson.dumps(measurement.doc, option=orjson.OPT_APPEND_NEWLINE)
                )
            else:
                _print_summary(console, measurement)
    except RejectedRecord:
        _finish(stats)
    sys.stdout.flush()
    _finish(stats)


class _Counts:
    """The four breakdowns ``stats`` prints."""

    def __init__(self) -> None:
        self.test: Counter[str] = Counter()
        self.country: Counter[str] = Counter()
        self.network: Counter[str] = Counter()
        self.day: Counter[str] = Counter()

    def add(self, measurement: Measurement) -> None:
        self.test[measurement.test_name] += 1
        self.country[measurement.probe_cc] += 1
        self.network[_network(measurement)] += 1
        self.day[(measurement.measurement_start_time or "unknown")[:10]] += 1


def _table(title: str, counter: Counter[str], by_key: bool = False) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.rsplit(" ", maxsplit=1)[-1])
    table.add_column("measurements", justify="right")
    items = sorted(counter.items()) if by_key else counter.most_common()
    for key, count in items:
        table.add_row(key, str(count))
    return table


def _total_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(p.stat().st_size for p in files if p.is_file())
    return total


def _count(paths: list[Path], strict: bool, stats: ReadStats) -> _Counts:
    counts = _Counts()
    show_progress = _total_bytes(paths) > _STATS_PROGRESS_BYTES
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=_stderr(), disable=not show_progress) as progress:
        task = progress.add_task("reading", total=None)
        for number, measurement in enumerate(_read(paths, strict, stats), 1):
            counts.add(measurement)
            if number % 5000 == 0:
                progress.update(task, description=f"{number:,} measurements read")
    return counts


def stats(paths: PathsArgument, strict: StrictOption = False) -> None:
    """Count measurements by test, country, network and day."""
    read_stats = ReadStats()
    console = Console(highlight=False)
    try:
        counts = _count(paths, strict, read_stats)
    except RejectedRecord:
        _finish(read_stats)
        return
    console.print(_table("by test", counts.test))
    console.print(_table("by country", counts.country))
    console.print(_table("by network", counts.network))
    console.print(_table("by day", counts.day, by_key=True))
    _finish(read_stats)


def convert(
    paths: PathsArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="JSONL file to write; .gz or .zst compresses."
        ),
    ],
    strict: StrictOption = False,
) -> None:
    """Rewrite measurements from any OONI layout as (compressed) JSONL."""
    read_stats = ReadStats()
    with open_jsonl_writer(output) as writer, contextlib.suppress(RejectedRecord):
        writer.write_all(_read(paths, strict, read_stats))
    _stderr().print(f"wrote {writer.written} measurements to {output}")
    _finish(read_stats)


def register(app: typer.Typer) -> None:
    """Add ``show``, ``stats`` and ``convert`` to the CLI."""
    app.command()(show)
    app.command()(stats)
    app.command()(convert)
