"""``censorscope lab``: build the censorship lab, run scenarios and the QA suite."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from censorscope.lab import netns
from censorscope.lab.campaign import (
    CampaignOptions,
    apply_policies,
    run_campaign,
    scenario_lab,
)
from censorscope.lab.probe import PROBE_TIMEOUT
from censorscope.lab.qa import QaOutcome, qa_isps, run_qa, select_cases
from censorscope.lab.qa_apps import all_cases
from censorscope.lab.scenario import (
    Scenario,
    ScenarioError,
    bundled_scenarios,
    format_time,
    load_scenario,
    parse_time,
)
from censorscope.lab.topology import (
    Lab,
    LabError,
    remove_leftover_workdirs,
    terminate_as_interrupt,
)
from censorscope.scoring import FingerprintDB, FingerprintError
from censorscope.scoring.fingerprints import default_fingerprints_dir

lab_app = typer.Typer(
    help="The censorship lab: emulated censoring ISPs running the real probe.",
    no_args_is_help=True,
)
# Tables written to a pipe or file are not cut at Rich's default 80 columns.
_console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=_console,
    )  # fmt: skip


@contextmanager
def _lab_errors() -> Iterator[None]:
    """Render lab and scenario errors as one line; SIGTERM acts like Ctrl-C."""
    try:
        with terminate_as_interrupt():
            yield
    except (LabError, ScenarioError, netns.CommandFailedError) as error:
        raise _fail(str(error)) from error


@lab_app.command("up")
def up(
    scenario: Annotated[
        str | None, typer.Option(help="Build the networks of this scenario.")
    ] = None,
    isps: Annotated[int, typer.Option(min=1, help="QA ISPs, without --scenario.")] = 2,
    at: Annotated[
        str | None,
        typer.Option(
            help='Apply the scenario\'s policies in force at "YYYY-MM-DD HH:MM:SS".'
        ),
    ] = None,
) -> None:
    """Build the lab and keep it running until Ctrl-C."""
    if at is not None and scenario is None:
        raise _fail("--at applies a scenario's policies: add --scenario")
    with _lab_errors():
        loaded = load_scenario(scenario) if scenario else None
        instant = parse_time(at, "--at") if at is not None else None
        lab = scenario_lab(loaded) if loaded else Lab(qa_isps(isps))
        with lab:
            _print_lab(lab)
            if loaded is not None and instant is not None:
                _apply_at(lab, loaded, instant)
            _console.print("lab is up; press Ctrl-C to tear it down")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                _console.print("tearing down")


def _print_lab(lab: Lab) -> None:
    table = Table(title=f"lab {lab.run_id}")
    for column in ("ISP", "AS", "client namespace", "client", "resolver"):
        table.add_column(column)
    for isp in lab.isps.values():
        table.add_row(
            isp.spec.name, f"AS{isp.spec.asn} {isp.spec.cc}", isp.client,
            isp.addresses.client, isp.addresses.resolver,
        )  # fmt: skip
    _console.print(table)
    _console.print(f"CA bundle {lab.ca_bundle}; geolocation {lab.geodb}")
    _console.print(f"IM test endpoints {lab.endpoints}")
    _console.print(f"test helper {lab.test_helper_url}; collector {lab.collector_url}")


def _apply_at(lab: Lab, scenario: Scenario, instant: dt.datetime) -> None:
    """Set each censor to the policy at ``instant`` and say what it does."""
    try:
        applied = apply_policies(lab, scenario, instant)
    except ValueError as error:  # an action whose target has no address
        raise LabError(f"cannot apply the policy at {instant}: {error}") from error
    _console.print(f"policies in force at {format_time(instant)}:")
    for network, actions in applied.items():
        described = "; ".join(action.describe() for action in actions)
        _console.print(f"  {network}: {described or 'nothing'}")


@lab_app.command("down")
def down() -> None:
    """Remove every lab namespace left by a run that could not clean up."""
    with _lab_errors():
        removed = netns.remove_leftovers()
        remove_leftover_workdirs()
    _console.print(f"removed {len(removed)}: {' '.join(removed) or 'nothing'}")


@lab_app.command("scenarios")
def scenarios() -> None:
    """List the scenarios shipped with censorscope."""
    for name in bundled_scenarios():
        _console.print(name)


@lab_app.command("run")
def run(
    scenario: Annotated[str, typer.Argument(help="Scenario file or bundled name.")],
    *,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Measurements (JSONL).")
    ] = Path("lab-measurements.jsonl"),
    upload: Annotated[
        bool, typer.Option(help="Also submit to the lab's collector.")
    ] = False,
    archive: Annotated[
        Path | None,
        typer.Option(help="Keep the lab collector's archive here (needs --upload)."),
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option(min=1, help="Stop after N simulated instants.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.5, help="Probe timeout, s.")] = (
        PROBE_TIMEOUT
    ),
) -> None:
    """Run a scenario as a campaign: the probe at every simulated time."""
    if archive is not None and not upload:
        raise _fail("--archive keeps the lab collector's archive: add --upload")
    with _lab_errors():
        loaded = load_scenario(scenario)
        options = CampaignOptions(output.resolve(), upload, timeout, max_runs)
        total = sum(1 for _ in loaded.run_times())
        total = min(total, max_runs) if max_runs else total
        lab = scenario_lab(loaded, upload, archive.resolve() if archive else None)
        with lab, _progress() as bar:
            task = bar.add_task(f"campaign {loaded.name}", total=total)
            result = run_campaign(
                lab, loaded, options, lambda instant: bar.advance(task)
            )
    _console.print(
        f"{result.measurements} measurements from {result.runs} simulated runs "
        f"written to {result.output}"
    )
    for error in result.errors:
        _console.print(f"[red]probe error[/red] {error}")
    if result.errors:
        raise typer.Exit(1)


@lab_app.command("qa")
def qa(
    case: Annotated[
        list[str] | None,
        typer.Option("--case", help="Only cases matching (repeatable)."),
    ] = None,
    lanes: Annotated[int, typer.Option(min=1, max=16, help="Cases at once.")] = 4,
    fingerprints: Annotated[
        Path | None,
        typer.Option(
            "--fingerprints",
            help="Directory of fingerprint CSVs for scoring (default: the data dir).",
        ),
    ] = None,
) -> None:
    """Run the QA cases through the real probe; compare probe and scored verdicts."""
    cases = select_cases(case or [], all_cases())
    if not cases:
        raise _fail("no QA case matches")
    try:
        database = FingerprintDB.load(fingerprints or default_fingerprints_dir())
    except FingerprintError as error:
        raise _fail(str(error)) from error
    with _lab_errors(), tempfile.TemporaryDirectory(prefix="censorscope-qa-") as work:
        started = time.monotonic()
        with Lab(qa_isps(min(lanes, len(cases)))) as lab, _progress() as bar:
            task = bar.add_task("QA cases", total=len(cases))
            outcomes = run_qa(
                lab, cases, Path(work), database, lambda outcome: bar.advance(task)
            )
        _print_outcomes(outcomes, time.monotonic() - started)
    if not all(outcome.passed for outcome in outcomes):
        raise typer.Exit(1)


def _mark(passed: bool) -> str:
    return "[green]pass[/green]" if passed else "[red]FAIL[/red]"


def _outcome_row(outcome: QaOutcome) -> list[str]:
    """case, source, probe expected/actual, scored expected/actual, pass, s."""
    case = outcome.case
    if outcome.error is not None:
        probe = scored = f"error: {outcome.error[:60]}"
    else:
        probe = case.show_probe(outcome.probe)
        scored = str(outcome.scored)
    expected = str(case.expected_scored)
    if case.truth != case.expected_scored:
        expected += f" (truth: {case.truth})"
    return [
        case.name, case.source, case.show_probe(case.expected_probe), probe,
        expected, scored,
        f"{_mark(outcome.probe_passed)} / {_mark(outcome.scored_passed)}",
        f"{outcome.seconds:.1f}",
    ]  # fmt: skip


def _print_outcomes(outcomes: list[QaOutcome], seconds: float) -> None:
    table = Table(title="censorscope lab QA")
    columns = ("case", "source", "probe expected", "probe actual", "scored expected",
               "scored actual", "probe / scored", "s")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for outcome in outcomes:
        table.add_row(*_outcome_row(outcome))
    _console.print(table)
    probe = sum(outcome.probe_passed for outcome in outcomes)
    scored = sum(outcome.scored_passed for outcome in outcomes)
    passed = sum(outcome.passed for outcome in outcomes)
    _console.print(
        f"{passed}/{len(outcomes)} passed (probe verdict {probe}, scored verdict "
        f"{scored}) in {seconds:.0f} s"
    )


def register(app: typer.Typer) -> None:
    """Add the ``lab`` command group."""
    app.add_typer(lab_app, name="lab")
