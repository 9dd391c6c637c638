"""A probe's public address that slipped into a measurement is not archived."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from censorscope.collector.privacy import scrub_client_address
from tests.collector.conftest import Probe, collector_of

PUBLIC = "81.2.69.142"


async def test_the_senders_public_address_is_scrubbed_before_archiving(
    app: FastAPI, samples: list[dict[str, Any]]
) -> None:
    sample = next(s for s in samples if s["test_name"] == "web_connectivity")
    transport = httpx.ASGITransport(app=app, client=(PUBLIC, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        probe = Probe(client)
        report_id = await probe.open_report(sample)
        leaky = {
            **sample,
            "report_id": report_id,
            "probe_ip": PUBLIC,
            "annotations": {"note": f"seen from {PUBLIC}:443", "other": f"1{PUBLIC}"},
        }
        response = await probe.submit(report_id, leaky)

    stored = collector_of(app).archive.get(response.json()["measurement_uid"])
    assert stored is not None
    assert stored["probe_ip"] == "[scrubbed]"
    assert stored["annotations"] == {
        "note": "seen from [scrubbed]:443",
        "other": f"1{PUBLIC}",
    }
    assert stored["test_keys"] == sample["test_keys"]


@pytest.mark.parametrize(
    "client_host", ["127.0.0.1", "10.0.0.7", "not-an-address", None]
)
def test_loopback_private_or_unknown_senders_leave_the_measurement_untouched(
    samples: list[dict[str, Any]], client_host: str | None
) -> None:
    doc = samples[0]

    assert scrub_client_address(doc, client_host) is doc


PUBLIC_V6 = "2a00:1450:4001:82a::200e"


@pytest.mark.parametrize(
    ("address", "text", "expected"),
    [
        (PUBLIC, f"{PUBLIC}", "[scrubbed]"),
        (PUBLIC, f"http://{PUBLIC}:80/", "http://[scrubbed]:80/"),
        (PUBLIC, f"{PUBLIC}0", f"{PUBLIC}0"),
        (PUBLIC, f"{PUBLIC}.5", f"{PUBLIC}.5"),
        (PUBLIC, f"9{PUBLIC}", f"9{PUBLIC}"),
        (PUBLIC_V6, f"[{PUBLIC_V6}]:443", "[[scrubbed]]:443"),
        (PUBLIC_V6, f"{PUBLIC_V6}1", f"{PUBLIC_V6}1"),
    ],
)
def test_only_the_whole_address_is_scrubbed(
    address: str, text: str, expected: str
) -> None:
    scrubbed = scrub_client_address({"test_keys": {"x": text}}, address)

    assert orjson.dumps(scrubbed["test_keys"]["x"]) == orjson.dumps(expected)
