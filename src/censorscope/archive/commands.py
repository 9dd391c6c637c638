"""``censorscope archive get|ls|reindex``: look into a raw archive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from censorscope.archive.archive import Archive, ArchiveError
from censorscope.archive.layout import SegmentName, listing_prefix, path_test_name

ArchiveOption = Annotated[
    Path,
    typer.Option(
        "--archive",
        "-a",
        envvar="CENSORSCOPE_ARCHIVE",
        help="Archive directory.",
    ),
]

archive_app = typer.Typer(
    name="archive", help="Look into the raw measurement archive.", no_args_is_help=True
)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _open(archive: Path) -> Archive:
    try:
        return Archive(archive, read_only=True)
    except ArchiveError as error:
        _stderr().print(f"[red]error[/red] {error}")
        raise typer.Exit(1) from None


@archive_app.command("get")
def get(
    uid: Annotated[str, typer.Argument(help="The measurement_uid to print.")],
    archive: ArchiveOption = Path("archive"),
    pretty: Annotated[bool, typer.Option(help="Indent the JSON.")] = False,
    where: Annotated[
        bool, typer.Option(help="Print the file, offset and line instead.")
    ] = False,
) -> None:
    """Print one stored measurement, found through the index."""
    store = _open(archive)
    try:
        location = store.locate(uid)
        line = store.get_line(uid) if location and not where else None
    except ArchiveError as error:
        _stderr().print(f"[red]error[/red] {error}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    if location is None:
        _stderr().print(f"[red]not found[/red] no measurement {uid} in {archive}")
        raise typer.Exit(1)
    if where:
        typer.echo(f"{location.object_key}\t{location.offset}\t{location.line}")
    elif line is not None:
        if pretty:
            line = orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2) + b"\n"
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


@archive_app.command("ls")
def ls(
    archive: ArchiveOption = Path("archive"),
    day: Annotated[str | None, typer.Option(help="Upload day, YYYYMMDD.")] = None,
    hour: Annotated[int | None, typer.Option(help="Upload hour (with --day).")] = None,
    cc: Annotated[str | None, typer.Option(help="Country code.")] = None,
    test: Annotated[str | None, typer.Option(help="Test name.")] = None,
) -> None:
    """List archive files with their size and number of measurements."""
    store = _open(archive)
    try:
        objects = store.objects(
            listing_prefix(day, hour, cc if hour is not None else None)
        )
    finally:
        store.close()
    wanted_test = path_test_name(test) if test else None
    shown = total = 0
    # Key last, so long names are never cut: "bytes measurements key".
    for summary in objects:
        name = SegmentName.parse(summary.object_key)
        if name is None or (cc and name.probe_cc != cc.upper()):
            continue
        if wanted_test and name.test_name != wanted_test:
            continue
        typer.echo(
            f"{summary.size:>12} {summary.measurements:>8}  {summary.object_key}"
        )
        shown += 1
        total += summary.measurements
    _stderr().print(f"{shown} files, {total} measurements")


@archive_app.command("reindex")
def reindex(archive: ArchiveOption = Path("archive")) -> None:
    """Index every stored measurement the index lacks (after a crash)."""
    if not archive.is_dir():
        _stderr().print(f"[red]error[/red] no archive directory {archive}")
        raise typer.Exit(1)
    store = Archive(archive)
    try:
        report = store.reindex()
    finally:
        store.close()
    for problem in report.damaged:
        _stderr().print(f"[red]damaged[/red] {problem}")
    _stderr().print(
        f"{report.objects} files, {report.frames} measurements,"
        f" {report.added} added to the index, {len(report.damaged)} damaged"
    )
    if report.damaged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``archive`` command group to the censorscope command."""
    app.add_typer(archive_app)
