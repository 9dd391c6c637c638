"""The record of one measurement: what every network operation did, and when.

A :class:`Trace` holds the zero time of a measurement and a transaction-id
counter, and accumulates OONI's observation lists (``queries``,
``tcp_connect``, ``tls_handshakes``, ``requests``, ``network_events``).  Times
are seconds relative to the zero time; a transaction id groups the steps of
one attempt (the DNS lookup, or the connect, handshake and HTTP exchange to
one endpoint).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ObservationList = list[dict[str, Any]]


@dataclass
class _Clock:
    """The part of a trace that child traces share: zero time and id counter."""

    zero: float
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class Trace:
    """Observations of one measurement, with times relative to its start."""

    def __init__(self, zero: float | None = None, *, _clock: _Clock | None = None):
        self._clock = _clock or _Clock(time.monotonic() if zero is None else zero)
        self.queries: ObservationList = []
        self.tcp_connect: ObservationList = []
        self.tls_handshakes: ObservationList = []
        self.requests: ObservationList = []
        self.network_events: ObservationList = []

    def now(self) -> float:
        """Seconds elapsed since the measurement started."""
        return round(time.monotonic() - self._clock.zero, 9)

    def next_transaction_id(self) -> int:
        """A fresh id to group the steps of one attempt."""
        return next(self._clock.ids)

    def child(self) -> Trace:
        """A trace with the same clock and ids but its own lists.

        Used when a step's observations are kept apart (e.g. the control
        request of web_connectivity, which is not part of the test keys).
        """
        return Trace(_clock=self._clock)

    def extend(self, other: Trace) -> None:
        """Append every observation of ``other`` to this trace."""
        self.queries.extend(other.queries)
        self.tcp_connect.extend(other.tcp_connect)
        self.tls_handshakes.extend(other.tls_handshakes)
        self.requests.extend(other.requests)
        self.network_events.extend(other.network_events)

    def event(
        self,
        operation: str,
        t0: float,
        transaction_id: int,
        *,
        failure: str | None = None,
        tags: list[str] | None = None,
        **extra: Any,
    ) -> None:
        """Record one network event (df-008)."""
        entry: dict[str, Any] = {
            "failure": failure,
            "operation": operation,
            "t0": t0,
            "t": self.now(),
            "tags": list(tags or []),
            "transaction_id": transaction_id,
        }
        entry.update(extra)
        self.network_events.append(entry)

    def marker(self, operation: str, transaction_id: int, tags: list[str]) -> None:
        """Record a marker event (``tls_handshake_start`` ...) with t0 == t."""
        now = self.now()
        self.network_events.append(
            {
                "failure": None,
                "operation": operation,
                "t0": now,
                "t": now,
                "tags": list(tags),
                "transaction_id": transaction_id,
            }
        )

    def test_keys(self) -> dict[str, ObservationList]:
        """The observation lists under their OONI test-key names."""
        return {
            "network_events": self.network_events,
            "queries": self.queries,
            "requests": self.requests,
            "tcp_connect": self.tcp_connect,
            "tls_handshakes": self.tls_handshakes,
        }


class Span:
    """Logs one operation in the shape "op target..." then "... ok in 12 ms"."""

    def __init__(self, operation: str, target: str) -> None:
        self.operation = operation
        self.target = target
        self._started = time.monotonic()
        logger.debug("%s %s...", operation, target)

    def done(self, failure: str | None) -> None:
        """Log the outcome: ``ok`` or the failure string, with the elapsed time."""
        elapsed_ms = (time.monotonic() - self._started) * 1000
        outcome = "ok" if failure is None else failure
        logger.debug(
            "%s %s... %s in %.0f ms", self.operation, self.target, outcome, elapsed_ms
        )
