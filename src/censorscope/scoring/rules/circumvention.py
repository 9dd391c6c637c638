"""Rules for the circumvention tests: tor, vanilla_tor, torsf, psiphon, meek, VPNs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules._common import first_mechanism, mechanism_for, test_keys
from censorscope.scoring.verdict import Assessment

_TOR_DONE: Final = ("Bootstrapped 100%: Done", "Bootstrapped 100% (done): Done")
_TOR_PROGRESS_WEIGHT: Final = 0.004


def score_vanilla_tor(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Bootstrap done -> ok; stuck at p% -> 1 - 0.004 p (5% -> 0.98)."""
    assessment = Assessment()
    keys = test_keys(doc)
    logs = keys.get("tor_logs") or keys.get("tor_log")
    if logs is None:
        return assessment.fail("vanilla_tor.no_logs")
    if any(marker in logs for marker in _TOR_DONE):
        return assessment
    try:
        progress = min(100.0, max(0.0, float(keys.get("tor_progress", 0) or 0)))
    except (TypeError, ValueError):
        return assessment.fail("vanilla_tor.bad_progress")
    if progress == 100:
        return assessment
    assessment.note("tor_progress", progress)
    assessment.note("failures", [keys.get("failure")] if keys.get("failure") else [])
    mechanism = mechanism_for(keys.get("failure")) or v.TUNNEL
    return assessment.block(
        "vanilla_tor.bootstrap_incomplete",
        1.0 - progress * _TOR_PROGRESS_WEIGHT,
        mechanism,
    )


def _tor_targets(targets: Mapping[str, Any]) -> tuple[int, int, list[Any]] | None:
    """(blocked, succeeded, failures) over the targets; None if malformed."""
    blocked = succeeded = 0
    failures: list[Any] = []
    for target in targets.values():
        if not isinstance(target, dict) or "failure" not in target:
            return None
        if "network_events" not in target:
            return None
        failure = target["failure"]
        if failure is None:
            succeeded += 1
        elif isinstance(failure, str) and failure:
            blocked += 1
            failures.append(failure)
        elif failure is not False:
            return None  # "" or another type: not a result we can read
    return blocked, succeeded, failures


def score_tor(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Share of Tor directory authorities and bridges that could not be reached."""
    assessment = Assessment()
    targets = test_keys(doc).get("targets")
    if not targets:
        return assessment.fail("tor.no_targets")
    if not isinstance(targets, dict):
        return assessment.fail("tor.early_format")
    counted = _tor_targets(targets)
    if counted is None:
        return assessment.fail("tor.malformed_target")
    blocked, succeeded, failures = counted
    if not blocked + succeeded:
        return assessment.fail("tor.nothing_run")
    share = blocked / (blocked + succeeded)
    assessment.scores["blocking_general"] = share
    assessment.scores["extra"] = {"test_runtime": doc.get("test_runtime")}
    assessment.note("failures", sorted(set(failures)))
    if share > 0.5:
        assessment.rules.append("tor.targets_unreachable")
        assessment.blocking = first_mechanism(failures, v.TUNNEL)
    return assessment


def score_torsf(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Tor over Snowflake: any failure is blocking (bar a broken Android release)."""
    assessment = Assessment()
    keys = test_keys(doc)
    name = doc.get("software_name") or "unknown"
    if doc.get("software_version") == "3.8.3" and name.startswith("ooniprobe-android"):
        return assessment.fail("torsf.probe_bug_383")
    failure = keys.get("failure")
    if failure:
        assessment.note("failures", [failure])
        return assessment.block(
            "torsf.failure", 1.0, mechanism_for(failure) or v.TUNNEL
        )
    assessment.scores["extra"] = {
        "bootstrap_time": keys.get("bootstrap_time"),
        "test_runtime": doc.get("test_runtime"),
    }
    return assessment


def score_psiphon(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Psiphon bootstrap: a failure is blocking; success needs a bootstrap time."""
    assessment = Assessment()
    keys = test_keys(doc)
    failure = keys.get("failure")
    bootstrap_time = keys.get("bootstrap_time", 0)
    if failure is None:
        if bootstrap_time == 0:
            assessment.fail("psiphon.no_bootstrap_time")
        else:
            assessment.scores["accuracy"] = 1.0
    else:
        assessment.scores["accuracy"] = 1.0
        assessment.note("failures", [failure])
        assessment.block("psiphon.failure", 1.0, mechanism_for(failure) or v.TUNNEL)
    if "resolver_ip" not in doc:
        assessment.fail("psiphon.no_resolver_ip")
    assessment.scores["extra"] = {
        "test_runtime": doc.get("test_runtime"),
        "bootstrap_time": bootstrap_time,
    }
    return assessment


def _server_header(headers: Any) -> str:
    if isinstance(headers, list):  # list of [name, [values]] pairs
        pairs = {pair[0]: _first(pair[1]) for pair in headers if pair}
        headers = pairs
    value = headers.get("Server", "") if isinstance(headers, dict) else ""
    return value if isinstance(value, str) else ""


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def score_meek(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Domain-fronted requests must answer 200 from the expected CDN."""
    assessment = Assessment()
    requests = test_keys(doc).get("requests") or ()
    if not requests:
        assessment.block("meek.no_requests", 1.0, v.TUNNEL)
        return assessment.fail("meek.no_requests")
    for request in requests:
        response = request.get("response", {}) if isinstance(request, dict) else None
        if response is None or response.get("code", 0) != 200:
            failure = request.get("failure") if isinstance(request, dict) else None
            assessment.note("failures", [failure] if failure else [])
            mechanism = mechanism_for(failure) or v.HTTP_FAILURE
            return assessment.block("meek.request_failed", 1.0, mechanism)
        if not _server_header(response.get("headers", {})).startswith("ECAcc "):
            assessment.scores["blocking_general"] += 0.5
    if assessment.scores["blocking_general"] > 0.5:
        assessment.rules.append("meek.unexpected_server")
        assessment.blocking = v.HTTP_DIFF
    return assessment


def score_openvpn(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """OpenVPN handshake: ``success`` false is blocking, null is a failed test."""
    assessment = Assessment()
    keys = test_keys(doc)
    success = keys.get("success")
    if success is False:
        failures = [keys.get("failure")] if keys.get("failure") else []
        assessment.note("failures", failures)
        assessment.block(
            "openvpn.handshake_failed", 1.0, first_mechanism(failures, v.TUNNEL)
        )
    elif success is None:
        assessment.fail("openvpn.no_result")
    assessment.scores["extra"] = {"test_runtime": doc.get("test_runtime")}
    return assessment


def score_riseupvpn(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Not scored (OONI disabled it in 2023): neither anomaly nor failure."""
    assessment = Assessment(scores={})
    assessment.rules.append("riseupvpn.not_scored")
    return assessment
