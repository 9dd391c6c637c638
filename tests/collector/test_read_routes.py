"""Reading a submitted measurement back: measurement_meta and raw_measurement."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from censorscope.collector import CollectorSettings, create_app
from censorscope.measurement.readers import read_file
from censorscope.scoring.live import LiveSink, make_sink
from tests.collector.conftest import Probe, collector_of

# A real measurement that OONI's fingerprints confirm as blocked (Indonesia).
ID_SAMPLE = "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json"
OONI_FIELDS = {
    "input",
    "measurement_start_time",
    "measurement_uid",
    "report_id",
    "test_name",
    "test_start_time",
    "probe_asn",
    "probe_cc",
    "scores",
    "anomaly",
    "confirmed",
    "failure",
    "category_code",
}
_LOAD_LIMIT_S = 10.0
OUR_FIELDS = {"blocking", "down", "evidence"}


@dataclass
class Submitted:
    client: httpx.AsyncClient
    uid: str
    report_id: str
    doc: dict[str, Any]


@pytest.fixture
async def submitted(tmp_path: Path, shared_data: Path) -> AsyncIterator[Submitted]:
    """A collector with live scoring, holding the Indonesian sample."""
    [measurement] = read_file(shared_data / "ooni-samples" / ID_SAMPLE)
    sink = make_sink(
        tmp_path / "w.duckdb", fingerprints_dir=shared_data / "fingerprints"
    )
    app = create_app(CollectorSettings(archive_dir=tmp_path / "archive", sink=sink))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        probe = Probe(client)
        report_id = await probe.open_report(measurement.doc)
        doc = {**measurement.doc, "report_id": report_id}
        response = await probe.submit(report_id, doc)
        uid = response.json()["measurement_uid"]
        _wait_until_loaded(collector_of(app).sink_target, uid)
        yield Submitted(client, uid, report_id, doc)
    collector_of(app).close()


def _wait_until_loaded(sink: Any, uid: str) -> None:
    """Wait for the collector's sink thread and the live sink to load ``uid``."""
    assert isinstance(sink, LiveSink)
    deadline = time.monotonic() + _LOAD_LIMIT_S
    while sink.warehouse.get(uid) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{uid} never reached the warehouse")
        time.sleep(0.005)


async def _meta(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/measurement_meta", params=params)
    assert response.status_code == 200, response.text
    meta: dict[str, Any] = response.json()
    return meta


async def test_measurement_meta_answers_ooni_fields_and_our_verdict(
    submitted: Submitted,
) -> None:
    meta = await _meta(submitted.client, measurement_uid=submitted.uid)

    assert set(meta) == OONI_FIELDS | OUR_FIELDS
    assert meta["measurement_uid"] == submitted.uid
    assert meta["report_id"] == submitted.report_id
    assert meta["probe_asn"] == int(submitted.doc["probe_asn"][2:])
    assert meta["measurement_start_time"].endswith("Z")
    assert meta["test_start_time"].endswith("Z")
    assert orjson.loads(meta["scores"])["confirmed"] is True
    assert (meta["anomaly"], meta["confirmed"]) == (True, True)
    assert (meta["blocking"], meta["down"]) == ("http-diff", False)
    # Submitted today, measured in 2025: fastpath calls that a failure.
    assert meta["failure"] is True
    assert "date.too_old" in meta["evidence"]["rules"]


async def test_full_meta_and_raw_measurement_give_the_archived_measurement(
    submitted: Submitted,
) -> None:
    full = await _meta(submitted.client, measurement_uid=submitted.uid, full="true")
    raw = await submitted.client.get(
        "/api/v1/raw_measurement", params={"measurement_uid": submitted.uid}
    )

    expected = {**submitted.doc, "measurement_uid": submitted.uid}
    assert orjson.loads(full["raw_measurement"]) == expected
    assert raw.headers["content-type"] == "application/json"
    assert raw.json() == expected


async def test_a_measurement_is_found_by_report_id_and_input(
    submitted: Submitted,
) -> None:
    meta = await _meta(
        submitted.client,
        report_id=submitted.report_id,
        input=submitted.doc["input"],
    )

    assert meta["measurement_uid"] == submitted.uid


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"measurement_uid": "20240101000000.000000_IT_web_0"}, {}),
        (
            {"measurement_uid": "20240101000000.000000_IT_web_0", "full": "true"},
            {"raw_measurement": ""},
        ),
    ],
)
async def test_an_unknown_measurement_is_an_empty_answer(
    submitted: Submitted, params: dict[str, str], expected: dict[str, str]
) -> None:
    raw = await submitted.client.get("/api/v1/raw_measurement", params=params)

    assert await _meta(submitted.client, **params) == expected
    assert raw.json() == {}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "missing_parameter"),
        ({"measurement_uid": "no spaces please"}, "bad_measurement_uid"),
        ({"report_id": "short"}, "bad_report_id"),
    ],
)
async def test_a_malformed_lookup_is_refused(
    submitted: Submitted, params: dict[str, str], error: str
) -> None:
    response = await submitted.client.get("/api/v1/measurement_meta", params=params)

    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_without_a_warehouse_meta_is_unavailable_but_raw_is_served(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    app = create_app(CollectorSettings(archive_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        probe = Probe(client)
        report_id = await probe.open_report(samples[0])
        response = await probe.submit(report_id, {**samples[0], "report_id": report_id})
        params = {"measurement_uid": response.json()["measurement_uid"]}
        meta = await client.get("/api/v1/measurement_meta", params=params)
        raw = await client.get("/api/v1/raw_measurement", params=params)
    collector_of(app).close()

    assert (meta.status_code, meta.json()["error"]) == (503, "no_warehouse")
    assert raw.json()["report_id"] == report_id
