"""Rules for the instant-messaging tests: WhatsApp, Telegram, Messenger, Signal.

Scores follow OONI's fastpath, which ignores the probes' own summary keys
where probe bugs made them unreliable (WhatsApp's ``*_status``, Telegram's
``*_blocking``) and recomputes from the requests and TCP connects instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules._common import (
    count_tcp_connect,
    first_mechanism,
    has_unknown_failure,
    mechanism_for,
    parse_version,
    tcp_failures,
    test_keys,
)
from censorscope.scoring.verdict import Assessment

_WHATSAPP_WEB: Final = "https://web.whatsapp.com/"
_WHATSAPP_REGISTRATION: Final = "https://v.whatsapp.net/v2/register"
_TELEGRAM_WEB: Final = ("https://web.telegram.org/", "http://web.telegram.org/")
_FACEBOOK_ALL_TRUE: Final = (
    "facebook_b_api_dns_consistent",
    "facebook_b_api_reachable",
    "facebook_b_graph_dns_consistent",
    "facebook_b_graph_reachable",
    "facebook_dns_blocking",
    "facebook_edge_dns_consistent",
    "facebook_edge_reachable",
    "facebook_star_dns_consistent",
    "facebook_star_reachable",
    "facebook_stun_dns_consistent",
)
_FACEBOOK_CONSISTENCY: Final = tuple(
    f"facebook_{endpoint}_{check}"
    for endpoint in ("b_api", "b_graph", "edge", "external_cdn", "scontent_cdn", "star")
    for check in ("dns_consistent", "reachable")
)
_FACEBOOK_KEYS: Final = (*_FACEBOOK_CONSISTENCY, "facebook_stun_dns_consistent")
_FACEBOOK_ANOMALY: Final = ("facebook_tcp_blocking", "facebook_dns_blocking")
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def _request_url(request: Any) -> Any:
    inner = request.get("request") if isinstance(request, dict) else None
    return inner.get("url") if isinstance(inner, dict) else None


def _whatsapp_requests(
    keys: dict[str, Any],
) -> tuple[bool | None, bool | None, list[Any]]:
    """(web app reachable, registration reachable, their failures)."""
    webapp = registration = None
    failures: list[Any] = []
    for request in keys.get("requests") or ():
        url = _request_url(request)
        if url == _WHATSAPP_WEB:
            # A missing failure key counts as failed (fastpath).
            failure = request.get("failure", True)
            webapp = failure in (None, "", False)
            failures.append(None if webapp else failure)
        elif url == _WHATSAPP_REGISTRATION:
            registration = request.get("failure") is None
            failures.append(request.get("failure"))
    return webapp, registration, failures


def score_whatsapp(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Anomaly iff the web app or registration fetch failed, or every endpoint."""
    assessment = Assessment()
    keys = test_keys(doc)
    if has_unknown_failure(keys):
        assessment.fail("whatsapp.unknown_failure")
    web_failure = keys.get("whatsapp_web_failure")
    if isinstance(web_failure, str) and "unknown_failure 'ascii' co" in web_failure:
        return assessment.fail("whatsapp.probe_ascii_bug")
    if not keys.get("requests"):
        return assessment.fail("whatsapp.no_requests")
    webapp, registration, failures = _whatsapp_requests(keys)
    if webapp is None or registration is None:
        return assessment.fail("whatsapp.missing_request")
    assessment.note("failures", [failure for failure in failures if failure])
    if not (webapp and registration):
        mechanism = first_mechanism(failures, v.HTTP_FAILURE)
        return assessment.block("whatsapp.request_failed", 1.0, mechanism)

    reachable, unreachable = count_tcp_connect(keys)
    if not reachable and not unreachable:
        assessment.fail("whatsapp.no_endpoints")
    elif not reachable:
        assessment.note("endpoint_failures", tcp_failures(keys))
        assessment.block("whatsapp.endpoints_unreachable", 1.0, v.TCP_IP)
    assessment.scores["analysis"] = {
        "registration_server_accessible": registration,
        "whatsapp_web_accessible": webapp,
        "whatsapp_endpoints_accessible": reachable > 0,
    }
    return assessment


def _telegram_requests(keys: dict[str, Any]) -> tuple[int, int, Any, list[Any]] | None:
    """(successes, failures, web failure, failure strings); None on a probe bug."""
    succeeded = failed = 0
    web_failure = None
    failures: list[Any] = []
    for request in keys.get("requests") or ():
        inner = request.get("request") if isinstance(request, dict) else None
        if not isinstance(inner, dict) or "url" not in inner:
            return None
        failure = request.get("failure")
        if inner["url"] in _TELEGRAM_WEB:
            web_failure = failure if failure is not None else web_failure
            continue
        if failure is None:
            succeeded += 1
        else:
            failed += 1
            failures.append(failure)
    return succeeded, failed, web_failure, failures


def _ratio(bad: int, good: int) -> float:
    return bad / (bad + good) if bad + good else 0.5


def score_telegram(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Share of unreachable endpoints + share of failed requests + web blocked."""
    assessment = Assessment()
    keys = test_keys(doc)
    requests = _telegram_requests(keys)
    if requests is None:
        return assessment.fail("telegram.request_without_url")
    succeeded, failed, web_failure, failures = requests
    reachable, unreachable = count_tcp_connect(keys)
    web_blocked = keys.get("telegram_web_status") == "blocked"
    score = (
        _ratio(unreachable, reachable)
        + _ratio(failed, succeeded)
        + (1 if web_blocked else 0)
    )

    assessment.scores.update(
        blocking_general=score,
        web_failure=web_failure,
        accessible_endpoints=reachable,
        unreachable_endpoints=unreachable,
        http_success_cnt=succeeded,
        http_failure_cnt=failed,
    )
    if web_failure is not None:
        assessment.scores["msg"] = f"failure: {web_failure}"
    assessment.note("failures", failures + ([web_failure] if web_failure else []))
    if score > 0.5:
        assessment.rules.append("telegram.unreachable_share")
        assessment.blocking = _telegram_mechanism(
            keys, failures, web_failure, unreachable
        )
    return assessment


def _telegram_mechanism(
    keys: dict[str, Any], failures: list[Any], web_failure: Any, unreachable: int
) -> str:
    if unreachable:
        return first_mechanism(tcp_failures(keys), v.TCP_IP)
    return first_mechanism([*failures, web_failure], v.HTTP_FAILURE)


def score_facebook_messenger(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """+0.5 per inconsistent/unreachable endpoint and per probe blocking flag."""
    assessment = Assessment()
    keys = test_keys(doc)
    all_true = all(keys.get(name) is True for name in _FACEBOOK_ALL_TRUE)
    if all_true and keys.get("facebook_tcp_blocking") is False:
        return assessment
    score = 0.0
    offending: list[str] = []
    for name in _FACEBOOK_KEYS:
        if keys.get(name) is False:
            score += 0.5
            assessment.scores[name] = False
            offending.append(name)
    for name in _FACEBOOK_ANOMALY:
        if keys.get(name) is True:
            score += 0.5
            assessment.scores[name] = True
            offending.append(name)
    assessment.scores["blocking_general"] = score
    assessment.note("signals", offending)
    if score > 0.5:
        dns = any("dns" in name for name in offending)
        assessment.rules.append("facebook_messenger.bad_signals")
        assessment.blocking = v.DNS if dns else v.TCP_IP
    return assessment


def _signal_version_gate(doc: dict[str, Any]) -> str | None:
    """The probe-bug gate that invalidates a Signal measurement, if any."""
    start_text = doc.get("measurement_start_time")
    if not isinstance(start_text, str):
        return "signal.no_start_time"
    try:
        start = datetime.strptime(start_text, _TIME_FORMAT)
        test_version = doc.get("test_version") or "0.0.0"
        annotations = doc.get("annotations") or {}
        engine = parse_version(annotations.get("engine_version") or "0.0.0")
        version = parse_version(test_version)
    except (ValueError, TypeError, AttributeError):
        return "signal.unparseable_version"
    if test_version == "0.2.4":
        return "signal.probe_bug_2636"
    if version <= parse_version("0.2.3") and start >= datetime(2023, 11, 7):
        return "signal.probe_bug_2627"
    if version < parse_version("0.2.2") and start >= datetime(2022, 10, 19):
        return "signal.probe_bug_2627_old"
    # The engine gate is about OONI's engine versions; other engines (ours)
    # number their releases differently.
    ooni_engine = annotations.get("engine_name") != "censorscope"
    if (
        ooni_engine
        and engine < parse_version("3.17.2")
        and start >= datetime(2023, 5, 2)
    ):
        return "signal.backend_issue_679"
    return None


def score_signal(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """The probe's ``signal_backend_status``, behind fastpath's version gates."""
    assessment = Assessment()
    keys = test_keys(doc)
    if keys.get("failed_operation", True) or keys.get("failure", True):
        assessment.fail("signal.probe_failure")
        assessment.note("failures", [keys.get("failure")])
    gate = _signal_version_gate(doc)
    if gate is not None:
        return assessment.fail(gate)
    status = keys.get("signal_backend_status")
    if status == "blocked":
        failure = keys.get("signal_backend_failure")
        assessment.scores["analysis"] = {"signal_backend_failure": failure}
        assessment.note("failures", [failure])
        mechanism = mechanism_for(failure, keys.get("failed_operation")) or v.UNKNOWN
        return assessment.block("signal.backend_blocked", 1.0, mechanism)
    if status != "ok":
        assessment.fail("signal.no_backend_status")
    return assessment
