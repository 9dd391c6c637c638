"""Several processes on one warehouse file: they take turns, nothing is lost.

Real processes throughout: DuckDB's lock is a file lock between processes,
so a thread in this process would not show what an operator meets.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from censorscope.collector.sink import BACKLOG_NAME
from censorscope.measurement.readers import measurement_files, read_measurements
from censorscope.warehouse import (
    LIVE_SOURCE,
    WarehouseBusyError,
    WarehouseError,
    open_warehouse,
)
from tests.collector.conftest import report_request, usable_samples
from tests.warehouse.lockholder import held, release_later
from tests.warehouse.test_duckdb import row

CLI = [sys.executable, "-c", "from censorscope.cli import main; main()"]
_STARTUP_LIMIT_S = 60.0
_LOAD_LIMIT_S = 60.0
_MIN_LIVE = 20


def test_a_store_leaves_the_file_free_between_calls(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    store = open_warehouse(path)
    store.upsert_many([row("u1")])

    with held(path):  # another process can take it for writing
        pass

    assert store.count() == 1


def test_a_writer_waits_while_another_process_holds_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "w.duckdb"
    store = open_warehouse(path)
    started = threading.Event()
    caplog.set_level(logging.DEBUG, logger="censorscope.warehouse.locking")

    with held(path) as holder:
        releaser = threading.Thread(target=release_later, args=(holder, started))
        releaser.start()
        started.set()
        store.upsert_many([row("u1"), row("u2")])
        releaser.join()

    assert store.count() == 2
    assert f"PID {holder.pid}" in caplog.text


def test_a_writer_that_cannot_get_the_file_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    store = open_warehouse(path, busy_timeout=0.3)

    with held(path) as holder, pytest.raises(WarehouseBusyError) as caught:
        store.upsert_many([row("u1")])

    message = str(caught.value)
    assert f"PID {holder.pid}" in message
    assert "duckdb.connect" in message  # the holder's command line
    assert "gave up after" in message


# Announces itself as waiting for the file (see warehouse.locking) until stdin closes.
WAITER = """
import fcntl, sys
with open(sys.argv[1] + ".waiters", "a") as waiters:
    fcntl.flock(waiters, fcntl.LOCK_SH)
    print("waiting", flush=True)
    sys.stdin.read()
"""


def test_an_opener_yields_to_a_process_announced_as_waiting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "w.duckdb"
    store = open_warehouse(path)
    caplog.set_level(logging.DEBUG, logger="censorscope.warehouse.locking")
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert waiter.stdout is not None and waiter.stdin is not None
    try:
        assert waiter.stdout.readline().strip() == "waiting"
        store.upsert_many([row("u1")])  # yields a while, then goes ahead
    finally:
        waiter.stdin.close()
        waiter.wait(30)

    assert "yielding to another opener" in caplog.text
    assert store.count() == 1


def test_readers_share_the_file_and_keep_writers_out(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    writer = open_warehouse(path, busy_timeout=0.3)
    writer.upsert_many([row("u1")])

    with held(path, read_only=True):
        assert open_warehouse(path, read_only=True).count() == 1
        with pytest.raises(WarehouseBusyError):
            writer.upsert_many([row("u2")])

    writer.upsert_many([row("u2")])
    assert writer.count() == 2


# --- serve, ingest, rescore and readers on one file ----------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Serve:
    """``censorscope serve --warehouse`` in a subprocess on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(cls, archive: Path, warehouse: Path, log: Path) -> Serve:
        port = _free_port()
        args = ["serve", "--archive", str(archive), "--warehouse", str(warehouse)]
        args += ["--host", "127.0.0.1", "--port", str(port)]
        # No fingerprints in its data dir: live rows are scored without them.
        env = {**_env(), "CENSORSCOPE_DATA_DIR": str(log.parent / "serve-data")}
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [*CLI, *args], stdout=subprocess.DEVNULL, stderr=stderr, env=env
            )
        serve = cls(process, f"http://127.0.0.1:{port}", log)
        serve.wait_ready()
        return serve

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _STARTUP_LIMIT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(self.url + "/api/v1/raw_measurement?measurement_uid=x")
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"serve did not start:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class LiveProbe:
    """Submits distinct real measurements and reads them back, over HTTP."""

    client: httpx.Client
    samples: list[dict[str, Any]]
    uids: list[str] = field(default_factory=list)
    reads: int = 0

    def submit_one(self) -> str:
        index = len(self.uids)
        sample = self.samples[index % len(self.samples)]
        opened = self.client.post("/report", json=report_request(sample))
        assert opened.status_code == 200, opened.text
        report_id = opened.json()["report_id"]
        doc = {**sample, "report_id": report_id, "input": f"http://{index}.live.test/"}
        response = self.client.post(
            f"/report/{report_id}", json={"format": "json", "content": doc}
        )
        assert response.status_code == 200, response.text
        uid: str = response.json()["measurement_uid"]
        self.uids.append(uid)
        return uid

    def meta(self, uid: str) -> dict[str, Any]:
        """measurement_meta of ``uid``; it must answer, ingest or not."""
        response = self.client.get(
            "/api/v1/measurement_meta", params={"measurement_uid": uid}
        )
        assert response.status_code == 200, response.text
        self.reads += 1
        answer: dict[str, Any] = response.json()
        return answer

    def wait_loaded(self) -> None:
        deadline = time.monotonic() + _LOAD_LIMIT_S
        for uid in self.uids:
            while not self.meta(uid):
                assert time.monotonic() < deadline, f"{uid} never loaded"
                time.sleep(0.02)


def _run(args: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, *args], stdout=log, stderr=subprocess.STDOUT, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def _submit_while(process: subprocess.Popen[bytes], probe: LiveProbe) -> None:
    """Submit (and read back) until ``process`` ends, at least ``_MIN_LIVE``."""
    while process.poll() is None or len(probe.uids) < _MIN_LIVE:
        uid = probe.submit_one()
        probe.meta(uid)


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[tuple[Serve, Path, Path]]:
    """A running serve, its archive and its warehouse."""
    archive, warehouse = tmp_path / "archive", tmp_path / "w.duckdb"
    serve = Serve.start(archive, warehouse, tmp_path / "serve.log")
    try:
        yield serve, archive, warehouse
    finally:
        serve.stop()


def _digest(warehouse: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per uid, live and not."""
    store = open_warehouse(warehouse, read_only=True)
    counted = store.query(
        "SELECT measurement_uid AS uid, source = $live AS live, count(*) AS n "
        "FROM measurements GROUP BY ALL",
        {"live": LIVE_SOURCE},
    )
    live = {r["uid"]: r["n"] for r in counted if r["live"]}
    ingested = {r["uid"]: r["n"] for r in counted if not r["live"]}
    return live, ingested


def test_serve_and_ingest_share_one_warehouse_and_lose_nothing(
    stage: tuple[Serve, Path, Path], shared_data: Path, tmp_path: Path
) -> None:
    serve, archive, warehouse = stage
    samples = shared_data / "ooni-samples"
    expected = {m.uid for m in read_measurements(list(measurement_files([samples])))}
    ingest_args = ["-vv", "ingest", "--warehouse", str(warehouse), "--jobs", "1"]
    ingest_args += ["--fingerprints", str(shared_data / "fingerprints"), str(samples)]

    with (
        (tmp_path / "ingest.log").open("wb") as log,
        httpx.Client(base_url=serve.url, timeout=60) as client,
    ):
        probe = LiveProbe(client, usable_samples(shared_data))
        ingest = _run(ingest_args, log)
        _submit_while(ingest, probe)
        listed = subprocess.run(
            [*CLI, "measurements", "-w", str(warehouse), "--json", "--limit", "5"],
            capture_output=True, env=_env(), check=False,
        )  # fmt: skip
        probe.wait_loaded()
    assert serve.stop() == 0, serve.log.read_text()

    assert ingest.returncode == 0, (tmp_path / "ingest.log").read_text()
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 5
    live, ingested = _digest(warehouse)
    assert live == dict.fromkeys(probe.uids, 1)
    assert ingested == dict.fromkeys(expected, 1)
    assert not (archive / BACKLOG_NAME).exists()


def test_rescore_runs_while_serve_loads_live_measurements(
    stage: tuple[Serve, Path, Path], shared_data: Path, tmp_path: Path
) -> None:
    serve, archive, warehouse = stage
    rescore_args = ["rescore", "--warehouse", str(warehouse), "--jobs", "1"]
    rescore_args += ["--fingerprints", str(shared_data / "fingerprints")]
    rescore_args += ["--archive", str(archive)]

    with (
        (tmp_path / "rescore.log").open("wb") as log,
        httpx.Client(base_url=serve.url, timeout=60) as client,
    ):
        probe = LiveProbe(client, usable_samples(shared_data))
        for _ in range(_MIN_LIVE):  # scored live without fingerprints: stale
            probe.submit_one()
        probe.wait_loaded()
        rescore = _run(rescore_args, log)
        _submit_while(rescore, probe)
        probe.wait_loaded()
    assert serve.stop() == 0, serve.log.read_text()

    assert rescore.returncode == 0, (tmp_path / "rescore.log").read_text()
    live, _ = _digest(warehouse)
    assert live == dict.fromkeys(probe.uids, 1)
    store = open_warehouse(warehouse, read_only=True)
    versions = store.query(
        "SELECT fingerprints_version, count(*) AS n FROM measurements "
        "WHERE measurement_uid IN (SELECT unnest($uids::VARCHAR[])) GROUP BY ALL",
        {"uids": probe.uids[:_MIN_LIVE]},
    )
    [(version, count)] = [(r["fingerprints_version"], r["n"]) for r in versions]
    assert (version.startswith("fp-"), count) == (True, _MIN_LIVE)


def test_a_failed_call_inside_a_transaction_still_releases_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.duckdb"
    store = open_warehouse(path)
    with pytest.raises(WarehouseError), store.session():
        store.query("BEGIN TRANSACTION")
        store.query("SELECT no_such_column FROM measurements")

    with held(path):  # another process can take it for writing
        pass
    assert store.count() == 0
