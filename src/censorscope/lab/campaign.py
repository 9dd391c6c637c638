"""Campaigns: a scenario played out over simulated time with the real probe.

At each simulated instant of the scenario, every network's censor is set to
the policy in force at that instant, then the probe measures every target
from every network (networks in parallel, each in its own namespaces): one
``censorscope run websites`` with every URL, and one run per app test (or
one ``im`` run when the scenario lists all four apps), side by side.
Measurements carry the simulated time and the annotation
``lab_scenario=<name>``; they are appended to one JSONL file and, if asked,
submitted to the lab's collector by the probe itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from censorscope.lab.apps import probe_targets
from censorscope.lab.censor import CensorAction
from censorscope.lab.internet import add_target_sites, standard_internet
from censorscope.lab.probe import PROBE_TIMEOUT, ProbeError, ProbeRun, run_probe
from censorscope.lab.scenario import Scenario, format_time
from censorscope.lab.topology import Lab

logger = logging.getLogger(__name__)


@dataclass
class CampaignResult:
    """What a campaign produced."""

    output: Path
    measurements: int = 0
    runs: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignOptions:
    """How to run a campaign."""

    output: Path
    upload: bool = False
    timeout: float = PROBE_TIMEOUT
    max_runs: int | None = None  # stop after this many simulated instants


def scenario_lab(
    scenario: Scenario, start_collector: bool = False, archive: Path | None = None
) -> Lab:
    """A lab with the scenario's networks and a site for each target."""
    internet = standard_internet()
    add_target_sites(internet, list(scenario.targets))
    return Lab(
        scenario.networks,
        internet,
        start_collector=start_collector,
        collector_archive=archive,
    )


def apply_policies(
    lab: Lab, scenario: Scenario, instant: dt.datetime
) -> dict[str, list[CensorAction]]:
    """Set every network's censor to the scenario's policy at ``instant``."""
    applied = {}
    for network in scenario.networks:
        actions = scenario.actions_at(network.name, instant)
        lab.isp(network.name).censor.apply(actions)
        applied[network.name] = actions
    return applied


def run_campaign(
    lab: Lab,
    scenario: Scenario,
    options: CampaignOptions,
    on_instant: Callable[[dt.datetime], None] = lambda instant: None,
) -> CampaignResult:
    """Measure every target from every network at each simulated instant."""
    result = CampaignResult(options.output)
    options.output.unlink(missing_ok=True)
    scratch = lab.workdir / "campaign"
    scratch.mkdir(exist_ok=True)
    for number, instant in enumerate(scenario.run_times()):
        if options.max_runs is not None and number >= options.max_runs:
            break
        batches = _measure_instant(lab, scenario, options, instant, scratch)
        with options.output.open("ab") as sink:
            for network in sorted(batches):
                measurements, error = batches[network]
                if error:
                    result.errors.append(error)
                for measurement in measurements:
                    sink.write(orjson.dumps(measurement) + b"\n")
                result.measurements += len(measurements)
        result.runs += 1
        on_instant(instant)
    for isp in lab.isps.values():
        isp.censor.clear()
    return result


Batch = tuple[list[dict[str, Any]], str | None]


def _measure_instant(
    lab: Lab,
    scenario: Scenario,
    options: CampaignOptions,
    instant: dt.datetime,
    scratch: Path,
) -> dict[str, Batch]:
    """Apply each network's policy at ``instant`` and run its probe."""
    batches: dict[str, Batch] = {}

    def measure(network: str) -> None:
        try:
            batches[network] = _measure_network(
                lab, scenario, options, instant, network=network, scratch=scratch
            )
        except Exception as error:
            # A thread's exception would otherwise vanish and the campaign
            # would exit 0 with this network's runs missing: record it.
            logger.exception("campaign %s at %s crashed", network, instant)
            when = format_time(instant)
            batches[network] = ([], f"{network} at {when}: crashed: {error!r}")

    threads = [
        threading.Thread(target=measure, args=(n.name,)) for n in scenario.networks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return batches


def _measure_network(
    lab: Lab,
    scenario: Scenario,
    options: CampaignOptions,
    instant: dt.datetime,
    *,
    network: str,
    scratch: Path,
) -> Batch:
    censor = lab.isp(network).censor
    censor.apply(scenario.actions_at(network, instant))
    runs = _probe_runs(scenario, options, instant, network, scratch)
    # The runs only wait on the network most of the time: side by side.
    with ThreadPoolExecutor(len(runs)) as pool:
        batches = list(pool.map(lambda run: _run(lab, run, instant), runs))
    measurements = [m for found, _ in batches for m in found]
    errors = [error for _, error in batches if error]
    return measurements, "; ".join(errors) or None


def _probe_runs(
    scenario: Scenario,
    options: CampaignOptions,
    instant: dt.datetime,
    network: str,
    scratch: Path,
) -> list[ProbeRun]:
    """The websites run (if any URL) and the app runs, in that order."""
    targets = [""] if scenario.targets else []
    targets += probe_targets(scenario.apps)
    return [
        _probe_run(
            scenario, options, instant, network=network, scratch=scratch, target=t
        )
        for t in targets
    ]


def _probe_run(
    scenario: Scenario,
    options: CampaignOptions,
    instant: dt.datetime,
    *,
    network: str,
    scratch: Path,
    target: str,
) -> ProbeRun:
    """One probe run; ``target`` empty is the websites run with every URL."""
    return ProbeRun(
        network, scenario.targets if not target else [],
        scratch / f"{network}-{target or 'websites'}.jsonl",
        time=format_time(instant), annotations={"lab_scenario": scenario.name},
        timeout=options.timeout, upload=options.upload, target=target,
    )  # fmt: skip


def _run(lab: Lab, run: ProbeRun, instant: dt.datetime) -> Batch:
    try:
        return run_probe(lab, run), None
    except ProbeError as error:
        logger.error("campaign %s at %s: %s", run.isp, instant, error)
        return [], f"{run.isp} at {format_time(instant)}: {error}"
