"""The collector protocol as probes speak it: open, submit, close, single-call."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import orjson
import pytest
import zstandard
from fastapi import FastAPI

from censorscope.measurement.ids import MEASUREMENT_UID_RE, REPORT_ID_RE
from tests.collector.conftest import LiveServer, Probe, collector_of, report_request


async def test_a_probe_submits_every_sample_over_a_real_socket_and_each_is_archived(
    app: FastAPI, live_server: LiveServer, samples: list[dict[str, Any]]
) -> None:
    archive = collector_of(app).archive
    stored: dict[str, dict[str, Any]] = {}

    async with httpx.AsyncClient(base_url=live_server.url) as client:
        probe = Probe(client)
        for sample in samples:
            report_id = await probe.open_report(sample)
            doc = {**sample, "report_id": report_id}
            response = await probe.submit(report_id, doc)
            assert response.status_code == 200, response.text
            closed = await client.post(f"/report/{report_id}/close")
            assert closed.json() == {"status": "success"}
            stored.setdefault(response.json()["measurement_uid"], doc)

    # Two of the samples (report2, report2blocked) are the same measurement.
    distinct = {orjson.dumps(s, option=orjson.OPT_SORT_KEYS) for s in samples}
    assert len(stored) == len(distinct) > 30
    for uid, doc in stored.items():
        assert MEASUREMENT_UID_RE.match(uid)
        assert archive.locate(uid) is not None
        assert archive.get(uid) == {**doc, "measurement_uid": uid}


async def test_the_censorscope_probe_uploader_submits_to_the_collector(
    app: FastAPI, live_server: LiveServer, samples: list[dict[str, Any]]
) -> None:
    from censorscope.probe.upload import CollectorClient, report_template

    sample = next(s for s in samples if s["test_name"] == "whatsapp")
    async with CollectorClient(live_server.url) as uploader:
        report_id = await uploader.open_report(report_template(sample))
        doc = {**sample, "report_id": report_id}
        uid = await uploader.submit(report_id, doc)
        await uploader.close_report(report_id)

    assert uid is not None
    assert collector_of(app).archive.get(uid) == {**doc, "measurement_uid": uid}


async def test_opening_a_report_returns_an_id_encoding_test_country_and_asn(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    whatsapp = next(s for s in samples if s["test_name"] == "whatsapp")

    response = await client.post("/report", json=report_request(whatsapp))

    body = response.json()
    assert response.status_code == 200
    assert body["supported_formats"] == ["json"]
    assert body["backend_version"].startswith("censorscope/")
    assert REPORT_ID_RE.match(body["report_id"])
    assert "_whatsapp_IE_6830_n1_" in body["report_id"]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
        ("identity", lambda data: data),
    ],
)
async def test_compressed_submissions_are_accepted(
    probe: Probe,
    app: FastAPI,
    samples: list[dict[str, Any]],
    encoding: str,
    compress: Any,
) -> None:
    sample = samples[0]
    report_id = await probe.open_report(sample)
    doc = {**sample, "report_id": report_id}
    body = compress(orjson.dumps({"format": "json", "content": doc}))

    response = await probe.client.post(
        f"/report/{report_id}",
        content=body,
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
    )

    uid = response.json()["measurement_uid"]
    assert collector_of(app).archive.get(uid) == {**doc, "measurement_uid": uid}


async def test_single_call_submission_assigns_a_report_id_and_stores_the_content(
    client: httpx.AsyncClient, app: FastAPI, samples: list[dict[str, Any]]
) -> None:
    sample = next(s for s in samples if s["test_name"] == "signal")
    envelope = {
        "format": "json",
        "content": orjson.dumps(sample).decode(),
        "nym": "secret-nym",
        "protocol_version": 1,
    }

    response = await client.post("/api/v1/submit_measurement", json=envelope)

    body = response.json()
    assert response.status_code == 200, body
    assert body["verification_status"] == "unverified"
    assert body["error"] is None and body["protocol_version"] == 1
    assert REPORT_ID_RE.match(body["report_id"]) and "_signal_" in body["report_id"]
    stored = collector_of(app).archive.get(body["measurement_uid"])
    assert stored == {
        **sample,
        "report_id": body["report_id"],
        "measurement_uid": body["measurement_uid"],
    }
    assert "secret-nym" not in orjson.dumps(stored).decode()


async def test_a_resubmission_returns_the_same_uid_and_is_stored_once(
    probe: Probe, app: FastAPI, samples: list[dict[str, Any]]
) -> None:
    sample = samples[2]
    report_id = await probe.open_report(sample)
    doc = {**sample, "report_id": report_id}

    first = await probe.submit(report_id, doc)
    second = await probe.submit(report_id, doc)
    later_report = await probe.open_report(sample)
    third = await probe.submit(later_report, {**sample, "report_id": later_report})
    single = await probe.client.post(
        "/api/v1/submit_measurement",
        json={"format": "json", "content": orjson.dumps(sample).decode()},
    )

    uids = {r.json()["measurement_uid"] for r in (first, second, third, single)}
    assert len(uids) == 1
    assert single.json()["report_id"] == report_id
    assert collector_of(app).archive.count() == 1


async def test_two_hundred_parallel_submissions_over_a_real_socket_all_land(
    app: FastAPI, live_server: LiveServer, samples: list[dict[str, Any]]
) -> None:
    sample = next(s for s in samples if s["test_name"] == "web_connectivity")
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live_server.url, limits=limits) as client:
        probe = Probe(client)
        report_id = await probe.open_report(sample)
        docs = [
            {**sample, "report_id": report_id, "input": f"https://site{i}.example/"}
            for i in range(200)
        ]
        responses = await asyncio.gather(*(probe.submit(report_id, d) for d in docs))

    assert [r.status_code for r in responses] == [200] * 200
    uids = [r.json()["measurement_uid"] for r in responses]
    archive = collector_of(app).archive
    assert len(set(uids)) == 200 == archive.count()
    for doc, uid in zip(docs, uids, strict=True):
        assert archive.get(uid) == {**doc, "measurement_uid": uid}
    assert collector_of(app).writer.batches < 200


async def test_report_ids_survive_a_collector_restart(
    settings: Any, samples: list[dict[str, Any]]
) -> None:
    from censorscope.collector import create_app

    sample = samples[0]
    first_app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first_app), base_url="http://c"
    ) as client:
        report_id = await Probe(client).open_report(sample)
    collector_of(first_app).close()

    second_app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second_app), base_url="http://c"
    ) as client:
        response = await Probe(client).submit(
            report_id, {**sample, "report_id": report_id}
        )
    collector_of(second_app).close()

    assert response.status_code == 200, response.text


async def test_a_submission_after_close_is_still_accepted(
    probe: Probe, samples: list[dict[str, Any]]
) -> None:
    sample = samples[3]
    report_id = await probe.open_report(sample)
    await probe.client.post(f"/report/{report_id}/close")

    response = await probe.submit(report_id, {**sample, "report_id": report_id})

    assert response.status_code == 200
