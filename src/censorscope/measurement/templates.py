"""Typed shapes of OONI's data-format templates (df-000 ... df-008).

These are ``TypedDict`` views of the JSON: a measurement is kept as the dict
that was read, so that unknown and experimental (``x_``) keys survive a round
trip unchanged, and these types tell code what the known keys hold.  Every key
is optional (``total=False``) because consumers must tolerate missing or null
fields in data from every era.
"""

from __future__ import annotations

from typing import Any, TypedDict

from censorscope.measurement.binary import MaybeBinary

HeadersMap = dict[str, MaybeBinary]
HeadersList = list[list[MaybeBinary]]


class BaseMeasurementDict(TypedDict, total=False):
    """Top-level keys of every measurement (df-000)."""

    annotations: dict[str, str]
    data_format_version: str
    extensions: dict[str, int]
    id: str
    input: str | list[str] | None
    input_hashes: list[str]
    measurement_start_time: str
    measurement_uid: str
    options: list[str]
    probe_asn: str
    probe_cc: str
    probe_city: str | None
    probe_ip: str
    probe_network_name: str
    report_id: str
    resolver_asn: str
    resolver_ip: str
    resolver_network_name: str
    software_name: str
    software_version: str
    test_helpers: dict[str, Any]
    test_keys: dict[str, Any] | None
    test_name: str
    test_runtime: float
    test_start_time: str
    test_version: str


class TorInfo(TypedDict, total=False):
    exit_ip: str | None
    exit_name: str | None
    is_tor: bool


class HTTPRequest(TypedDict, total=False):
    """df-001 request."""

    url: str
    method: str
    headers: HeadersMap
    headers_list: HeadersList
    body: MaybeBinary | None
    body_is_truncated: bool
    tor: TorInfo
    x_transport: str


class HTTPResponse(TypedDict, total=False):
    """df-001 response."""

    code: int
    headers: HeadersMap
    headers_list: HeadersList
    body: MaybeBinary | None
    body_is_truncated: bool


class HTTPTransaction(TypedDict, total=False):
    """One entry of ``test_keys.requests`` (df-001)."""

    network: str
    address: str
    alpn: str
    failure: str | None
    request: HTTPRequest
    response: HTTPResponse | None
    t0: float
    t: float
    tags: list[str]
    transaction_id: int


class DNSAnswer(TypedDict, total=False):
    """df-002 answer."""

    answer_type: str
    ipv4: str
    ipv6: str
    hostname: str
    asn: int
    as_org_name: str
    ttl: int | None


class DNSQuery(TypedDict, total=False):
    """One entry of ``test_keys.queries`` (df-002)."""

    answers: list[DNSAnswer] | None
    engine: str
    failure: str | None
    getaddrinfo_error: int
    hostname: str
    query_type: str
    raw_response: str
    rcode: int
    resolver_address: str
    resolver_hostname: str | None
    resolver_port: str | None
    t0: float
    t: float
    tags: list[str]
    transaction_id: int


class TCPConnectStatus(TypedDict, total=False):
    success: bool
    failure: str | None
    blocked: bool | None


class TCPConnect(TypedDict, total=False):
    """One entry of ``test_keys.tcp_connect`` (df-005)."""

    ip: str
    port: int
    status: TCPConnectStatus
    t0: float
    t: float
    tags: list[str]
    transaction_id: int


class TLSHandshake(TypedDict, total=False):
    """One entry of ``test_keys.tls_handshakes`` (df-006)."""

    network: str
    address: str
    server_name: str
    cipher_suite: str
    tls_version: str
    negotiated_protocol: str
    no_tls_verify: bool
    peer_certificates: list[MaybeBinary] | None
    failure: str | None
    so_error: str | None
    t0: float
    t: float
    tags: list[str]
    transaction_id: int


class NetworkEvent(TypedDict, total=False):
    """One entry of ``test_keys.network_events`` (df-008)."""

    address: str
    failure: str | None
    num_bytes: int
    operation: str
    proto: str
    t0: float
    t: float
    tags: list[str]
    transaction_id: int
