"""``censorscope lab up --scenario X --at T``: the policy in force at T, applied."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from censorscope.lab import netns
from censorscope.lab.topology import cli_argv
from tests.lab.conftest import SOCKET_PROBE, lab_skip_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

ELECTION_EVENING = "2018-07-29 19:08:00"


@pytest.fixture(scope="module")
def running_lab() -> Iterator[tuple[str, str]]:
    """The mali-2018 lab at 19:08 on election day: (its output, its run prefix)."""
    argv = cli_argv("lab", "up", "--scenario", "mali-2018", "--at", ELECTION_EVENING)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines, prefix = [], ""
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("lab is up"):
                break
        output = "".join(lines)
        found = re.search(r"(cs-[0-9a-f]{6}-)c1", output)
        assert found, output
        prefix = found.group(1)
        yield output, prefix
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert prefix and netns.leftovers(prefix) == []


def probe(running: tuple[str, str], client: str, *arguments: str) -> dict[str, Any]:
    output, prefix = running
    bundle = re.search(r"CA bundle (\S+lab-ca\.pem)", output)
    assert bundle, output
    argv = [sys.executable, str(SOCKET_PROBE), *arguments]
    if arguments[0] == "fetch":
        argv.append(bundle.group(1))
    done = subprocess.run(
        netns.in_namespace(prefix + client, argv),
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_printed_policy_is_the_one_in_force_at_that_time(
    running_lab: tuple[str, str],
) -> None:
    output = running_lab[0]
    assert f"policies in force at {ELECTION_EVENING}:" in output
    assert "tls-drop web.whatsapp.com" in output
    assert "ip-blackhole v.whatsapp.net" in output
    assert "sotelma: nothing" in output


def test_the_censor_acts_on_orange_mali_only(running_lab: tuple[str, str]) -> None:
    twitter = ("fetch", "https://twitter.com/")
    assert probe(running_lab, "c1", *twitter) == {"error": "reset"}
    assert probe(running_lab, "c1", "connect", "v.whatsapp.net", "443") == {
        "error": "timeout"
    }
    assert probe(running_lab, "c2", *twitter)["status"] == 200
    assert "connected" in probe(running_lab, "c2", "connect", "v.whatsapp.net", "443")


def test_at_without_a_scenario_is_a_usage_error() -> None:
    argv = cli_argv("lab", "up", "--at", ELECTION_EVENING)
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    assert done.returncode == 2
    assert "--scenario" in done.stderr
