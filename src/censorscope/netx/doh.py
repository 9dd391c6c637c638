"""DNS over HTTPS (RFC 8484) on our own HTTP stack, and the resolver factory.

DoH queries go through :func:`censorscope.netx.http.fetch_once`, so the
connect, handshake and HTTP exchange that carry them are recorded like any
other, and the CA bundle is the one the measurement uses.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from censorscope.measurement import failures
from censorscope.netx.dns import (
    Resolver,
    SystemResolver,
    TCPResolver,
    TLSResolver,
    UDPResolver,
    WireResolver,
    endpoint_of,
)
from censorscope.netx.errors import NetxError
from censorscope.netx.http import FetchOptions, Network, Request, fetch_once
from censorscope.netx.tcp import is_ip_address, join_host_port
from censorscope.netx.tls import client_context
from censorscope.netx.trace import Trace

DNS_MESSAGE = "application/dns-message"


class DoHResolver(WireResolver):
    """DNS over HTTPS with POST to ``url`` (engine ``doh``)."""

    engine = "doh"

    def __init__(self, url: str, network: Network, timeout: float = 10.0) -> None:
        self.address = url
        self.network = network
        self.options = FetchOptions(
            max_body=65535,
            follow_redirects=False,
            connect_timeout=timeout,
            tls_timeout=timeout,
            http_timeout=timeout,
            resolve_timeout=timeout,
        )

    async def exchange(
        self, trace: Trace, wire: bytes, transaction_id: int, tags: list[str]
    ) -> bytes:
        headers = (("Content-Type", DNS_MESSAGE), ("Accept", DNS_MESSAGE))
        request = Request(self.address, "POST", headers, wire)
        exchange = await fetch_once(trace, self.network, request, self.options, tags)
        if exchange.failure is not None:
            raise NetxError(exchange.failure)
        content_type = (exchange.header("Content-Type") or "").split(";")[0]
        if exchange.status != 200 or content_type.strip() != DNS_MESSAGE:
            raise NetxError(failures.DNS_SERVER_MISBEHAVING)
        return exchange.body


def make_resolver(
    spec: str | None,
    *,
    ca_bundle: str | None = None,
    bootstrap: Resolver | None = None,
    known_addresses: Mapping[str, list[str]] | None = None,
    timeout: float = 10.0,
) -> Resolver:
    """A resolver from a spec string.

    ``None``/``""``/``system``: getaddrinfo; ``IP`` or ``IP:PORT`` or
    ``udp://IP:PORT``: DNS over UDP; ``tcp://IP:PORT``; ``dot://IP:PORT``
    (SNI = the IP unless ``#name`` follows); ``https://...``: DoH, whose host
    is resolved with ``bootstrap`` (default getaddrinfo) or ``known_addresses``.
    Raises ValueError for a spec it cannot use.
    """
    if not spec or spec == "system":
        return SystemResolver()
    if is_ip_address(spec) or "://" not in spec:
        return UDPResolver(endpoint_of(spec, 53))
    parts = urlsplit(spec)
    if parts.scheme == "https":
        context = client_context(ca_bundle)
        network = Network(bootstrap or SystemResolver(), context, known_addresses or {})
        return DoHResolver(spec, network, timeout)
    return _stream_resolver(
        parts.scheme,
        parts.hostname or "",
        port=parts.port,
        sni=parts.fragment,
        ca_bundle=ca_bundle,
        timeout=timeout,
    )


def _stream_resolver(
    scheme: str,
    host: str,
    *,
    port: int | None,
    sni: str,
    ca_bundle: str | None,
    timeout: float,
) -> Resolver:
    if not is_ip_address(host):
        raise ValueError(f"resolver address must be an IP literal: {host!r}")
    if scheme == "udp":
        return UDPResolver(join_host_port(host, port or 53))
    if scheme == "tcp":
        return TCPResolver(join_host_port(host, port or 53), timeout)
    if scheme in ("dot", "tls"):
        context: ssl.SSLContext = client_context(ca_bundle, alpn=("dot",))
        address = join_host_port(host, port or 853)
        return TLSResolver(address, sni or host, context, timeout)
    raise ValueError(f"unsupported resolver scheme {scheme!r}")
