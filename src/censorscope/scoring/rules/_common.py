"""Helpers shared by the per-test rules: test keys, failures, mechanisms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from censorscope.measurement import failures as f
from censorscope.scoring import verdict as v

# The operation names of urlgetter-based tests (``failed_operation``).
_OPERATION_MECHANISM: Final = {
    "resolve": v.DNS,
    "dns_lookup": v.DNS,
    "connect": v.TCP_IP,
    "tcp_connect": v.TCP_IP,
    "tls_handshake": v.TLS,
    "quic_handshake": v.TLS,
    "http_round_trip": v.HTTP_FAILURE,
    "http_transaction": v.HTTP_FAILURE,
    "read": v.HTTP_FAILURE,
    "write": v.HTTP_FAILURE,
}
_CONNECT_FAILURES: Final = frozenset(
    {
        f.CONNECTION_REFUSED,
        f.LEGACY_CONNECTION_REFUSED_ERROR,
        f.LEGACY_CONNECT_ERROR,
        f.HOST_UNREACHABLE,
        f.NETWORK_UNREACHABLE,
        f.LEGACY_TCP_TIMED_OUT_ERROR,
    }
)


def test_keys(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The test keys of a document; null or missing reads as empty."""
    keys = doc.get("test_keys")
    return keys if isinstance(keys, dict) else {}


def has_unknown_failure(keys: Mapping[str, Any]) -> bool:
    """Fastpath's check: any ``*_failure`` key holding ``unknown_failure ...``."""
    for name, value in keys.items():
        is_failure = name.endswith("_failure") and isinstance(value, str)
        if is_failure and value.startswith(f.UNKNOWN_FAILURE):
            return True
    return False


def mechanism_for(failure: Any, operation: Any = None) -> str | None:
    """The blocking mechanism a failure points at, if it can be told.

    The failed operation decides when known; otherwise the failure string.
    """
    if not isinstance(failure, str) or not failure:
        return None
    if isinstance(operation, str) and operation in _OPERATION_MECHANISM:
        return _OPERATION_MECHANISM[operation]
    if failure in f.DNS_FAILURES or failure.startswith("dns_"):
        return v.DNS
    if failure.startswith(("ssl_", "tls_")) or "ssl" in failure:
        return v.TLS
    if failure in _CONNECT_FAILURES:
        return v.TCP_IP
    return None


def first_mechanism(failures: Iterable[Any], default: str) -> str:
    """The mechanism of the first failure that names one, else ``default``."""
    for failure in failures:
        mechanism = mechanism_for(failure)
        if mechanism is not None:
            return mechanism
    return default


def count_tcp_connect(keys: Mapping[str, Any]) -> tuple[int, int]:
    """(successful, failed) entries of the df-005 ``tcp_connect`` list."""
    entries = keys.get("tcp_connect")
    if not isinstance(entries, list):
        return 0, 0
    succeeded = failed = 0
    for entry in entries:
        status = entry.get("status") if isinstance(entry, dict) else None
        success = status.get("success") if isinstance(status, dict) else None
        if success is True:
            succeeded += 1
        elif success is False:
            failed += 1
    return succeeded, failed


def tcp_failures(keys: Mapping[str, Any]) -> list[str]:
    """The distinct failure strings of the ``tcp_connect`` entries."""
    found: list[str] = []
    for entry in keys.get("tcp_connect") or ():
        status = entry.get("status") if isinstance(entry, dict) else None
        failure = status.get("failure") if isinstance(status, dict) else None
        if isinstance(failure, str) and failure not in found:
            found.append(failure)
    return found


def parse_version(text: str) -> tuple[int, ...]:
    """``"3.17.0-alpha"`` -> ``(3, 17, 0, 0)``; a final release ends in 1.

    Raises ValueError when the text does not start with a dotted number.
    """
    release, _, suffix = text.strip().partition("-")
    release = release.partition("+")[0]
    parts = tuple(int(part) for part in release.split("."))
    while len(parts) < 3:
        parts = (*parts, 0)
    return (*parts, 0 if suffix else 1)
