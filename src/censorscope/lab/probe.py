"""Running censorscope's real probe inside an ISP's client namespace.

The probe is the same command users run (``censorscope run websites``, or
``censorscope run whatsapp``/``im`` for the apps), started with ``ip netns
exec`` so that its packets leave through the ISP's router and its
getaddrinfo asks the ISP's resolver.  The lab hands it the test helper, the
lab CA, the geolocation database, the IP-discovery URL and the lab's
endpoints file, and reads the measurements back from the JSONL file it
writes.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from censorscope.lab.internet import IP_DISCOVERY_NAME
from censorscope.lab.topology import Lab, cli_argv
from censorscope.probe.catalog import load_catalog

logger = logging.getLogger(__name__)

WEB_CONNECTIVITY_CLASS = "censorscope.nettests.web_connectivity:WebConnectivity"
PROBE_TIMEOUT = 3.0  # per network operation: keeps timeout cases short
_RUN_GRACE = 120.0  # how long a probe run may take beyond its own timeouts


@dataclass(frozen=True)
class ProbeRun:
    """One invocation of the probe from one ISP."""

    isp: str
    urls: Sequence[str]
    output: Path
    time: str | None = None  # simulated "YYYY-MM-DD HH:MM:SS"
    annotations: Mapping[str, str] = field(default_factory=dict)
    timeout: float = PROBE_TIMEOUT
    upload: bool = False  # to the lab's collector
    parallel: int = 4
    # A test or group of ``censorscope run`` (an app's test, ``im``...);
    # empty means the websites test, measuring ``urls``.
    target: str = ""


class ProbeError(RuntimeError):
    """The probe exited with an error or did not finish in time."""


def probe_target() -> str:
    """``websites``, or the test's class path while no group is registered."""
    if "websites" in load_catalog().groups:
        return "websites"
    return WEB_CONNECTIVITY_CLASS


def probe_argv(lab: Lab, run: ProbeRun) -> list[str]:
    """The full command line, inside the ISP's client namespace."""
    target = run.target or probe_target()
    arguments = ["run", target, "--output", str(run.output), "--quiet"]
    for url in run.urls:
        arguments += ["--input", url]
    arguments += ["--ca-bundle", str(lab.ca_bundle), "--geoip-db", str(lab.geodb)]
    arguments += ["--endpoints", str(lab.endpoints)]
    arguments += ["--ip-discovery", f"http://{IP_DISCOVERY_NAME}/cdn-cgi/trace"]
    arguments += ["--timeout", str(run.timeout), "--parallel", str(run.parallel)]
    arguments += ["--home", str(run.output.parent / f"{run.output.stem}-home")]
    if lab.test_helper_url:
        arguments += ["--test-helper", lab.test_helper_url]
    if run.time:
        arguments += ["--time", run.time]
    for key, value in run.annotations.items():
        arguments += ["--annotation", f"{key}={value}"]
    if run.upload and lab.collector_url:
        arguments += ["--collector", lab.collector_url]
    else:
        arguments += ["--no-upload"]
    return lab.client_argv(run.isp, cli_argv(*arguments))


def run_probe(lab: Lab, run: ProbeRun) -> list[dict[str, Any]]:
    """Run the probe and return the measurements it wrote, in file order."""
    run.output.unlink(missing_ok=True)
    argv = probe_argv(lab, run)
    limit = _RUN_GRACE + run.timeout * 10 * max(1, len(run.urls))
    what = f"probe {run.target or 'websites'} on {run.isp}"
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired as error:
        raise ProbeError(f"{what} ran over {limit:.0f} s") from error
    if done.returncode != 0:
        raise ProbeError(f"{what} exited {done.returncode}: {done.stderr[-3000:]}")
    return read_measurements(run.output)


def read_measurements(path: Path) -> list[dict[str, Any]]:
    """The measurements of a JSONL file (none if it does not exist)."""
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def verdict(measurement: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(blocking, accessible)`` of a web_connectivity measurement."""
    keys = measurement.get("test_keys") or {}
    return keys.get("blocking"), keys.get("accessible")
