"""The probe's public IP never reaches a stored or uploaded measurement."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from censorscope.measurement.binary import decode_maybe_binary, is_binary_object
from censorscope.probe.results import ResultsStore
from censorscope.probe.scrub import Scrubber
from tests.probe.conftest import FAKE_PROBE_IP, Probe
from tests.probe.servers import Collector, Route, WebServer

HTTP = "tests.probe.local_nettests:HttpBodyTest"


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_in(v)]]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def binary_bodies_in(value: Any) -> list[bytes]:
    if is_binary_object(value):
        return [decode_maybe_binary(value) or b""]
    if isinstance(value, dict):
        return [b for v in value.values() for b in binary_bodies_in(v)]
    if isinstance(value, list):
        return [b for item in value for b in binary_bodies_in(item)]
    return []


def assert_no_probe_ip(doc: dict[str, Any]) -> None:
    assert FAKE_PROBE_IP not in orjson.dumps(doc).decode()
    for raw in binary_bodies_in(doc):
        assert FAKE_PROBE_IP.encode() not in raw
    assert doc["probe_ip"] == "127.0.0.1"


@pytest.fixture
def pages(web: WebServer) -> list[str]:
    """Pages that echo the probe's address back, as text, XML and binary."""
    text = f"<p>Your address is {FAKE_PROBE_IP}.</p>".encode()
    xml = f"<Response><Ip>{FAKE_PROBE_IP}</Ip></Response>".encode()
    binary = b"\xff\xfe\x00" + FAKE_PROBE_IP.encode() + b"\x80 tail"
    return [
        web.route("/text", Route(text)),
        web.route("/xml", Route(xml, content_type="application/xml")),
        web.route("/binary", Route(binary, content_type="application/octet-stream")),
    ]


def test_the_probe_ip_is_scrubbed_from_stored_output_and_uploaded_measurements(
    probe: Probe, pages: list[str], collector_server: Collector, tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    inputs = [arg for page in pages for arg in ("-i", page)]

    result = probe.run(
        HTTP, *inputs, "--collector", collector_server.url, "-o", str(output)
    )

    assert result.exit_code == 0, result.output
    [run] = ResultsStore(probe.home).runs()
    stored = [m.doc for m in run.measurements()]
    uploaded = collector_server.state.all_measurements()
    written = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert len(stored) == len(uploaded) == len(written) == 3
    for doc in stored + uploaded + written:
        assert_no_probe_ip(doc)
    run_files = b"".join(p.read_bytes() for p in run.path.iterdir())
    assert FAKE_PROBE_IP.encode() not in run_files
    bodies = [s for doc in stored for s in strings_in(doc) if "[scrubbed]" in s]
    assert len(bodies) == 2  # the text and XML bodies
    [binary] = [b for doc in stored for b in binary_bodies_in(doc)]
    assert binary == b"\xff\xfe\x00[scrubbed]\x80 tail"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ip=203.0.113.7\n", "ip=[scrubbed]\n"),
        ("203.0.113.7:443", "[scrubbed]:443"),
        ("[203.0.113.7]", "[[scrubbed]]"),
        (
            "203.0.113.70 and 1203.0.113.7 differ",
            "203.0.113.70 and 1203.0.113.7 differ",
        ),
        ("203.0.113.71", "203.0.113.71"),
    ],
)
def test_only_the_exact_address_is_scrubbed_from_text(text: str, expected: str) -> None:
    assert Scrubber([FAKE_PROBE_IP]).scrub(text) == expected


def test_keys_nested_values_and_base64_strings_are_scrubbed() -> None:
    hidden = base64.b64encode(b"\x00\x01peer=203.0.113.7;").decode()
    doc = {
        "203.0.113.7": [{"answers": ["203.0.113.7"]}],
        "raw": hidden,
        "body": {"format": "base64", "data": hidden},
        "n": 7,
        "ok": None,
    }

    scrubbed = Scrubber([FAKE_PROBE_IP]).scrub(doc)

    assert scrubbed["[scrubbed]"] == [{"answers": ["[scrubbed]"]}]
    assert base64.b64decode(scrubbed["raw"]) == b"\x00\x01peer=[scrubbed];"
    assert scrubbed["body"]["data"] == scrubbed["raw"]
    assert (scrubbed["n"], scrubbed["ok"]) == (7, None)


@pytest.mark.parametrize(
    "spelling",
    ["2001:db8::42", "2001:DB8::42", "2001:0db8:0000:0000:0000:0000:0000:0042"],
)
def test_ipv6_addresses_are_scrubbed_in_every_spelling(spelling: str) -> None:
    scrubber = Scrubber(["2001:db8::42"])

    assert scrubber.scrub(f"from {spelling} port 1") == "from [scrubbed] port 1"
    assert scrubber.scrub("2001:db8::421") == "2001:db8::421"


def test_without_a_known_address_nothing_changes() -> None:
    scrubber = Scrubber([None])
    doc = {"a": ["203.0.113.7"]}

    assert not scrubber.knows_address
    assert scrubber.scrub(doc) is doc
