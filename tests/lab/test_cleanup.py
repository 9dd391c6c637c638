"""The lab removes everything it made on every exit path."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from censorscope.lab import netns
from censorscope.lab.topology import IspSpec, Lab, remove_leftover_workdirs
from tests.lab.conftest import lab_skip_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

_HOLD_LAB = """
import sys, time
from censorscope.lab.topology import IspSpec, Lab, terminate_as_interrupt
with terminate_as_interrupt(), Lab([IspSpec("a", 1, "ML")], run_id=sys.argv[1],
                                   start_test_helper=False):
    print("up", flush=True)
    time.sleep(600)
"""


def ours(run_id: str) -> list[str]:
    return netns.leftovers(f"{netns.PREFIX}{run_id}-")


def test_an_error_inside_the_lab_still_removes_its_namespaces() -> None:
    lab = Lab([IspSpec("a", 1, "ML")], start_test_helper=False)
    with pytest.raises(ZeroDivisionError), lab:
        assert len(ours(lab.run_id)) == 3
        _ = 1 / 0
    assert ours(lab.run_id) == []
    assert not lab.workdir.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_tears_the_lab_down(signum: signal.Signals) -> None:
    run_id = f"sig{signum.value}"
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LAB, run_id], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "up"
    assert len(ours(run_id)) == 3
    process.send_signal(signum)
    process.wait(30)
    assert ours(run_id) == []


def test_lab_down_removes_leftovers_of_a_killed_run() -> None:
    run_id = "killed"
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LAB, run_id], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "up"
    process.kill()
    process.wait(30)
    deadline = time.monotonic() + 5
    while not ours(run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(ours(run_id)) == 3
    netns.remove_leftovers(f"{netns.PREFIX}{run_id}-")
    assert remove_leftover_workdirs(run_id)
    assert ours(run_id) == []
