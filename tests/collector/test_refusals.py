"""Bad submissions get a 4xx naming the problem, and nothing valid is lost."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import zstandard
from fastapi import FastAPI

from censorscope.collector import CollectorSettings
from tests.collector.conftest import LiveServer, Probe, collector_of, report_request

LIMIT = 64 * 1024
UNKNOWN_ID = "20240301T101500Z_webconnectivity_IT_30722_n1_AAAAAAAAAAAAAAAA"


@pytest.fixture
def settings(tmp_path: Path) -> CollectorSettings:
    return CollectorSettings(archive_dir=tmp_path / "archive", max_body_bytes=LIMIT)


@pytest.fixture
async def opened(
    probe: Probe, samples: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """An open report and a small real measurement that belongs to it."""
    sample = next(s for s in samples if s["test_name"] == "web_connectivity")
    report_id = await probe.open_report(sample)
    return report_id, {**sample, "report_id": report_id}


def _envelope(doc: Any) -> bytes:
    return orjson.dumps({"format": "json", "content": doc})


def _with(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    return lambda doc: _envelope({**doc, **changes})


def _without(field: str) -> Callable[[dict[str, Any]], bytes]:
    return lambda doc: _envelope({k: v for k, v in doc.items() if k != field})


SUBMISSION_CASES: dict[
    str, tuple[Callable[[dict[str, Any]], bytes], int, str, str | None]
] = {
    "bad JSON": (lambda doc: _envelope(doc)[:-5], 400, "invalid_json", None),
    "envelope not an object": (lambda doc: b"[1, 2]", 400, "invalid_request", None),
    "yaml format": (
        lambda doc: orjson.dumps({"format": "yaml", "content": doc}),
        400,
        "unsupported_format",
        "format",
    ),
    "no content": (
        lambda doc: b'{"format": "json"}',
        400,
        "invalid_request",
        "content",
    ),
    "content a string": (
        lambda doc: _envelope(orjson.dumps(doc).decode()),
        400,
        "invalid_measurement",
        None,
    ),
    "test_keys a list": (_with(test_keys=[1]), 400, "invalid_measurement", "test_keys"),
    "no test_name": (_without("test_name"), 400, "invalid_measurement", "test_name"),
    "other report id": (
        _with(report_id=UNKNOWN_ID),
        400,
        "inconsistent_measurement",
        "report_id",
    ),
    "other country": (
        _with(probe_cc="ML"),
        400,
        "inconsistent_measurement",
        "probe_cc",
    ),
    "other network": (
        _with(probe_asn="AS1"),
        400,
        "inconsistent_measurement",
        "probe_asn",
    ),
    "other test": (
        _with(test_name="whatsapp"),
        400,
        "inconsistent_measurement",
        "test_name",
    ),
    "lower-case country": (_with(probe_cc="it"), 400, "bad_metadata", "probe_cc"),
    "asn without AS": (_with(probe_asn="30722"), 400, "bad_metadata", "probe_asn"),
    "asn a number": (_with(probe_asn=30722), 400, "invalid_measurement", "probe_asn"),
    "no country": (_without("probe_cc"), 400, "bad_metadata", "probe_cc"),
    "oversize": (_with(padding="x" * LIMIT), 413, "body_too_large", None),
}


@pytest.mark.parametrize("case", SUBMISSION_CASES)
async def test_a_bad_submission_is_refused_naming_the_problem_and_good_ones_still_land(
    probe: Probe, app: FastAPI, opened: tuple[str, dict[str, Any]], case: str
) -> None:
    report_id, doc = opened
    make_body, status, error, field = SUBMISSION_CASES[case]

    refused = await probe.client.post(f"/report/{report_id}", content=make_body(doc))
    accepted = await probe.submit(report_id, doc)

    body = refused.json()
    assert (refused.status_code, body["error"]) == (status, error), body
    assert isinstance(body["detail"], str) and body["detail"]
    assert body.get("field") == field
    assert accepted.status_code == 200
    assert collector_of(app).archive.count() == 1


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        (f"/report/{UNKNOWN_ID}", 404, "unknown_report_id"),
        ("/report/not-a-report-id", 400, "bad_report_id"),
        (f"/report/{UNKNOWN_ID}/close", 404, "unknown_report_id"),
        ("/no/such/endpoint", 404, "not_found"),
    ],
)
async def test_unknown_or_malformed_report_ids_are_refused(
    probe: Probe, opened: tuple[str, dict[str, Any]], path: str, status: int, error: str
) -> None:
    _, doc = opened

    response = await probe.client.post(
        path, content=_envelope({**doc, "report_id": UNKNOWN_ID})
    )

    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_a_wrong_method_gets_the_same_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/report")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


OPEN_CASES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "bad asn": ({"probe_asn": "ASX"}, "bad_metadata", "probe_asn"),
    "bad country": ({"probe_cc": "Italy"}, "bad_metadata", "probe_cc"),
    "no test name": ({"test_name": None}, "bad_metadata", "test_name"),
    "number test name": ({"test_name": 7}, "bad_metadata", "test_name"),
    "spaces in software": (
        {"software_name": "my probe"},
        "bad_metadata",
        "software_name",
    ),
    "yaml": ({"format": "yaml"}, "unsupported_format", "format"),
}


@pytest.mark.parametrize("case", OPEN_CASES)
async def test_a_bad_report_request_is_refused_naming_the_field(
    client: httpx.AsyncClient, samples: list[dict[str, Any]], case: str
) -> None:
    changes, error, field = OPEN_CASES[case]
    request = {**report_request(samples[0]), **changes}

    response = await client.post("/report", json=request)

    assert response.status_code == 400
    assert (response.json()["error"], response.json().get("field")) == (error, field)


def _single(content: Any) -> bytes:
    return orjson.dumps({"format": "json", "content": content})


SINGLE_CASES: dict[str, tuple[Callable[[dict[str, Any]], bytes], str, str | None]] = {
    "content not JSON": (lambda doc: _single("{oops"), "invalid_json", "content"),
    "content a list": (lambda doc: _single("[1]"), "invalid_measurement", None),
    "no content": (lambda doc: b'{"format": "json"}', "invalid_request", "content"),
    "no country": (
        lambda doc: _single(orjson.dumps({**doc, "probe_cc": None}).decode()),
        "bad_metadata",
        "probe_cc",
    ),
}


@pytest.mark.parametrize("case", SINGLE_CASES)
async def test_a_bad_single_call_submission_is_refused(
    client: httpx.AsyncClient, samples: list[dict[str, Any]], case: str
) -> None:
    make_body, error, field = SINGLE_CASES[case]

    response = await client.post(
        "/api/v1/submit_measurement", content=make_body(samples[0])
    )

    assert response.status_code == 400
    assert (response.json()["error"], response.json().get("field")) == (error, field)


ENCODING_CASES: dict[str, tuple[str, Callable[[bytes], bytes], int, str]] = {
    "unknown encoding": ("br", lambda body: body, 415, "unsupported_encoding"),
    "corrupt gzip": (
        "gzip",
        lambda body: gzip.compress(body)[:-12],
        400,
        "bad_encoding",
    ),
    "not zstd": ("zstd", lambda body: b"plain" + body, 400, "bad_encoding"),
    "gzip bomb": (
        "gzip",
        lambda body: gzip.compress(body[:-1] + b" " * (LIMIT + 1) + body[-1:]),
        413,
        "body_too_large",
    ),
    "zstd bomb": (
        "zstd",
        lambda body: zstandard.ZstdCompressor().compress(
            body[:-1] + b" " * LIMIT + b"}"
        ),
        413,
        "body_too_large",
    ),
}


@pytest.mark.parametrize("case", ENCODING_CASES)
async def test_bodies_that_do_not_decode_within_the_limit_are_refused(
    probe: Probe, opened: tuple[str, dict[str, Any]], case: str
) -> None:
    report_id, doc = opened
    encoding, encode, status, error = ENCODING_CASES[case]

    response = await probe.client.post(
        f"/report/{report_id}",
        content=encode(_envelope(doc)),
        headers={"Content-Encoding": encoding},
    )

    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_an_oversize_body_over_a_real_socket_gets_413_and_the_next_one_lands(
    app: FastAPI, live_server: LiveServer, samples: list[dict[str, Any]]
) -> None:
    sample = next(s for s in samples if s["test_name"] == "web_connectivity")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        probe = Probe(client)
        report_id = await probe.open_report(sample)
        doc = {**sample, "report_id": report_id}
        refused = await probe.submit(report_id, {**doc, "padding": "x" * 2 * LIMIT})
        accepted = await probe.submit(report_id, doc)

    assert refused.status_code == 413
    assert "exceeds the limit of 65536 bytes" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert collector_of(app).archive.count() == 1


async def test_a_storage_failure_is_answered_503_so_the_probe_retries_later(
    probe: Probe, app: FastAPI, opened: tuple[str, dict[str, Any]]
) -> None:
    report_id, doc = opened
    collector_of(app).archive.close()  # the index is gone: nothing can be stored

    response = await probe.submit(report_id, doc)

    assert response.status_code == 503
    assert response.json()["error"] == "storage_failed"
