"""Typed test keys of the network tests censorscope implements.

Like :mod:`censorscope.measurement.templates`, these describe the JSON rather
than replace it: every key is optional, and keys not listed here are kept.
Names, values and meanings follow OONI's test specifications (ts-0xx).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from censorscope.measurement.templates import (
    DNSQuery,
    HTTPTransaction,
    NetworkEvent,
    TCPConnect,
    TLSHandshake,
)

Status = Literal["ok", "blocked"]
Blocking = Literal["dns", "tcp_ip", "http-failure", "http-diff"] | Literal[False] | None
DNSConsistency = Literal["consistent", "inconsistent", "reverse_match"] | None


class ObservationKeys(TypedDict, total=False):
    """The raw observations every modern test embeds (dnst, tcpconnect, ...)."""

    agent: str
    failed_operation: str | None
    failure: str | None
    network_events: list[NetworkEvent] | None
    queries: list[DNSQuery] | None
    requests: list[HTTPTransaction] | None
    tcp_connect: list[TCPConnect] | None
    tls_handshakes: list[TLSHandshake] | None
    socksproxy: str | None


class ControlDNS(TypedDict, total=False):
    failure: str | None
    addrs: list[str]


class ControlTCPConnect(TypedDict, total=False):
    status: bool
    failure: str | None


class ControlTLSHandshake(TypedDict, total=False):
    server_name: str
    status: bool
    failure: str | None


class ControlHTTPRequest(TypedDict, total=False):
    body_length: int
    failure: str | None
    title: str
    headers: dict[str, str]
    status_code: int


class ControlResponse(TypedDict, total=False):
    """The web connectivity test helper's answer (``test_keys.control``)."""

    tcp_connect: dict[str, ControlTCPConnect]
    tls_handshake: dict[str, ControlTLSHandshake]
    http_request: ControlHTTPRequest
    dns: ControlDNS
    ip_info: dict[str, dict[str, int]]


class WebConnectivityKeys(ObservationKeys, total=False):
    """ts-017 web_connectivity (classic v0.4 keys)."""

    client_resolver: str | None
    retries: int | None
    dns_experiment_failure: str | None
    dns_consistency: DNSConsistency
    control_failure: str | None
    control: ControlResponse
    http_experiment_failure: str | None
    body_length_match: bool | None
    body_proportion: float
    status_code_match: bool | None
    headers_match: bool | None
    title_match: bool | None
    accessible: bool | None
    blocking: Blocking
    x_status: int


class WhatsappKeys(ObservationKeys, total=False):
    """ts-018 whatsapp."""

    registration_server_failure: str | None
    registration_server_status: Status
    whatsapp_endpoints_blocked: list[str]
    whatsapp_endpoints_dns_inconsistent: list[str]
    whatsapp_endpoints_status: Status
    whatsapp_web_failure: str | None
    whatsapp_web_status: Status


class FacebookMessengerKeys(ObservationKeys, total=False):
    """ts-019 facebook_messenger; per-endpoint keys are
    ``facebook_<id>_dns_consistent`` and ``facebook_<id>_reachable``."""

    facebook_dns_blocking: bool
    facebook_tcp_blocking: bool


class TelegramKeys(ObservationKeys, total=False):
    """ts-020 telegram."""

    telegram_http_blocking: bool
    telegram_tcp_blocking: bool
    telegram_web_failure: str | None
    telegram_web_status: Status | None


class SignalKeys(ObservationKeys, total=False):
    """ts-029 signal."""

    signal_backend_status: Status
    signal_backend_failure: str | None


class HeaderFieldManipulationKeys(TypedDict, total=False):
    """ts-006 http_header_field_manipulation."""

    agent: str
    requests: list[HTTPTransaction] | None
    tampering: dict[str, Any]


class InvalidRequestLineKeys(TypedDict, total=False):
    """ts-007 http_invalid_request_line."""

    failure: str | None
    received: list[Any]
    sent: list[str]
    tampering: bool
    tampering_list: list[Any]


class DNSCheckKeys(TypedDict, total=False):
    """ts-028 dnscheck."""

    domain: str
    failure: str | None
    bootstrap: dict[str, Any] | None
    bootstrap_failure: str | None
    lookups: dict[str, ObservationKeys]


class StunReachabilityKeys(TypedDict, total=False):
    """ts-025 stunreachability."""

    endpoint: str
    failure: str | None
    network_events: list[NetworkEvent] | None
    queries: list[DNSQuery] | None
