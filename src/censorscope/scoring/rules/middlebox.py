"""Rules for the middlebox tests: HTTP header field manipulation, invalid request line.

Both send a request to an echo helper and compare what came back with what
was sent; any difference means something on the path rewrote the traffic.
"""

from __future__ import annotations

from typing import Any

import orjson

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules._common import test_keys
from censorscope.scoring.verdict import Assessment


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _echoed_headers(body: str) -> set[tuple[str, Any]] | None:
    """(name, first value) pairs the helper saw, or None when unreadable."""
    try:
        echoed = orjson.loads(body)["headers_dict"]
        return {(name, _first(values)) for name, values in echoed.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


def score_hhfm(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Headers echoed back by the helper must equal the headers sent."""
    assessment = Assessment()
    keys = test_keys(doc)
    requests = keys.get("requests")
    if (
        not isinstance(requests, list)
        or not requests
        or not isinstance(requests[0], dict)
    ):
        return assessment.fail("hhfm.no_requests")
    response = requests[0].get("response", {})
    if response is None:
        return assessment.fail("hhfm.no_response")
    body = response.get("body") if isinstance(response, dict) else None
    if body is None:
        assessment.scores.update(total_tampering=True, msg="Empty body")
        return assessment.block("hhfm.empty_body", 1.0, v.MIDDLEBOX)
    echoed = _echoed_headers(body) if isinstance(body, str) else None
    if echoed is None:
        assessment.scores["msg"] = "Malformed ctrl_headers"
        return assessment.block("hhfm.malformed_echo", 1.0, v.MIDDLEBOX)

    sent_headers = (requests[0].get("request") or {}).get("headers") or {}
    sent = {(name, _first(value)) for name, value in sent_headers.items()}
    echoed.discard(("Connection", "close"))
    sent.discard(("Connection", "close"))
    if sent == echoed:
        return assessment
    changed = sent ^ echoed
    assessment.scores["msg"] = f"{len(changed)} unexpected header change"
    assessment.note("changed_headers", sorted(str(name) for name, _ in changed))
    return assessment.block("hhfm.headers_changed", 1.1, v.MIDDLEBOX)


def score_hirl(doc: dict[str, Any], db: FingerprintDB) -> Assessment:
    """Every invalid request line must come back unchanged from the echo helper.

    The probe's own ``tampering`` flag is ignored (a probe bug made it wrong).
    """
    assessment = Assessment()
    keys = test_keys(doc)
    sent = keys.get("sent") or []
    received = keys.get("received") or []
    if not sent and not received:
        return assessment.fail("hirl.nothing_sent")
    changed = sum(1 for line, echo in zip(sent, received, strict=False) if line != echo)
    if changed:
        assessment.note("changed_lines", changed)
        assessment.block("hirl.request_line_changed", 1.0, v.MIDDLEBOX)
    return assessment
