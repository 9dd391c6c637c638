"""The key results of a measurement in a few words, per test.

Used by ``censorscope show`` and by the probe's result listings: what a
person wants to see first (the verdict keys the test itself reports, and any
failure), not the whole document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

KeyResults = list[tuple[str, str]]


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value) or "[]"
    return str(value)


def _pick(test_keys: Mapping[str, Any], *keys: str) -> KeyResults:
    return [(key, _text(test_keys[key])) for key in keys if key in test_keys]


def _web_connectivity(test_keys: Mapping[str, Any]) -> KeyResults:
    return _pick(
        test_keys,
        "blocking",
        "accessible",
        "dns_consistency",
        "dns_experiment_failure",
        "http_experiment_failure",
        "control_failure",
    )


def _whatsapp(test_keys: Mapping[str, Any]) -> KeyResults:
    return _pick(
        test_keys,
        "registration_server_status",
        "registration_server_failure",
        "whatsapp_endpoints_status",
        "whatsapp_endpoints_blocked",
        "whatsapp_web_status",
        "whatsapp_web_failure",
    )


def _facebook_messenger(test_keys: Mapping[str, Any]) -> KeyResults:
    return _pick(test_keys, "facebook_dns_blocking", "facebook_tcp_blocking")


def _telegram(test_keys: Mapping[str, Any]) -> KeyResults:
    return _pick(
        test_keys,
        "telegram_tcp_blocking",
        "telegram_http_blocking",
        "telegram_web_status",
        "telegram_web_failure",
    )


def _signal(test_keys: Mapping[str, Any]) -> KeyResults:
    return _pick(test_keys, "signal_backend_status", "signal_backend_failure")


def _middlebox(test_keys: Mapping[str, Any]) -> KeyResults:
    tampering = test_keys.get("tampering")
    if isinstance(tampering, Mapping):
        changed = sorted(key for key, value in tampering.items() if value is True)
        return [("tampering", ", ".join(changed) or "none")]
    return _pick(test_keys, "tampering")


def _failures(test_keys: Mapping[str, Any]) -> KeyResults:
    """Fallback: every top-level ``*failure`` key plus ``failed_operation``."""
    keys = [
        key for key in test_keys if key.endswith("failure") or key == "failed_operation"
    ]
    return _pick(test_keys, *sorted(keys))


_BY_TEST: Final[dict[str, Callable[[Mapping[str, Any]], KeyResults]]] = {
    "web_connectivity": _web_connectivity,
    "whatsapp": _whatsapp,
    "facebook_messenger": _facebook_messenger,
    "telegram": _telegram,
    "signal": _signal,
    "http_header_field_manipulation": _middlebox,
    "http_invalid_request_line": _middlebox,
}


def key_results(test_name: str, test_keys: Mapping[str, Any] | None) -> KeyResults:
    """The headline results of one measurement as (name, value) pairs."""
    if not test_keys:
        return [("test_keys", "null")]
    summarize = _BY_TEST.get(test_name, _failures)
    return summarize(test_keys) or _failures(test_keys)
