"""Every real sample scores as OONI's fastpath scores it, or as docs/scoring.md says.

The expected flags come from OONI's own fastpath unit tests and fixture notes
(ooni/backend ``fastpath/tests/test_unit.py``).  Rows marked ``differs`` are
the deliberate differences documented in docs/scoring.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from censorscope.measurement.readers import read_file
from censorscope.scoring import score
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules import web


class Expected(NamedTuple):
    anomaly: bool
    confirmed: bool
    failure: bool
    blocking_general: float | None = None
    down: bool = False
    differs: str = ""


OK = Expected(False, False, False)
ANOMALY = Expected(True, False, False)
FAILURE = Expected(False, False, True)

EXPECTED: dict[str, Expected] = {
    "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json": Expected(
        True, True, False, 1.0
    ),
    "binary_city.yaml": OK,
    "browser_web.json": OK,
    "browser_web_error.json": ANOMALY,
    "bug_351.json": Expected(True, False, True, 1.0),
    "bug_352.json": Expected(True, True, False, 2.0),
    "dns_n_http_bin_body.yaml": Expected(
        False, False, True, differs="fastpath discards it (null report_id)"
    ),
    "http_header_field_manipulation_1.json": FAILURE,
    "http_header_field_manipulation_2.json": FAILURE,
    "http_header_field_manipulation_3.json": FAILURE,
    "http_invalid_request_line.yaml": ANOMALY,
    "http_requests_1.json": FAILURE,
    "mbx-1.json": ANOMALY,
    "mbx-2.json": ANOMALY,
    "meek.json": Expected(True, False, False, 1.0),
    "meek2.json": Expected(False, False, False, 0.0),
    "meek3.json": Expected(False, False, False, 0.5),
    "openvpn.json": OK,
    "report1.json": OK,
    "report1.json.pretty": OK,
    "report1blocked.json": OK,
    "report2.json": OK,
    "report2blocked.json": OK,
    "requests_none.json": Expected(
        False, False, False, 1.0, down=True, differs="down for the control too"
    ),
    "riseupvpn.json": OK,
    "signal_022.json": OK,
    "signal_2627.json": FAILURE,
    "signal_679.json": FAILURE,
    "telegram_nourl.json": FAILURE,
    "test_keys_none.json": FAILURE,
    "tor.json": Expected(False, False, False, 0.0),
    "tor_list.json": FAILURE,
    "torsf_1.json": ANOMALY,
    "torsf_2.json": OK,
    "torsf_383.json": FAILURE,
    "vanilla_tor.json": Expected(True, False, False, 0.98),
    "vanilla_tor_ok.json": Expected(False, False, False, 0.0),
    "web_connectivity_b64_hdr.json": Expected(True, False, False, 1.0),
    "web_connectivity_b64_incorrect.json": FAILURE,
    "web_connectivity_ir_fp.json": Expected(True, True, False, 2.0),
    "web_connectivity_no_body.json": Expected(False, False, False, 0.0, down=True),
    "web_connectivity_null.json": FAILURE,
    "web_connectivity_null2.json": Expected(False, False, True, down=True),
    # Ghost DNS: an address for a name that exists nowhere (OONI QA #16/17).
    "web_connectivity_odd_hdr.json": Expected(True, False, False, 1.0),
    "whatsapp.json": Expected(False, False, False, 0.0),
    "yaml16_0.json": OK,
    "yaml17_0.json": OK,
}
# Not a measurement: a per-day aggregate series used by OONI's detector tests.
NOT_MEASUREMENTS = {"detector_query_ww_BR_2018.json"}


def test_every_sample_file_has_an_expectation(shared_data: Path) -> None:
    names = {path.name for path in (shared_data / "ooni-samples").iterdir()}
    assert names - NOT_MEASUREMENTS == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_scores_as_fastpath_or_as_documented(
    name: str, shared_data: Path, fingerprints: FingerprintDB
) -> None:
    expected = EXPECTED[name]
    [measurement] = read_file(shared_data / "ooni-samples" / name)
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    got = (verdict.anomaly, verdict.confirmed, verdict.failure, verdict.down)
    assert got == (
        expected.anomaly,
        expected.confirmed,
        expected.failure,
        expected.down,
    )
    if expected.blocking_general is not None:
        assert verdict.scores["blocking_general"] == pytest.approx(
            expected.blocking_general
        )
    if verdict.anomaly:
        assert verdict.blocking is not None
    else:
        assert verdict.blocking is None


@pytest.mark.parametrize(
    ("name", "fingerprint"),
    [
        (
            "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json",
            "ooni.id_lamanlabuh_kominfo",
        ),
        ("bug_352.json", "ooni.ir_10dot10_ipv4_1"),
        ("web_connectivity_ir_fp.json", "ooni.ir_10dot10_ipv4_1"),
    ],
)
def test_confirmed_samples_name_the_fingerprint_as_evidence(
    name: str, fingerprint: str, shared_data: Path, fingerprints: FingerprintDB
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / name)
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    assert verdict.evidence["confirmed_by"] == [fingerprint]
    assert "web_connectivity.fingerprint_confirmed" in verdict.evidence["rules"]
    assert verdict.fingerprints_version == fingerprints.version


def test_down_sample_keeps_the_probe_verdict_and_control_failure_as_evidence(
    shared_data: Path, fingerprints: FingerprintDB
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "requests_none.json")
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    assert verdict.evidence["probe"]["blocking"] == "dns"
    assert verdict.evidence["control_failures"] == {"http_request": "dns_lookup_error"}
    assert "web_connectivity.down_no_address" in verdict.evidence["rules"]
    assert verdict.evidence["rules"][-1] == "down_for_control_too"


def test_ghost_dns_sample_is_dns_interference_not_a_dead_site(
    shared_data: Path, fingerprints: FingerprintDB
) -> None:
    # The control says NXDOMAIN, yet the probe's resolver gave an address.
    [measurement] = read_file(
        shared_data / "ooni-samples" / "web_connectivity_odd_hdr.json"
    )
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    assert (verdict.anomaly, verdict.blocking, verdict.down) == (True, "dns", False)
    assert verdict.evidence["control_failures"]["dns"] == "dns_name_error"


def test_whatsapp_sample_reports_fastpath_analysis(
    shared_data: Path, fingerprints: FingerprintDB
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "whatsapp.json")
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    assert verdict.scores["analysis"] == {
        "registration_server_accessible": True,
        "whatsapp_web_accessible": True,
        "whatsapp_endpoints_accessible": True,
    }


@pytest.mark.skipif(
    web.ANALYZE is None, reason="web connectivity analysis not installed"
)
@pytest.mark.parametrize(
    ("name", "agrees"),
    [
        ("bug_352.json", True),
        ("web_connectivity_ir_fp.json", True),
        # ooniprobe 2.2 called an unknown failure "http-failure"; the classic
        # algorithm cannot decide on it.
        ("bug_351.json", False),
        # measurement-kit said "accessible" after a TLS verification failure.
        ("web_connectivity_no_body.json", False),
    ],
)
def test_the_probe_verdict_is_checked_against_a_rederivation(
    name: str, agrees: bool, shared_data: Path, fingerprints: FingerprintDB
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / name)
    verdict = score(measurement.doc, fingerprints, measurement.uid)
    assert verdict.evidence["probe_agrees"] is agrees
    disputed = "web_connectivity.probe_verdict_disputed" in verdict.evidence["rules"]
    assert disputed is not agrees
