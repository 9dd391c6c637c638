"""The web_connectivity control measurement (what OONI's ``oohelperd`` does).

Given the probe's request (the URL, its headers, the endpoints it resolved),
measure the same target from here with our own netx: DNS with the configured
resolver, TCP connects (and TLS handshakes on the HTTPS port) to the probe's
and our endpoints, and an HTTP GET following redirects.  Failures are reported
in the helper's legacy vocabulary (``dns_name_error``,
``connection_refused_error``, ...), which probes and the analysis expect.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from censorscope.measurement import failures
from censorscope.nettests.web_connectivity_analysis import page_title
from censorscope.netx import (
    FetchOptions,
    LookupResult,
    Network,
    Request,
    Resolver,
    Trace,
    client_context,
    fetch,
    is_ip_address,
    join_host_port,
    lookup_host,
    split_host_port,
    tcp_connect,
    tls_handshake,
)

HELLO: Final = {"message": "Hello OONItarian!"}
COPIED_HEADERS: Final = ("user-agent", "accept", "accept-language")

# ip_info flags (probe-cli model/th.go).
FLAG_RESOLVED_BY_PROBE: Final = 1
FLAG_RESOLVED_BY_HELPER: Final = 2
FLAG_BOGON: Final = 4
FLAG_VALID_FOR_DOMAIN: Final = 8

_DNS_SERVER_FAILURES: Final = frozenset(
    {
        failures.DNS_NON_RECOVERABLE_FAILURE,
        failures.DNS_REFUSED_ERROR,
        failures.DNS_SERVER_MISBEHAVING,
        failures.DNS_TEMPORARY_FAILURE,
        failures.DNS_SERVFAIL_ERROR,
    }
)


class ControlRequestError(ValueError):
    """The probe's request is not a valid control request (HTTP 400)."""


@dataclass(frozen=True)
class ControlConfig:
    """How the helper measures.

    ``allow_private`` lets it measure private, loopback and other bogon
    addresses; production helpers refuse them (so a probe cannot make the
    helper scan the helper's own network), the lab and tests need them.
    """

    resolver: Resolver
    ca_bundle: str | None = None
    dns_timeout: float = 4.0
    connect_timeout: float = 15.0
    http_timeout: float = 15.0
    max_body: int = 16 << 20
    max_redirects: int = 10
    allow_private: bool = False
    asn_lookup: Callable[[str], tuple[int, str]] | None = None


@dataclass(frozen=True)
class ControlRequest:
    """A validated control request."""

    url: str
    scheme: str
    host: str
    port: int | None
    headers: tuple[tuple[str, str], ...]
    endpoints: tuple[str, ...]


def is_bogon(ip: str) -> bool:
    """Private, loopback, link-local, multicast, reserved or unspecified."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return not address.is_global


def parse_request(body: Any) -> ControlRequest:
    """Validate the JSON body; raises ControlRequestError."""
    if not isinstance(body, Mapping):
        raise ControlRequestError("the request must be a JSON object")
    url = body.get("http_request")
    if not isinstance(url, str):
        raise ControlRequestError("http_request must be a URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ControlRequestError(f"invalid URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ControlRequestError("http_request must be an http(s) URL")
    return ControlRequest(
        url,
        parts.scheme,
        parts.hostname,
        port,
        _copied_headers(body.get("http_request_headers")),
        _endpoints(body.get("tcp_connect")),
    )


def _copied_headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        return ()
    out = []
    for name, values in raw.items():
        if str(name).lower() in COPIED_HEADERS and isinstance(values, list) and values:
            out.append((str(name), str(values[0])))
    return tuple(out)


def _endpoints(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ControlRequestError("tcp_connect must be a list of endpoints")
    out = []
    for item in raw:
        try:
            host, port = split_host_port(str(item))
        except ValueError as error:
            raise ControlRequestError(str(error)) from error
        if not is_ip_address(host):
            raise ControlRequestError(f"not an IP endpoint: {item!r}")
        out.append(join_host_port(host, port))
    return tuple(dict.fromkeys(out))


# --- legacy failure vocabulary ---


def dns_failure(failure: str | None) -> str | None:
    """The helper's DNS failure string (``dns_no_answer`` is no failure)."""
    if failure is None or failure == failures.DNS_NO_ANSWER:
        return None
    if failure == failures.DNS_NXDOMAIN_ERROR:
        return failures.LEGACY_DNS_NAME_ERROR
    if failure in _DNS_SERVER_FAILURES:
        return failures.LEGACY_DNS_SERVER_FAILURE
    return failures.LEGACY_UNKNOWN_ERROR


def tcp_failure(failure: str | None) -> str | None:
    """The helper's TCP connect failure string."""
    if failure is None:
        return None
    if failure in failures.TIMEOUT_FAILURES:
        return failures.GENERIC_TIMEOUT_ERROR
    if failure == failures.CONNECTION_REFUSED:
        return failures.LEGACY_CONNECTION_REFUSED_ERROR
    return failures.LEGACY_CONNECT_ERROR


def http_failure(failure: str | None, operation: str | None) -> str | None:
    """The helper's HTTP failure string."""
    if failure is None:
        return None
    if failure in failures.DNS_FAILURES or operation == "resolve":
        return failures.LEGACY_DNS_LOOKUP_ERROR
    if failure in failures.TIMEOUT_FAILURES:
        return failures.GENERIC_TIMEOUT_ERROR
    if failure == failures.CONNECTION_REFUSED:
        return failures.LEGACY_CONNECTION_REFUSED_ERROR
    return failures.LEGACY_UNKNOWN_ERROR


# --- measurement ---


async def measure(request: ControlRequest, config: ControlConfig) -> dict[str, Any]:
    """The control response for ``request`` (ts-017 §3.3 shape)."""
    dns_result = await _resolve(request, config)
    ours = [a for a in dns_result.addresses if config.allow_private or not is_bogon(a)]
    endpoints = _endpoints_to_measure(request, ours, config)
    tcp, tls = await _measure_endpoints(request, endpoints, config)
    http = await _measure_http(request, config)
    return {
        "tcp_connect": tcp,
        "tls_handshake": tls,
        "quic_handshake": {},
        "http_request": http,
        "http3_request": None,
        "dns": {
            "failure": dns_failure(dns_result.failure),
            "addrs": dns_result.addresses,
        },
        "ip_info": _ip_info(request, dns_result.addresses, tls, config),
    }


async def _resolve(request: ControlRequest, config: ControlConfig) -> LookupResult:
    if is_ip_address(request.host):
        return LookupResult([], None)
    return await lookup_host(
        config.resolver, Trace(), request.host, timeout=config.dns_timeout
    )


def _ports(request: ControlRequest) -> list[int]:
    if request.port is not None:
        return [request.port]
    return [443] if request.scheme == "https" else [80, 443]


def _endpoints_to_measure(
    request: ControlRequest, ours: list[str], config: ControlConfig
) -> list[str]:
    probe = [
        ep
        for ep in request.endpoints
        if config.allow_private or not is_bogon(split_host_port(ep)[0])
    ]
    mine = [join_host_port(ip, port) for ip in ours for port in _ports(request)]
    return list(dict.fromkeys(probe + mine))


def _wants_tls(request: ControlRequest, port: int) -> bool:
    https_port = request.port if request.scheme == "https" and request.port else 443
    return port == https_port


async def _measure_endpoint(
    request: ControlRequest, endpoint: str, config: ControlConfig
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    ip, port = split_host_port(endpoint)
    trace = Trace()
    result = await tcp_connect(trace, ip, port, timeout=config.connect_timeout)
    tcp = {"status": result.conn is not None, "failure": tcp_failure(result.failure)}
    if result.conn is None or not _wants_tls(request, port):
        if result.conn is not None:
            result.conn.close()
        return tcp, None
    context = client_context(config.ca_bundle, alpn=("h2", "http/1.1"))
    shaken = await tls_handshake(
        result.conn, request.host, context, timeout=config.connect_timeout
    )
    if shaken.conn is not None:
        shaken.conn.close()
    tls = {
        "server_name": request.host,
        "status": shaken.failure is None,
        "failure": shaken.failure,
    }
    return tcp, tls


async def _measure_endpoints(
    request: ControlRequest, endpoints: list[str], config: ControlConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    results = await asyncio.gather(
        *(_measure_endpoint(request, ep, config) for ep in endpoints)
    )
    tcp: dict[str, Any] = {}
    tls: dict[str, Any] = {}
    for endpoint, (tcp_result, tls_result) in zip(endpoints, results, strict=True):
        tcp[endpoint] = tcp_result
        if tls_result is not None:
            tls[endpoint] = tls_result
    return tcp, tls


class _PublicOnly:
    """A resolver wrapper that drops bogon answers (the helper's HTTP step)."""

    def __init__(self, inner: Resolver) -> None:
        self.inner = inner
        self.engine = inner.engine
        self.address = inner.address

    async def lookup(
        self, trace: Trace, hostname: str, *, timeout: float, tags: list[str]
    ) -> LookupResult:
        result = await self.inner.lookup(trace, hostname, timeout=timeout, tags=tags)
        public = [a for a in result.addresses if not is_bogon(a)]
        if result.addresses and not public:
            return LookupResult([], failures.DNS_BOGON_ERROR)
        return LookupResult(public, result.failure)


async def _measure_http(
    request: ControlRequest, config: ControlConfig
) -> dict[str, Any]:
    resolver = config.resolver if config.allow_private else _PublicOnly(config.resolver)
    network = Network(resolver, client_context(config.ca_bundle))
    options = FetchOptions(
        max_body=config.max_body,
        max_redirects=config.max_redirects,
        resolve_timeout=config.dns_timeout,
        connect_timeout=config.connect_timeout,
        tls_timeout=config.connect_timeout,
        http_timeout=config.http_timeout,
    )
    if (
        not config.allow_private
        and is_ip_address(request.host)
        and is_bogon(request.host)
    ):
        return _http_failed(failures.LEGACY_UNKNOWN_ERROR)
    result = await fetch(
        Trace(), network, Request(request.url, headers=request.headers), options
    )
    final = result.final
    if result.failure is not None or final is None:
        return _http_failed(http_failure(result.failure, result.failed_operation))
    return {
        "body_length": len(final.body),
        "discovered_h3_endpoint": "",
        "failure": None,
        "title": page_title(final.body),
        "headers": {name: value for name, value in reversed(final.headers)},
        "status_code": final.status,
    }


def _http_failed(failure: str | None) -> dict[str, Any]:
    return {
        "body_length": -1,
        "discovered_h3_endpoint": "",
        "failure": failure or failures.LEGACY_UNKNOWN_ERROR,
        "title": "",
        "headers": {},
        "status_code": -1,
    }


def _ip_info(
    request: ControlRequest,
    ours: list[str],
    tls: Mapping[str, Any],
    config: ControlConfig,
) -> dict[str, Any]:
    flags: dict[str, int] = {}
    for endpoint in request.endpoints:
        ip = split_host_port(endpoint)[0]
        flags[ip] = flags.get(ip, 0) | FLAG_RESOLVED_BY_PROBE
    for ip in ours:
        flags[ip] = flags.get(ip, 0) | FLAG_RESOLVED_BY_HELPER
    for endpoint, result in tls.items():
        if result.get("status"):
            ip = split_host_port(endpoint)[0]
            flags[ip] = flags.get(ip, 0) | FLAG_VALID_FOR_DOMAIN
    lookup = config.asn_lookup
    return {
        ip: {
            "asn": lookup(ip)[0] if lookup else 0,
            "flags": flag | (FLAG_BOGON if is_bogon(ip) else 0),
        }
        for ip, flag in flags.items()
    }
