"""``censorscope serve`` run as a user runs it: a process on a real port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from typer.testing import CliRunner

from censorscope.cli import app as cli_app
from tests.collector.conftest import report_request

_STARTUP_LIMIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _STARTUP_LIMIT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"censorscope serve did not start (exit code {process.poll()})")


def test_serve_accepts_a_submission_that_archive_get_then_prints(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    port, archive = _free_port(), tmp_path / "archive"
    command = [sys.executable, "-c", "from censorscope.cli import main; main()"]
    arguments = ["serve", "--port", str(port), "--archive", str(archive)]
    process = subprocess.Popen([*command, *arguments], stderr=subprocess.PIPE)
    try:
        _wait_until_listening(process, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            opened = client.post("/report", json=report_request(samples[0])).json()
            doc = {**samples[0], "report_id": opened["report_id"]}
            envelope = {"format": "json", "content": doc}
            answer = client.post(f"/report/{opened['report_id']}", json=envelope).json()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)

    uid = answer["measurement_uid"]
    printed = CliRunner().invoke(cli_app, ["archive", "get", uid, "-a", str(archive)])
    assert process.returncode == 0, stderr.decode()
    assert orjson.loads(printed.stdout) == {**doc, "measurement_uid": uid}
