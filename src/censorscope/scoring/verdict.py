"""The verdict on one measurement, and the assessment rules build it from.

A rule (one per test, in :mod:`censorscope.scoring.rules`) fills an
:class:`Assessment`: OONI fastpath's ``scores`` dict (``blocking_general``,
``blocking_<locality>``, ``accuracy``, ``confirmed``, ``analysis`` ...) plus
what fastpath does not have: the blocking mechanism, whether the target was
down from the control vantage point too, the name of the rule that decided,
and the evidence behind it.  :func:`censorscope.scoring.scorer.score` turns
it into a :class:`Verdict`:

* ``anomaly``   = ``blocking_general > 0.5`` (fastpath), except when no
  fingerprint confirmed blocking and the control explains the probe's result:
  the target was down for the control too, or the page is a known false
  positive (not an anomaly); or the probe missed interference the control
  shows (an anomaly);
* ``failure``   = ``accuracy < 0.5`` (fastpath), unless every rule that failed
  the measurement is excused (the control explains an undecided verdict);
* ``confirmed`` = a fingerprint confirmed blocking (fastpath);
* ``blocking``  = the mechanism, only when ``anomaly``;
* ``down``      = the target failed from the control too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

LOCALITIES: Final = ("general", "global", "country", "isp", "local")

# Mechanisms a verdict may name (docs/scoring.md explains each).
DNS: Final = "dns"
TCP_IP: Final = "tcp_ip"
TLS: Final = "tls"
HTTP_FAILURE: Final = "http-failure"
HTTP_DIFF: Final = "http-diff"
MIDDLEBOX: Final = "middlebox"
TUNNEL: Final = "tunnel"
UNKNOWN: Final = "unknown"


def init_scores() -> dict[str, Any]:
    """Fastpath's starting scores: every locality at 0.0."""
    return {
        "blocking_general": 0.0,
        "blocking_global": 0.0,
        "blocking_country": 0.0,
        "blocking_isp": 0.0,
        "blocking_local": 0.0,
    }


@dataclass(slots=True)
class Assessment:
    """What a rule concluded, before the flags are derived.

    ``rules`` lists the rules that fired, in order (``<test>.<rule>``);
    ``evidence`` holds the failure strings, fingerprint names and other facts
    they relied on.  ``scores`` stay fastpath's; the fields after ``down``
    let a rule correct the flags where the control tells more than the
    probe's verdict: ``false_positive`` (the anomaly is a known false
    positive), ``missed`` (the mechanism of interference the probe's verdict
    missed), ``excused`` (failing rules whose failure the control explains;
    ``failed_by`` lists every rule that failed the measurement).
    """

    scores: dict[str, Any] = field(default_factory=init_scores)
    rules: list[str] = field(default_factory=list)
    blocking: str | None = None
    down: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    false_positive: bool = False
    missed: str | None = None
    excused: frozenset[str] = frozenset()
    failed_by: list[str] = field(default_factory=list)

    def fail(self, rule: str) -> Assessment:
        """Mark the measurement as failed (accuracy 0) because of ``rule``."""
        self.scores["accuracy"] = 0.0
        self.rules.append(rule)
        self.failed_by.append(rule)
        return self

    @property
    def failed(self) -> bool:
        """Fastpath's failure (accuracy < 0.5) unless every cause is excused."""
        if self.scores.get("accuracy", 1.0) >= 0.5:
            return False
        return not (self.failed_by and set(self.failed_by) <= self.excused)

    def block(self, rule: str, score: float, mechanism: str | None) -> Assessment:
        """Set ``blocking_general`` to ``score`` with its mechanism."""
        self.scores["blocking_general"] = score
        self.rules.append(rule)
        self.blocking = mechanism
        return self

    def note(self, key: str, value: Any) -> None:
        """Record a piece of evidence, skipping empty values."""
        if value is not None and value not in ([], {}):
            self.evidence[key] = value


@dataclass(frozen=True, slots=True)
class Verdict:
    """The scored outcome stored for every measurement."""

    anomaly: bool
    confirmed: bool
    failure: bool
    blocking: str | None
    down: bool
    scores: dict[str, Any]
    evidence: dict[str, Any]
    rules_version: str
    fingerprints_version: str

    @property
    def status(self) -> str:
        """One word for humans: confirmed, anomaly, failure, down or ok."""
        if self.confirmed:
            return "confirmed"
        if self.anomaly:
            return "anomaly"
        if self.failure:
            return "failure"
        return "down" if self.down else "ok"
