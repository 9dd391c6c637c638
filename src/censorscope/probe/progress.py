"""What the user sees during and after a run: a progress bar and tables.

The bar shows done/total, a live count of anomalies, elapsed time and an
ETA; the final table shows per-test counts.  Rendering lives here so that
the runner stays free of presentation.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from censorscope.probe.results import RunDirectory, StoredMeasurement
from censorscope.probe.runner import Outcome, RunTally


# Shortcoming: log records written to stderr while the bar is live can break
# a line of the bar; -v runs are better read with --quiet.
class ProgressBar:
    """A :class:`~censorscope.probe.runner.RunObserver` drawing a Rich bar."""

    def __init__(self, console: Console, description: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[anomalies]} anomalies"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._description = description
        self._task: TaskID | None = None
        self.anomalies = 0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def started(self, total: int) -> None:
        self._task = self._progress.add_task(
            self._description, total=total, anomalies=0
        )

    def finished(self, outcome: Outcome) -> None:
        self.anomalies += outcome.anomaly
        if self._task is not None:
            self._progress.update(self._task, advance=1, anomalies=self.anomalies)


class QuietObserver:
    """An observer that shows nothing (``--quiet``, benchmarks)."""

    def started(self, total: int) -> None:
        """Nothing to show."""

    def finished(self, outcome: Outcome) -> None:
        """Nothing to show."""


def summary_table(tally: RunTally, upload_requested: bool) -> Table:
    """Per-test counts of one run."""
    table = Table(title=f"Run summary ({tally.stop_reason})")
    for column in ("test", "measured", "anomalies", "failed"):
        table.add_column(column, justify="left" if column == "test" else "right")
    if upload_requested:
        table.add_column("uploaded", justify="right")
        table.add_column("unsent", justify="right")
    for name, counts in tally.tests.items():
        row = [name, counts.measured, counts.anomalies, counts.failed]
        if upload_requested:
            row += [counts.uploaded, counts.measured - counts.uploaded]
        table.add_row(*(str(value) for value in row))
    return table


def runs_table(runs: list[RunDirectory]) -> Table:
    """One row per stored run (``results list``)."""
    table = Table(title="Runs")
    # Whole ids, never wrapped: users copy them into ``results show``.
    widest = max((len(run.run_id) for run in runs), default=10)
    table.add_column("run id", no_wrap=True, min_width=widest)
    for column in ("status", "network"):
        table.add_column(column, no_wrap=True)
    for column in ("done", "anom.", "unsent"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(*_run_row(run, run.read_metadata()))
    return table


def _run_row(run: RunDirectory, metadata: dict[str, Any]) -> list[str]:
    network = metadata.get("network") or {}
    measured = metadata.get("measurements")
    unsent = len(run.unsent()) if metadata.get("upload_requested") else "-"
    return [
        run.run_id,
        str(metadata.get("status", "")),
        f"{network.get('probe_asn', '')} {network.get('probe_cc', '')}",
        "?" if measured is None else str(measured),
        str(metadata.get("anomalies", "?")),
        str(unsent),
    ]


def measurements_table(run_id: str, measurements: Iterable[StoredMeasurement]) -> Table:
    """One row per stored measurement of a run (``results show``)."""
    table = Table(title=f"Run {run_id}")
    for column in ("#", "test", "input", "anomaly", "measurement uid"):
        table.add_column(column, overflow="fold")
    for stored in measurements:
        upload = stored.upload or {}
        table.add_row(
            str(stored.line),
            str(stored.doc.get("test_name", "")),
            str(stored.doc.get("input") or ""),
            {True: "yes", False: "no", None: "?"}[stored.anomaly],
            str(
                upload.get("measurement_uid") or ("not uploaded" if not upload else "")
            ),
        )
    return table
