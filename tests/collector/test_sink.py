"""The sink gets stored measurements off the request path and loses none."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from censorscope.collector import CollectorSettings, create_app
from censorscope.collector.sink import BACKLOG_NAME, LIVE_SINK_MODULE
from tests.collector.conftest import Probe, collector_of

_RELEASE_LIMIT_S = 60.0


class RecordingSink:
    """Keeps what it is given; optionally waits for a gate or fails."""

    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.entered = threading.Event()
        self.closed = False
        self._gate = gate
        self._fail = fail

    def submit(self, uid: str, doc: dict[str, Any]) -> None:
        self.entered.set()
        if self._gate is not None and not self._gate.wait(_RELEASE_LIMIT_S):
            raise TimeoutError("the test never opened the gate")
        if self._fail:
            raise RuntimeError("warehouse unavailable")
        self.received.append((uid, doc))

    def close(self) -> None:
        self.closed = True


async def _submit_distinct(
    app: FastAPI, sample: dict[str, Any], count: int
) -> list[str]:
    """Submit ``count`` distinct measurements under a new report; their uids."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        probe = Probe(client)
        report_id = await probe.open_report(sample)
        uids = []
        for i in range(count):
            doc = {**sample, "report_id": report_id, "input": f"http://{i}.example/"}
            response = await probe.submit(report_id, doc)
            assert response.status_code == 200, response.text
            uids.append(response.json()["measurement_uid"])
    return uids


def _backlog(settings: CollectorSettings) -> list[dict[str, Any]]:
    path = settings.archive_dir / BACKLOG_NAME
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_each_stored_measurement_reaches_the_sink_once_with_its_uid(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    sink = RecordingSink()
    settings = CollectorSettings(archive_dir=tmp_path, sink=sink)
    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 3)
    again = await _submit_distinct(app, samples[0], 3)  # same content, new report
    archive = collector_of(app).archive
    stored = {uid: archive.get(uid) for uid in uids}
    collector_of(app).close()

    assert again == uids
    assert [uid for uid, _ in sink.received] == uids
    assert all(doc == stored[uid] for uid, doc in sink.received)
    assert sink.closed


async def test_a_stalled_sink_does_not_hold_up_probes(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    gate = threading.Event()
    sink = RecordingSink(gate)
    settings = CollectorSettings(archive_dir=tmp_path, sink=sink)

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 5)
    # Every submission was answered while the sink could not take any.
    stuck_while_answering = sink.entered.wait(_RELEASE_LIMIT_S) and not sink.received
    gate.set()
    collector_of(app).close()

    assert stuck_while_answering
    assert [uid for uid, _ in sink.received] == uids


async def test_a_failing_sink_loses_nothing_and_backlogs_the_uids(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    settings = CollectorSettings(archive_dir=tmp_path, sink=RecordingSink(fail=True))

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 3)
    collector = collector_of(app)
    collector.close()

    assert [entry["measurement_uid"] for entry in _backlog(settings)] == uids
    assert "RuntimeError: warehouse unavailable" in _backlog(settings)[0]["reason"]
    assert collector.sink is not None and collector.sink.failed == 3


async def test_when_the_sink_queue_is_full_measurements_are_backlogged_not_dropped(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    gate = threading.Event()
    sink = RecordingSink(gate)
    settings = CollectorSettings(archive_dir=tmp_path, sink=sink, sink_queue_size=1)

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 5)
    gate.set()
    collector_of(app).close()

    backlogged = [entry["measurement_uid"] for entry in _backlog(settings)]
    delivered = [uid for uid, _ in sink.received]
    assert len(backlogged) >= 3
    assert sorted(backlogged + delivered) == sorted(uids)
    assert all(entry["reason"] == "sink queue full" for entry in _backlog(settings))


class UndeliveringSink(RecordingSink):
    """Takes measurements but, at shutdown, reports them all undelivered."""

    def close(self) -> list[str]:  # type: ignore[override]
        self.closed = True
        return [uid for uid, _ in self.received]


async def test_what_the_sink_could_not_deliver_by_shutdown_is_backlogged(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    settings = CollectorSettings(archive_dir=tmp_path, sink=UndeliveringSink())

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 3)
    collector_of(app).close()

    assert [entry["measurement_uid"] for entry in _backlog(settings)] == uids
    assert {entry["reason"] for entry in _backlog(settings)} == {
        "not loaded before shutdown (warehouse busy)"
    }


async def test_the_live_scoring_sink_is_made_from_the_warehouse_path(
    tmp_path: Path, samples: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path] = []
    sink = RecordingSink()

    def make_sink(warehouse: Path) -> RecordingSink:
        made.append(warehouse)
        return sink

    live = types.ModuleType(LIVE_SINK_MODULE)
    live.make_sink = make_sink  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, LIVE_SINK_MODULE, live)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = CollectorSettings(archive_dir=tmp_path / "archive", warehouse=warehouse)

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 2)
    collector_of(app).close()

    assert made == [warehouse]
    assert [uid for uid, _ in sink.received] == uids


async def test_without_live_scoring_measurements_are_stored_only(
    tmp_path: Path, samples: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, LIVE_SINK_MODULE, None)
    settings = CollectorSettings(archive_dir=tmp_path, warehouse=tmp_path / "w.duckdb")

    app = create_app(settings)
    uids = await _submit_distinct(app, samples[0], 2)
    collector = collector_of(app)

    assert collector.sink is None
    assert all(collector.archive.get(uid) for uid in uids)
    collector.close()
