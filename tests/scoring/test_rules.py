"""Rules on small measurements built to isolate one behaviour each."""

from __future__ import annotations

from typing import Any

import pytest

from censorscope.scoring import RULES_VERSION, score
from censorscope.scoring.fingerprints import FingerprintDB


def measurement(
    test_name: str, test_keys: dict[str, Any] | None, **base: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "test_name": test_name,
        "probe_cc": "IT",
        "probe_asn": "AS30722",
        "report_id": "20240101T000000Z_x_IT_30722_n1_abcdefghijklmnop",
        "measurement_start_time": "2024-01-01 00:00:00",
        "input": None,
        "test_keys": test_keys,
    }
    doc.update(base)
    return doc


def test_a_blockpage_fingerprint_confirms_what_the_probe_found_accessible(
    fingerprints: FingerprintDB,
) -> None:
    keys = {
        "requests": [{"response": {"body": "<h1>GdF Stop Page</h1>"}}],
        "blocking": False,
        "accessible": True,
    }
    verdict = score(measurement("web_connectivity", keys), fingerprints)
    assert (verdict.anomaly, verdict.confirmed, verdict.blocking) == (
        True,
        True,
        "http-diff",
    )
    assert verdict.scores["blocking_country"] == 1.0
    assert verdict.scores["blocking_general"] == 1.0


def test_an_http_failure_in_the_tls_handshake_is_reported_as_tls(
    fingerprints: FingerprintDB,
) -> None:
    keys = {
        "blocking": "http-failure",
        "accessible": False,
        "http_experiment_failure": "connection_reset",
        "tls_handshakes": [{"failure": "connection_reset"}],
    }
    verdict = score(measurement("web_connectivity", keys), fingerprints)
    assert (verdict.anomaly, verdict.blocking) == (True, "tls")


def test_a_website_down_for_probe_and_control_is_not_an_anomaly(
    fingerprints: FingerprintDB,
) -> None:
    keys = {
        "blocking": "dns",
        "accessible": False,
        "dns_experiment_failure": "dns_nxdomain_error",
        "control_failure": None,
        "control": {"dns": {"failure": "dns_name_error", "addrs": []}},
    }
    verdict = score(measurement("web_connectivity", keys), fingerprints)
    assert (verdict.anomaly, verdict.down, verdict.blocking) == (False, True, None)
    assert verdict.scores["blocking_general"] == 1.0  # fastpath's score is kept


@pytest.mark.parametrize(
    ("uid", "failure"),
    [
        ("20240101020000.000000_IT_whatsapp_0123456789abcdef", False),
        (
            "20231231220000.000000_IT_whatsapp_0123456789abcdef",
            True,
        ),  # start in the future
        ("20250301000000.000000_IT_whatsapp_0123456789abcdef", True),  # start too old
    ],
)
def test_start_times_far_from_the_receive_time_make_a_failure(
    uid: str, failure: bool, fingerprints: FingerprintDB
) -> None:
    keys = {"signal_backend_status": "ok", "failure": None, "failed_operation": None}
    doc = measurement("dash", keys)
    verdict = score(doc, fingerprints, uid)
    assert verdict.failure is failure


@pytest.mark.parametrize(
    ("keys", "anomaly", "failure", "blocking"),
    [
        ({"bootstrap_failure": "dns_nxdomain_error"}, True, False, "dns"),
        (
            {
                "lookups": {
                    "1.1.1.1:853": {
                        "failure": "connection_reset",
                        "failed_operation": "tls_handshake",
                    }
                }
            },
            True,
            False,
            "tls",
        ),
        (
            {
                "lookups": {
                    "a": {"failure": "generic_timeout_error"},
                    "b": {"failure": None},
                }
            },
            False,
            False,
            None,
        ),
        ({"lookups": {}}, False, True, None),
    ],
)
def test_dnscheck_reads_its_lookups(
    keys: dict[str, Any],
    anomaly: bool,
    failure: bool,
    blocking: str | None,
    fingerprints: FingerprintDB,
) -> None:
    verdict = score(measurement("dnscheck", keys), fingerprints)
    assert (verdict.anomaly, verdict.failure, verdict.blocking) == (
        anomaly,
        failure,
        blocking,
    )


def test_urlgetter_failure_is_classified_by_the_failed_operation(
    fingerprints: FingerprintDB,
) -> None:
    keys = {"failure": "generic_timeout_error", "failed_operation": "connect"}
    verdict = score(measurement("urlgetter", keys), fingerprints)
    assert (verdict.anomaly, verdict.blocking) == (True, "tcp_ip")


@pytest.mark.parametrize(
    ("echoed", "score_value"),
    [
        ('{"headers_dict": {"Host": ["x"], "Accept": ["*/*"]}}', 0.0),
        ('{"headers_dict": {"host": ["x"], "Accept": ["*/*"]}}', 1.1),
        ("not json", 1.0),
    ],
)
def test_header_manipulation_compares_echoed_headers(
    echoed: str, score_value: float, fingerprints: FingerprintDB
) -> None:
    keys = {
        "requests": [
            {
                "request": {"headers": {"Host": "x", "Accept": "*/*"}},
                "response": {"body": echoed},
            }
        ]
    }
    verdict = score(measurement("http_header_field_manipulation", keys), fingerprints)
    assert verdict.scores["blocking_general"] == score_value
    assert verdict.anomaly is (score_value > 0.5)


def test_a_test_without_rules_is_a_failure_naming_the_rule(
    fingerprints: FingerprintDB,
) -> None:
    verdict = score(measurement("echcheck", {}), fingerprints)
    assert verdict.failure
    assert verdict.evidence["rules"] == ["echcheck.no_rules"]
    assert verdict.rules_version == RULES_VERSION


def test_without_fingerprints_nothing_is_confirmed() -> None:
    keys = {
        "queries": [{"answers": [{"ipv4": "10.10.34.36"}]}],
        "blocking": "dns",
        "accessible": False,
    }
    verdict = score(
        measurement("web_connectivity", keys, probe_cc="IR"), FingerprintDB.empty()
    )
    assert (verdict.anomaly, verdict.confirmed) == (True, False)
    assert verdict.fingerprints_version == "none"
