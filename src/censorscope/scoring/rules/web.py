"""Rules for the website tests: web_connectivity and the legacy http_requests.

web_connectivity follows OONI's fastpath exactly for the scores (the probe's
``blocking`` verdict, fingerprint confirmation, the quirks for null verdicts
and ``unknown_failure``), and adds what fastpath does not have:

* the probe's verdict is re-derived from its test keys and control (with
  :mod:`censorscope.nettests.web_connectivity_analysis` when installed) and
  the two are stored side by side in the evidence;
* what the control says (:mod:`.web_control`): ``down`` when the control
  failed at the same step, a known false positive, DNS interference the
  classic verdict leaves undecided; the flags follow it, the scores do not;
* a DNS fingerprint the control's own answer matches confirms nothing;
* the mechanism names the step that broke: TCP connect, TLS or HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import BodyDecodeError, Fingerprint, FingerprintDB
from censorscope.scoring.rules import web_control
from censorscope.scoring.rules._common import (
    has_unknown_failure,
    mechanism_for,
    test_keys,
)
from censorscope.scoring.verdict import Assessment

logger = logging.getLogger(__name__)

_PROBE_BLOCKING: Final = frozenset({v.TCP_IP, v.DNS, v.HTTP_DIFF, v.HTTP_FAILURE})
_LTE_FLAGS: Final = ("x_blocking_flags", "x_dns_flags", "x_null_null_flags")
_STEP_MECHANISM: Final = {"connect": v.TCP_IP, "tls": v.TLS, "http": v.HTTP_FAILURE}
# The probe's null verdict is a failure only for want of an explanation.
_UNDECIDED: Final = frozenset(
    {"web_connectivity.probe_undecided", "web_connectivity.accessible_null"}
)

Analyzer = Callable[[dict[str, Any], str], dict[str, Any]]


def _load_analyzer() -> Analyzer | None:
    """The nettest's own verdict logic, if that package is installed."""
    try:
        from censorscope.nettests.web_connectivity_analysis import analyze
    except ImportError:
        logger.debug("web connectivity analysis not available: no re-derivation")
        return None
    return analyze


ANALYZE: Final = _load_analyzer()


def match_fingerprints(keys: Mapping[str, Any], db: FingerprintDB) -> list[Fingerprint]:
    """Every fingerprint matching the DNS answers and HTTP responses.

    Raises BodyDecodeError when a base64 body is broken (fastpath then
    scores without fingerprints and marks the measurement failed).
    """
    found: list[Fingerprint] = []
    for query in keys.get("queries") or ():
        for answer in (query.get("answers") or ()) if isinstance(query, dict) else ():
            if isinstance(answer, dict):
                found.extend(db.match_dns_answer(answer))
    for request in keys.get("requests") or ():
        response = request.get("response") if isinstance(request, dict) else None
        if isinstance(response, dict):
            found.extend(db.match_body(response.get("body")))
            found.extend(db.match_headers(response.get("headers")))
    return _unique(found)


def _unique(found: list[Fingerprint]) -> list[Fingerprint]:
    if len(found) < 2:
        return found
    return list({fingerprint.name: fingerprint for fingerprint in found}.values())


def apply_fingerprints(
    assessment: Assessment,
    matches: list[Fingerprint],
    probe_cc: str,
    test: str,
    seen_by_control: Collection[str] = (),
) -> bool:
    """Record matches in the scores; raise localities of confirming ones.

    A DNS fingerprint whose address is in ``seen_by_control`` (the control's
    own answer) is listed but confirms nothing: the uncensored resolver gave
    it too, so it is the site's real answer (a site on 127.0.0.1).
    """
    if not matches:
        return False
    scores = assessment.scores
    scores["fingerprints"] = [fingerprint.summary for fingerprint in matches]
    assessment.note("fingerprints", [fingerprint.name for fingerprint in matches])
    confirmed = [fp for fp in matches if fp.confirms(probe_cc)]
    in_control = [
        fp
        for fp in confirmed
        if fp.location_found == "dns" and fp.pattern in seen_by_control
    ]
    if in_control:
        assessment.rules.append(f"{test}.fingerprint_seen_by_control")
        assessment.note("seen_by_control", [fp.name for fp in in_control])
        confirmed = [fp for fp in confirmed if fp not in in_control]
    for fingerprint in confirmed:
        scores["blocking_" + fingerprint.locality] = 1.0
        scores["confirmed"] = True
    if confirmed:
        assessment.rules.append(f"{test}.fingerprint_confirmed")
        assessment.note("confirmed_by", [fp.name for fp in confirmed])
    return bool(confirmed)


def _add_localities(scores: dict[str, Any]) -> None:
    scores["blocking_general"] += (
        scores["blocking_country"]
        + scores["blocking_global"]
        + scores["blocking_isp"]
        + scores["blocking_local"]
    )


def _probe_cc(doc: Mapping[str, Any]) -> str:
    value = doc.get("probe_cc")
    return value.upper() if isinstance(value, str) and value else "ZZ"


def _is_tls_failure(keys: Mapping[str, Any]) -> bool:
    failure = keys.get("http_experiment_failure")
    if isinstance(failure, str) and ("ssl" in failure or failure.startswith("tls")):
        return True
    handshakes = keys.get("tls_handshakes")
    if not isinstance(handshakes, list) or not handshakes:
        return False
    results = [entry.get("failure") for entry in handshakes if isinstance(entry, dict)]
    return bool(results) and all(result is not None for result in results)


def _http_failure_mechanism(keys: Mapping[str, Any]) -> str:
    """Where a failed final request broke: its failure string, else its events.

    Classic calls any failed final request ``http-failure``; a refused
    connect after a redirect is TCP/IP blocking, a reset in the handshake TLS.
    """
    from_failure = mechanism_for(keys.get("http_experiment_failure"))
    if from_failure in (v.TCP_IP, v.TLS):
        return from_failure
    step = web_control.failed_step(keys)
    if step is not None:
        return _STEP_MECHANISM[step]
    return v.TLS if _is_tls_failure(keys) else v.HTTP_FAILURE


def _mechanism(keys: Mapping[str, Any], matches: list[Fingerprint]) -> str | None:
    probe = keys.get("blocking")
    if probe == v.HTTP_FAILURE:
        return _http_failure_mechanism(keys)
    if probe in _PROBE_BLOCKING:
        return str(probe)
    if not matches:
        return None
    return v.DNS if any(fp.location_found == "dns" for fp in matches) else v.HTTP_DIFF


def _control_failures(keys: Mapping[str, Any]) -> dict[str, str]:
    control = keys.get("control")
    if keys.get("control_failure") is not None or not isinstance(control, dict):
        return {}
    found: dict[str, str] = {}
    for step in ("dns", "http_request"):
        result = control.get(step)
        failure = result.get("failure") if isinstance(result, dict) else None
        if isinstance(failure, str):
            found[step] = failure
    return found


def _probe_failures(keys: Mapping[str, Any]) -> dict[str, str]:
    names = ("dns_experiment_failure", "http_experiment_failure")
    return {name: keys[name] for name in names if isinstance(keys.get(name), str)}


def _read_control(
    assessment: Assessment,
    doc: Mapping[str, Any],
    keys: Mapping[str, Any],
    matches: list[Fingerprint],
) -> None:
    """Correct the flags where the control explains the probe's result."""
    assessment.note("failures", _probe_failures(keys))
    assessment.note("control_failures", _control_failures(keys))
    if keys.get("blocking") is False and keys.get("accessible") is False:
        # The probe itself says "expected failure" (LTE: website down).
        assessment.down = True
        assessment.rules.append("web_connectivity.probe_says_down")
    finding = web_control.read_control(keys, doc.get("input"), matches)
    if finding is None:
        return
    assessment.rules.append(finding.rule)
    if finding.kind == web_control.DOWN:
        assessment.down = True
    elif finding.kind == web_control.FALSE_POSITIVE:
        assessment.false_positive = True
    else:
        assessment.missed = finding.mechanism
    if finding.excuses_null:
        assessment.excused = _UNDECIDED


def _rederive(
    assessment: Assessment, doc: Mapping[str, Any], keys: dict[str, Any]
) -> None:
    """Check the probe's verdict against one re-derived from its keys."""
    url = doc.get("input")
    if (
        ANALYZE is None
        or not isinstance(url, str)
        or not isinstance(keys.get("control"), dict)
    ):
        return
    try:
        derived = ANALYZE(keys, url)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        assessment.note("rederived", {"error": f"{type(error).__name__}: {error}"})
        return
    blocking, accessible = derived.get("blocking"), derived.get("accessible")
    assessment.evidence["rederived"] = {"blocking": blocking, "accessible": accessible}
    agrees = blocking == keys.get("blocking") and accessible == keys.get("accessible")
    assessment.evidence["probe_agrees"] = agrees
    if not agrees:
        assessment.rules.append("web_connectivity.probe_verdict_disputed")


def _apply_probe_verdict(
    assessment: Assessment, keys: Mapping[str, Any], matched: bool
) -> None:
    """Fastpath step 6: the probe's own ``blocking`` value."""
    probe = keys.get("blocking")
    if probe in _PROBE_BLOCKING:
        assessment.block("web_connectivity.probe_blocking", 1.0, None)
        assessment.scores["analysis"] = {"blocking_type": probe}
    elif probe is None:
        if not matched:
            assessment.fail("web_connectivity.probe_undecided")
    elif probe is not False:
        assessment.scores["analysis"] = {"msg": "Unsupported blocking type"}
        assessment.fail("web_connectivity.unsupported_blocking")


def _lte_flags(assessment: Assessment, keys: Mapping[str, Any]) -> None:
    if "x_blocking_flags" not in keys:
        return
    analysis = assessment.scores.setdefault("analysis", {})
    for name in _LTE_FLAGS:
        analysis[name] = keys.get(name) or 0


def score_web_connectivity(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Fastpath's web_connectivity scores, plus mechanism, down, re-derivation."""
    assessment = Assessment()
    keys = test_keys(doc)
    undecodable = False
    try:
        matches = match_fingerprints(keys, db)
    except BodyDecodeError as error:
        matches, undecodable = [], True
        assessment.note("undecodable_body", str(error))
    matched = bool(matches)
    dns_matched = any(fp.location_found == "dns" for fp in matches)
    seen_by_control = web_control.control_ip_texts(keys) if dns_matched else ()
    apply_fingerprints(
        assessment, matches, _probe_cc(doc), "web_connectivity", seen_by_control
    )
    assessment.note(
        "probe",
        {"blocking": keys.get("blocking"), "accessible": keys.get("accessible")},
    )

    if keys.get("title_match") not in (True, False, None):
        return assessment.fail("web_connectivity.bad_title_match")
    _apply_probe_verdict(assessment, keys, matched)
    _lte_flags(assessment, keys)
    if has_unknown_failure(keys):
        assessment.fail("web_connectivity.unknown_failure")
    _add_localities(assessment.scores)
    if "accessible" in keys and keys["accessible"] is None and not matched:
        assessment.fail("web_connectivity.accessible_null")
    if undecodable:
        assessment.fail("web_connectivity.undecodable_body")

    assessment.blocking = _mechanism(keys, matches)
    _read_control(assessment, doc, keys, matches)
    _rederive(assessment, doc, keys)
    return assessment


def _http_requests_fingerprints(
    keys: Mapping[str, Any], db: FingerprintDB
) -> list[Fingerprint]:
    """Fingerprints in the responses that did not go through Tor."""
    found: list[Fingerprint] = []
    for request in keys.get("requests") or ():
        if not isinstance(request, dict):
            continue
        tor = (request.get("request") or {}).get("tor")
        if isinstance(tor, dict) and tor.get("is_tor"):
            continue
        response = request.get("response")
        if isinstance(response, dict):
            found.extend(db.match_body(response.get("body")))
            found.extend(db.match_headers(response.get("headers")))
    return _unique(found)


def score_http_requests(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Legacy http_requests: body length and headers compared with Tor's fetch."""
    assessment = Assessment()
    keys = test_keys(doc)
    body_match, headers_match = keys.get("body_length_match"), keys.get("headers_match")
    # Fastpath reads these two at the top level, where they never are.
    failed = doc.get("control_failure") or doc.get("experiment_failure")
    if failed or body_match is None or headers_match is None:
        return assessment.fail("http_requests.incomplete")
    if not (body_match and headers_match):
        assessment.block("http_requests.page_differs", 1.0, v.HTTP_DIFF)
    try:
        matches = _http_requests_fingerprints(keys, db)
    except BodyDecodeError as error:
        assessment.note("undecodable_body", str(error))
        return assessment
    if apply_fingerprints(assessment, matches, _probe_cc(doc), "http_requests"):
        assessment.blocking = assessment.blocking or v.HTTP_DIFF
    return assessment
