"""One scoring code path for live submissions, bulk ingestion and re-scoring.

:func:`score` dispatches on ``test_name`` to the rule of that test, applies
fastpath's date sanity check, and derives the published flags.
``RULES_VERSION`` is a hash of the rule sources, stored with every verdict:
when it changes, ``censorscope rescore`` knows which verdicts are stale.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules import rule_for
from censorscope.scoring.verdict import Assessment, Verdict

_FUTURE_TOLERANCE: Final = 3600.0  # seconds a start time may be after receipt
_MAX_AGE: Final = 365 * 24 * 3600.0  # seconds a start time may be before receipt


def _rules_version() -> str:
    """A hash of every source file that decides a verdict."""
    package = Path(__file__).parent
    names = ("scorer.py", "verdict.py", "fingerprints.py")
    sources = sorted(
        [*(package / name for name in names), *(package / "rules").glob("*.py")]
    )
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return "rules-" + digest.hexdigest()[:12]


RULES_VERSION: Final = _rules_version()


def _uid_received(uid: str) -> datetime | None:
    """The receive time in a ``YYYYmmddHHMMSS.ffffff_...`` uid."""
    if len(uid) < 22 or uid[14] != "." or uid[21] != "_" or not uid.startswith("20"):
        return None
    try:
        return datetime(
            int(uid[0:4]),
            int(uid[4:6]),
            int(uid[6:8]),
            int(uid[8:10]),
            int(uid[10:12]),
            int(uid[12:14]),
            int(uid[15:21]),
        )
    except ValueError:
        return None


def _start_time(text: Any) -> datetime | None:
    """``YYYY-mm-dd HH:MM:SS`` parsed without strptime (it is slow)."""
    if (
        not isinstance(text, str)
        or len(text) != 19
        or text[4] != "-"
        or text[10] != " "
    ):
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
        )
    except ValueError:
        return None


def _flag_wrong_date(
    assessment: Assessment, doc: dict[str, Any], uid: str | None
) -> None:
    """Fastpath: a start time far from the receive time makes a failure.

    Measurements a probe took on a simulated clock (the lab's campaigns,
    annotated ``simulated_clock: "true"``) are exempt: their start time is
    meant to differ from when the collector received them.
    """
    annotations = doc.get("annotations")
    if isinstance(annotations, dict) and annotations.get("simulated_clock") == "true":
        return
    received = _uid_received(uid) if uid else None
    start = _start_time(doc.get("measurement_start_time")) if received else None
    if received is None or start is None:
        return
    delta = (received - start).total_seconds()
    if delta < -_FUTURE_TOLERANCE:
        assessment.scores["msg"] = "Measurement start time from the future"
        assessment.fail("date.from_the_future")
    elif delta > _MAX_AGE:
        assessment.scores["msg"] = "Measurement start time too old"
        assessment.fail("date.too_old")


def score(
    doc: dict[str, Any], fingerprints: FingerprintDB, uid: str | None = None
) -> Verdict:
    """Score one measurement document (``uid`` enables the date check)."""
    test_name = doc.get("test_name")
    assessment = rule_for(test_name if isinstance(test_name, str) else "")(
        doc, fingerprints
    )
    _flag_wrong_date(assessment, doc, uid)
    return _verdict(assessment, fingerprints.version)


def _corrected_anomaly(assessment: Assessment, anomaly: bool) -> bool:
    """Fastpath's anomaly, corrected where the control explains the probe."""
    if anomaly and assessment.down:
        assessment.rules.append("down_for_control_too")
        return False
    if anomaly and assessment.false_positive:
        assessment.rules.append("known_false_positive_not_counted")
        return False
    if not anomaly and not assessment.down and assessment.missed is not None:
        assessment.blocking = assessment.missed
        assessment.rules.append("missed_by_probe_counted")
        return True
    return anomaly


def _verdict(assessment: Assessment, fingerprints_version: str) -> Verdict:
    scores = assessment.scores
    confirmed = bool(scores.get("confirmed", False))
    # A confirmed blockpage is an anomaly even where fastpath's sum misses it.
    anomaly = scores.get("blocking_general", 0.0) > 0.5 or confirmed
    if not confirmed:
        anomaly = _corrected_anomaly(assessment, anomaly)
    failure = assessment.failed
    blocking = (assessment.blocking or v.UNKNOWN) if anomaly else None
    evidence = {"rules": assessment.rules, **assessment.evidence}
    return Verdict(
        anomaly=anomaly,
        confirmed=confirmed,
        failure=failure,
        blocking=blocking,
        down=assessment.down,
        scores=scores,
        evidence=evidence,
        rules_version=RULES_VERSION,
        fingerprints_version=fingerprints_version,
    )
