"""``censorscope ingest``, ``rescore`` and ``fingerprints update``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from censorscope.measurement.readers import Rejection
from censorscope.scoring.fingerprints import (
    FingerprintDB,
    FingerprintError,
    default_data_dir,
    default_fingerprints_dir,
)
from censorscope.scoring.ingest import (
    DEFAULT_BATCH,
    IngestError,
    IngestReport,
    ScoringSetup,
    ingest,
)
from censorscope.scoring.rescore import rescore
from censorscope.scoring.scorer import RULES_VERSION
from censorscope.scoring.update import UPSTREAM_URL, update_fingerprints
from censorscope.warehouse import WarehouseError, open_warehouse

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="DuckDB file [default: $CENSORSCOPE_WAREHOUSE or"
        " <data dir>/warehouse.duckdb].",
    ),
]
FingerprintsOption = Annotated[
    Path | None,
    typer.Option(
        "--fingerprints", help="Directory of fingerprint CSVs [default: <data dir>]."
    ),
]
TestListsOption = Annotated[
    Path | None,
    typer.Option(
        "--test-lists", help="Directory of Citizen Lab lists, for categories."
    ),
]
JobsOption = Annotated[
    int,
    typer.Option("--jobs", "-j", min=1, help="Scoring processes [default: all cores]."),
]

_CORES = os.cpu_count() or 1

fingerprints_app = typer.Typer(
    help="Blocking fingerprints (OONI's CSVs).", no_args_is_help=True
)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def resolve_warehouse_path(option: Path | None) -> Path:
    if option is not None:
        return option
    override = os.environ.get("CENSORSCOPE_WAREHOUSE")
    return Path(override) if override else default_data_dir() / "warehouse.duckdb"


def _setup(fingerprints: Path | None, test_lists: Path | None) -> ScoringSetup:
    directory = fingerprints or default_fingerprints_dir()
    FingerprintDB.load(directory)  # fail early, with the hint, if missing
    return ScoringSetup(directory, test_lists)


def _fail(message: str) -> typer.Exit:
    _stderr().print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


class _Display:
    """Rich progress: measurements, rate, rejects; rejections printed above it."""

    def __init__(self, description: str) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,.0f} measurements"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TextColumn("[red]{task.fields[rejects]} rejected[/red]"),
            TextColumn("{task.fields[files]} files"),
            TimeElapsedColumn(),
            console=_stderr(),
        )
        self.task: TaskID = self.progress.add_task(
            description, rate=0.0, rejects=0, files=0
        )

    def on_progress(self, report: IngestReport) -> None:
        elapsed = self.progress.tasks[0].elapsed or 0.0
        self.progress.update(
            self.task,
            completed=report.measurements,
            rate=report.measurements / elapsed if elapsed else 0.0,
            rejects=report.rejects,
            files=report.files,
        )

    def on_reject(self, rejection: Rejection) -> None:
        self.progress.console.print(
            f"[red]rejected[/red] {rejection.location}: {rejection.reason}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )


def ingest_command(  # noqa: PLR0917 - Typer maps parameters to options
    paths: Annotated[
        list[Path], typer.Argument(help="Measurement files or directories.")
    ],
    warehouse: WarehouseOption = None,
    fingerprints: FingerprintsOption = None,
    test_lists: TestListsOption = None,
    jobs: JobsOption = _CORES,
    force: Annotated[
        bool, typer.Option("--force", help="Re-ingest files already ingested.")
    ] = False,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, help="Measurements per committed batch."),
    ] = DEFAULT_BATCH,
) -> None:
    """Score measurements (our archive or OONI's public data) into the warehouse.

    Resumable: files already ingested are skipped, a file interrupted half way
    resumes where it stopped. Exits 1 if any record was rejected.
    """
    try:
        setup = _setup(fingerprints, test_lists)
        with open_warehouse(resolve_warehouse_path(warehouse)) as store:
            display = _Display("ingesting")
            with display.progress:
                report = ingest(
                    paths, store, setup,
                    jobs=jobs, force=force, batch_size=batch_size,
                    on_reject=display.on_reject, on_progress=display.on_progress,
                )  # fmt: skip
    except (FingerprintError, WarehouseError, IngestError) as error:
        raise _fail(str(error)) from error
    _stderr().print(
        f"{report.measurements:,} measurements from {report.files} files "
        f"({report.skipped_files} already ingested) in {report.seconds:.1f} s, "
        f"{report.rate:,.0f}/s; {report.rejects} rejected"
    )
    if report.rejects:
        raise typer.Exit(1)


def rescore_command(  # noqa: PLR0917 - Typer maps parameters to options
    warehouse: WarehouseOption = None,
    fingerprints: FingerprintsOption = None,
    test_lists: TestListsOption = None,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive", help="Archive directory, for measurements collected live."
        ),
    ] = None,
    jobs: JobsOption = _CORES,
    everything: Annotated[
        bool, typer.Option("--all", help="Re-score every row, not only stale ones.")
    ] = False,
) -> None:
    """Re-derive verdicts made with older rules or fingerprints than the current."""
    try:
        setup = _setup(fingerprints, test_lists)
        with open_warehouse(resolve_warehouse_path(warehouse)) as store:
            display = _Display("re-scoring")
            with display.progress:
                report = rescore(
                    store, setup,
                    archive_dir=archive, everything=everything, jobs=jobs,
                    on_reject=display.on_reject, on_progress=display.on_progress,
                )  # fmt: skip
    except (FingerprintError, WarehouseError, IngestError) as error:
        raise _fail(str(error)) from error
    console = _stderr()
    console.print(
        f"rules {RULES_VERSION}: {report.stale:,} stale rows; re-scored "
        f"{report.from_files.measurements:,} from {report.from_files.files} files and "
        f"{report.from_archive:,} from the archive"
    )
    for source, count in sorted(report.unavailable.items()):
        console.print(
            f"[yellow]not re-scored[/yellow] {count:,} rows: {source} is unavailable"
        )
    if report.unavailable_count or report.from_files.rejects:
        raise typer.Exit(1)


@fingerprints_app.command("update")
def update_command(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to store them [default: <data dir>]."),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Where the CSVs are published.")
    ] = UPSTREAM_URL,
) -> None:
    """Fetch the current fingerprint CSVs from OONI's blocking-fingerprints repo."""
    target = directory or default_fingerprints_dir()
    try:
        database = update_fingerprints(target, base_url=base_url)
    except (FingerprintError, OSError) as error:
        raise _fail(str(error)) from error
    _stderr().print(f"{len(database)} fingerprints ({database.version}) in {target}")


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``rescore`` and ``fingerprints`` to the CLI."""
    app.command("ingest")(ingest_command)
    app.command("rescore")(rescore_command)
    app.add_typer(fingerprints_app, name="fingerprints")
