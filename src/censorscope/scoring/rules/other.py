"""Rules for the remaining tests: DNS checks, TCP/STUN reachability, performance."""

from __future__ import annotations

from typing import Any, Final

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules._common import mechanism_for, test_keys
from censorscope.scoring.verdict import Assessment

_TCP_CONNECT_SOFT: Final = frozenset(
    {
        "generic_timeout_error",
        "connection_refused_error",
        "connect_error",
        "tcp_timed_out_error",
    }
)
_DASH_KNOWN: Final = frozenset(
    {
        "connection_aborted",
        "json_parse_error",
        "eof_error",
        "json_processing_error",
        "http_request_failed",
        "connect_error",
        "generic_timeout_error",
        "broken_pipe",
        "connection_refused",
    }
)


def score_tcp_connect(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Legacy tcp_connect: connect errors 0.8, anything else but success 1.0."""
    assessment = Assessment()
    if not doc.get("input"):
        return assessment.fail("tcp_connect.no_input")
    result = test_keys(doc).get("connection")
    if result == "success":
        return assessment
    assessment.note("failures", [result])
    score = 0.8 if result in _TCP_CONNECT_SOFT else 1.0
    return assessment.block("tcp_connect.failed", score, v.TCP_IP)


def score_dash(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """DASH streaming: any failure makes the test unreliable (accuracy 0)."""
    assessment = Assessment()
    keys = test_keys(doc)
    if not keys:
        return assessment.fail("dash.no_test_keys")
    failure = keys.get("failure")
    if failure is None:
        return assessment
    assessment.note("failures", [failure])
    if failure in _DASH_KNOWN or "ssl_error" in str(failure):
        assessment.scores["blocking_general"] = 0.1
        return assessment.fail("dash.known_failure")
    assessment.scores["msg"] = "Probe error"
    return assessment.fail("dash.probe_error")


def score_not_scored(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Tests fastpath returns empty scores for (ndt): never anomaly nor failure."""
    assessment = Assessment(scores={})
    assessment.rules.append(f"{doc.get('test_name')}.not_scored")
    return assessment


def score_dns_consistency(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Legacy dns_consistency: recorded, never scored as anomalous (as fastpath)."""
    return Assessment()


def score_browser_web(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """The browser's own page-load result."""
    assessment = Assessment()
    keys = test_keys(doc)
    result = keys.get("result") or ""
    if result == "error":
        assessment.block("browser_web.load_error", 1.0, v.UNKNOWN)
    elif result != "ok":
        assessment.fail("browser_web.no_result")
    assessment.scores["extra"] = {
        "browser_name": keys.get("browser_name") or "",
        "load_time_ms": keys.get("load_time_ms") or 0,
    }
    return assessment


def score_stunreachability(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """A STUN binding request that failed is blocking."""
    assessment = Assessment()
    keys = test_keys(doc)
    assessment.scores["extra"] = {"endpoint": keys.get("endpoint")}
    failure = keys.get("failure")
    if failure:
        assessment.scores["extra"]["failure"] = failure
        assessment.note("failures", [failure])
        mechanism = mechanism_for(failure, keys.get("failed_operation")) or v.UNKNOWN
        assessment.block("stunreachability.failure", 1.0, mechanism)
    return assessment


def score_urlgetter(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """One URL fetch: its failure, by failed operation (fastpath: always failed)."""
    assessment = Assessment()
    keys = test_keys(doc)
    if not keys:
        return assessment.fail("urlgetter.no_test_keys")
    failure = keys.get("failure")
    if failure is None:
        return assessment
    assessment.note("failures", [failure])
    mechanism = mechanism_for(failure, keys.get("failed_operation")) or v.UNKNOWN
    return assessment.block("urlgetter.failure", 1.0, mechanism)


def _lookup_failures(lookups: dict[str, Any]) -> tuple[int, list[tuple[Any, Any]]]:
    """(successful lookups, (failure, failed operation) of the failed ones)."""
    succeeded = 0
    failed: list[tuple[Any, Any]] = []
    for lookup in lookups.values():
        if not isinstance(lookup, dict):
            continue
        if lookup.get("failure") is None:
            succeeded += 1
        else:
            failed.append((lookup.get("failure"), lookup.get("failed_operation")))
    return succeeded, failed


def score_dnscheck(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """A resolver is blocked when its name or every one of its addresses fails.

    Fastpath marks every dnscheck as failed; we read the lookups instead.
    """
    assessment = Assessment()
    keys = test_keys(doc)
    bootstrap_failure = keys.get("bootstrap_failure")
    if bootstrap_failure:
        assessment.note("failures", [bootstrap_failure])
        return assessment.block("dnscheck.bootstrap_failed", 1.0, v.DNS)
    lookups = keys.get("lookups")
    if not isinstance(lookups, dict) or not lookups:
        return assessment.fail("dnscheck.no_lookups")
    succeeded, failed = _lookup_failures(lookups)
    assessment.note("failures", sorted({str(failure) for failure, _ in failed}))
    if succeeded or not failed:
        return assessment
    failure, operation = failed[0]
    mechanism = mechanism_for(failure, operation) or v.UNKNOWN
    return assessment.block("dnscheck.all_lookups_failed", 1.0, mechanism)


def score_unsupported(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Tests without rules: stored as failed (accuracy 0), as fastpath does."""
    return Assessment().fail(f"{doc.get('test_name')}.no_rules")
