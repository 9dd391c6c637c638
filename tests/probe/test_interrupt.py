"""Ctrl-C stops a run between inputs and keeps what was measured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from censorscope.probe.results import ResultsStore
from tests.conftest import REPO_ROOT
from tests.probe.conftest import Probe


def wait_for_first_measurement(home: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        runs = ResultsStore(home).runs()
        if runs and any(True for _ in runs[0].measurements()):
            return
        time.sleep(0.02)
    raise AssertionError("the run never stored a measurement")


def test_ctrl_c_stops_between_inputs_and_keeps_the_measurements(probe: Probe) -> None:
    inputs = [arg for i in range(50) for arg in ("-i", f"slow://{i}")]
    command = [sys.executable, "-m", "tests.probe.cli_main", "run"]
    command += ["tests.probe.local_nettests:SlowTest", *inputs, *probe.base]
    command += ["--parallel", "2", "-O", "delay=0.2"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE)

    wait_for_first_measurement(probe.home, process)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=30)

    assert process.returncode == 130, stdout.decode()
    [run] = ResultsStore(probe.home).runs()
    metadata = run.read_metadata()
    stored = list(run.measurements())
    assert metadata["status"] == "interrupted"
    assert 1 <= len(stored) < 50
    assert metadata["measurements"] == len(stored)
    assert b"Run summary (interrupted)" in stdout
