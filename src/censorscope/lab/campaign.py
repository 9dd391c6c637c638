"""Campaigns: a scenario played out over simulated time with the real probe.

At each simulated instant of the scenario, every network's censor is set to
the policy in force at that instant, then the probe measures every target
from every network (networks in parallel, each in its own namespaces).
Measurements carry the simulated time and the annotation
``lab_scenario=<name>``; they are appended to one JSONL file and, if asked,
submitted to the lab's collector by the probe itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

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
    run = ProbeRun(
        network, scenario.targets, scratch / f"{network}.jsonl",
        time=format_time(instant), annotations={"lab_scenario": scenario.name},
        timeout=options.timeout, upload=options.upload,
    )  # fmt: skip
    try:
        return run_probe(lab, run), None
    except ProbeError as error:
        logger.error("campaign %s at %s: %s", network, instant, error)
        return [], f"{network} at {format_time(instant)}: {error}"
