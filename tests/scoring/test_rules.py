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


# --- web_connectivity: what the control says (docs/scoring.md) ---------------

_DEFAULT_SITE = "93.184.216.34"
_SITE_443 = f"{_DEFAULT_SITE}:443"
_CERT_FAILURE = {"failure": "ssl_invalid_certificate", "status": False}


def web(
    blocking: Any,
    accessible: Any,
    *,
    answers: tuple[str, ...] = (_DEFAULT_SITE,),
    control_addrs: tuple[str, ...] = (_DEFAULT_SITE,),
    connects: dict[str, str | None] | None = None,
    control_connects: dict[str, str | None] | None = None,
    **keys: Any,
) -> dict[str, Any]:
    """A web_connectivity measurement of http://www.example.com/.

    ``connects`` and ``control_connects`` map "ip:port" to a failure (None
    for success).
    """
    ok: dict[str, Any] = {"failure": None, "body_length": 1000, "status_code": 200}
    control: dict[str, Any] = {
        "dns": {"failure": None, "addrs": list(control_addrs)},
        "tcp_connect": {
            endpoint: {"status": failure is None, "failure": failure}
            for endpoint, failure in (control_connects or {}).items()
        },
        "http_request": keys.pop("control_http", ok),
    }
    control.update(keys.pop("control_extra", {}))
    test_keys: dict[str, Any] = {
        "queries": [{"answers": [{"ipv4": a} for a in answers]}],
        "dns_experiment_failure": None,
        "dns_consistency": "consistent",
        "tcp_connect": [
            {
                "ip": endpoint.rpartition(":")[0],
                "port": int(endpoint.rpartition(":")[2]),
                "status": {"success": failure is None, "failure": failure},
            }
            for endpoint, failure in (connects or {}).items()
        ],
        "http_experiment_failure": None,
        "control_failure": None,
        "control": control,
        "blocking": blocking,
        "accessible": accessible,
    }
    test_keys.update(keys)
    return measurement("web_connectivity", test_keys, input="http://www.example.com/")


_FAILED_FETCH = {"failure": "connection_refused_error", "status_code": -1}
_REFUSED = "connection_refused"


@pytest.mark.parametrize(
    ("doc", "rule"),
    [
        pytest.param(
            web(
                "tcp_ip",
                False,
                connects={f"{_DEFAULT_SITE}:444": _REFUSED},
                control_connects={f"{_DEFAULT_SITE}:444": "connection_refused_error"},
                http_experiment_failure=_REFUSED,
                control_http=_FAILED_FETCH,
            ),
            "web_connectivity.down_connect",
            id="refused-everywhere",
        ),
        pytest.param(
            web(
                "tcp_ip",
                False,
                answers=("127.0.0.1",),
                control_addrs=("127.0.0.1",),
                connects={"127.0.0.1:80": _REFUSED},
                http_experiment_failure=_REFUSED,
                control_http=_FAILED_FETCH,
            ),
            "web_connectivity.down_bogon_dns",
            id="localhost-everywhere",
        ),
        pytest.param(
            web(
                "dns",
                False,
                answers=(),
                control_addrs=(),
                dns_experiment_failure="dns_nxdomain_error",
                dns_consistency="inconsistent",
                control_http={"failure": "dns_lookup_error", "status_code": -1},
            ),
            "web_connectivity.down_no_address",
            id="cname-without-address",
        ),
        pytest.param(
            web(
                None,
                None,
                connects={f"{_DEFAULT_SITE}:443": None},
                http_experiment_failure="ssl_invalid_certificate",
                control_http={"failure": "unknown_error", "status_code": -1},
                control_extra={"tls_handshake": {_SITE_443: _CERT_FAILURE}},
            ),
            "web_connectivity.down_tls",
            id="bad-certificate",
        ),
        pytest.param(
            web(
                False,
                True,
                requests=[{"response": {"code": 500, "body": "oops"}}],
                control_http={"failure": None, "status_code": 502, "body_length": 9},
            ),
            "web_connectivity.down_server_error",
            id="server-error-everywhere",
        ),
    ],
)
def test_a_failure_the_control_saw_too_is_a_site_down_not_an_anomaly(
    doc: dict[str, Any], rule: str, fingerprints: FingerprintDB
) -> None:
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking, verdict.down) == (False, None, True)
    assert rule in verdict.evidence["rules"]
    assert verdict.status == "down"  # the explained null verdict is no failure


def test_a_connect_failure_at_an_address_the_control_does_not_know_stays_dns(
    fingerprints: FingerprintDB,
) -> None:
    # Ghost DNS: the name exists nowhere, the probe got an address anyway.
    doc = web(
        "dns",
        False,
        answers=("10.201.0.1",),
        control_addrs=(),
        connects={"10.201.0.1:443": _REFUSED},
        control_connects={"10.201.0.1:443": "connection_refused_error"},
        dns_consistency="inconsistent",
        http_experiment_failure=_REFUSED,
        control_http={"failure": "dns_lookup_error", "status_code": -1},
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking, verdict.down) == (True, "dns", False)


def test_a_connect_blocked_for_the_probe_only_is_tcp_ip_blocking(
    fingerprints: FingerprintDB,
) -> None:
    doc = web(
        "tcp_ip",
        False,
        connects={f"{_DEFAULT_SITE}:80": "generic_timeout_error"},
        control_connects={f"{_DEFAULT_SITE}:80": None},
        http_experiment_failure="generic_timeout_error",
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking, verdict.down) == (True, "tcp_ip", False)


def test_an_address_dead_for_both_is_blocking_when_the_control_got_the_site(
    fingerprints: FingerprintDB,
) -> None:
    # Same AS ("consistent"), but the probe's address refuses and the
    # control's own address served the page: the site is up.
    doc = web(
        "tcp_ip",
        False,
        answers=("93.184.216.99",),
        connects={"93.184.216.99:80": _REFUSED},
        control_connects={"93.184.216.99:80": "connection_refused_error"},
        http_experiment_failure=_REFUSED,
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking, verdict.down) == (True, "tcp_ip", False)


_CHALLENGE = (
    "<title>Just a moment...</title><h1>Checking your browser before accessing"
    " www.example.com.</h1> Ray ID: 8a1b2c3d4e5f6789"
)


@pytest.mark.parametrize(
    ("body", "anomaly"),
    [
        (_CHALLENGE, False),
        # A blockpage fingerprint beside the fp one: not explained away.
        (_CHALLENGE + " Access Denied", True),
    ],
)
def test_a_page_matching_only_false_positive_fingerprints_is_not_blocking(
    body: str, anomaly: bool, fingerprints: FingerprintDB
) -> None:
    doc = web(
        "http-diff",
        False,
        requests=[{"response": {"code": 503, "body": body}}],
        status_code_match=False,
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.down) == (anomaly, False)
    assert "cp.fp_x_cloudflare_check" in verdict.evidence["fingerprints"]
    explained = "web_connectivity.known_false_positive" in verdict.evidence["rules"]
    assert explained is not anomaly
    assert verdict.scores["blocking_general"] == 1.0  # fastpath's score is kept


def test_no_address_for_the_probe_only_is_dns_blocking_the_probe_left_undecided(
    fingerprints: FingerprintDB,
) -> None:
    doc = web(
        None,
        None,
        answers=(),
        dns_experiment_failure="dns_no_answer",
        dns_consistency="inconsistent",
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking, verdict.failure) == (True, "dns", False)
    assert "web_connectivity.dns_failed_for_probe_only" in verdict.evidence["rules"]


def test_the_control_unreachable_leaves_an_undecided_verdict_a_failure(
    fingerprints: FingerprintDB,
) -> None:
    doc = web(None, None, answers=(), dns_experiment_failure="dns_no_answer")
    doc["test_keys"]["control_failure"] = "connection_reset"
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.failure, verdict.down) == (False, True, False)


def test_a_dns_fingerprint_the_control_resolved_too_confirms_nothing() -> None:
    # A made-up national fingerprint on 127.0.0.1: the real ones on loopback
    # (cl.dns_br_localhost, cl.dns_br_allzero) never confirm by themselves.
    header = "name,scope,other_names,location_found,pattern_type,pattern,"
    header += "confidence_no_fp,expected_countries\n"
    database = FingerprintDB.from_csv_bytes(
        {
            "fingerprints_dns.csv": (
                header + "t.loop,nat,,dns,full,127.0.0.1,5,BR\n"
            ).encode(),
            "fingerprints_http.csv": header.encode(),
        }
    )
    doc = web(
        "tcp_ip",
        False,
        answers=("127.0.0.1",),
        control_addrs=("127.0.0.1",),
        connects={"127.0.0.1:80": _REFUSED},
        http_experiment_failure=_REFUSED,
        control_http=_FAILED_FETCH,
    )
    doc["probe_cc"] = "BR"
    verdict = score(doc, database)
    assert (verdict.confirmed, verdict.anomaly, verdict.down) == (False, False, True)
    assert verdict.evidence["seen_by_control"] == ["t.loop"]
    assert "web_connectivity.fingerprint_seen_by_control" in verdict.evidence["rules"]


@pytest.mark.parametrize(
    ("failure", "events", "mechanism"),
    [
        ("connection_refused", [], "tcp_ip"),
        (
            "connection_reset",
            ["connect", "tls_handshake_start", "tls_handshake_done"],
            "tls",
        ),
        (
            "connection_reset",
            ["connect", "tls_handshake_start", "http_transaction_start"],
            "http-failure",
        ),
    ],
)
def test_a_failed_final_request_is_blamed_on_the_step_that_broke(
    failure: str, events: list[str], mechanism: str, fingerprints: FingerprintDB
) -> None:
    doc = web(
        "http-failure",
        False,
        http_experiment_failure=failure,
        requests=[{"transaction_id": 6, "failure": failure}, {"transaction_id": 2}],
        network_events=[
            {"operation": operation, "transaction_id": 6, "failure": None}
            for operation in events
        ],
    )
    verdict = score(doc, fingerprints)
    assert (verdict.anomaly, verdict.blocking) == (True, mechanism)


def test_a_lab_measurement_on_a_simulated_clock_is_not_failed_for_its_age() -> None:
    from censorscope.scoring.fingerprints import FingerprintDB
    from censorscope.scoring.scorer import score

    doc = {
        "test_name": "web_connectivity",
        "measurement_start_time": "2024-03-02 06:00:00",
        "probe_cc": "ML",
        "probe_asn": "AS64510",
        "report_id": "20240302T060000Z_webconnectivity_ML_64510_n1_abcdefghijklmnop",
        "input": "https://www.example.ml/",
        "test_keys": {"blocking": False, "accessible": True},
    }
    uid = "20261203140120.594166_ML_webconnectivity_6a6f37b483998276"
    empty = FingerprintDB([], version="none")

    assert score(doc, empty, uid).failure is True  # two years old on receipt
    doc["annotations"] = {"simulated_clock": "true"}
    assert score(doc, empty, uid).failure is False
