"""What the network tests share: their network setup and the urlgetter engine.

Most OONI tests are built on "urlgetter": a target such as
``tcpconnect://host:port``, ``dnslookup://host`` or ``https://...`` is
measured with the system resolver, recording every step, and the outcome is a
failure plus the operation that failed (``resolve``, ``connect``,
``tls_handshake``, ``http_round_trip``).  :func:`get` runs one target into a
shared :class:`~censorscope.netx.Trace`; :func:`get_many` runs several with
bounded parallelism.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from censorscope.measurement import failures
from censorscope.nettests.base import TestContext
from censorscope.netx import (
    FetchOptions,
    Network,
    Request,
    Resolver,
    Trace,
    client_context,
    fetch,
    join_host_port,
    lookup_host,
    make_resolver,
    tcp_connect,
)

logger = logging.getLogger(__name__)

# The data-format extensions (df-NNN) that urlgetter-based test keys use.
EXTENSIONS: Final = {
    "dnst": 0,
    "httpt": 0,
    "netevents": 0,
    "tcpconnect": 0,
    "tlshandshake": 0,
}
PARALLELISM: Final = 3


class InputError(ValueError):
    """The input cannot be measured by this test (no measurement is produced)."""


def resolver_for(context: TestContext, test_name: str) -> Resolver:
    """The resolver: ``endpoints[test]["resolver"]``, the context's, or system."""
    spec = context.endpoint(test_name, "resolver", context.resolver)
    return make_resolver(spec, ca_bundle=context.ca_bundle, timeout=context.timeout)


def network_for(
    context: TestContext, test_name: str, *, extra_ca_pem: str | None = None
) -> Network:
    """Resolver, TLS trust (CA bundle plus ``extra_ca_pem``) and seeded addresses."""
    known = context.endpoint(test_name, "addresses", {})
    return Network(
        resolver_for(context, test_name),
        client_context(context.ca_bundle, extra_ca_pem=extra_ca_pem),
        dict(known),
    )


def fetch_options(context: TestContext, **overrides: Any) -> FetchOptions:
    """Fetch options whose every timeout is the context's."""
    timeout = context.timeout
    settings: dict[str, Any] = {
        "resolve_timeout": timeout,
        "connect_timeout": timeout,
        "tls_timeout": timeout,
        "http_timeout": timeout,
    }
    settings.update(overrides)
    return FetchOptions(**settings)


def annotate_asns(
    queries: Iterable[dict[str, Any]],
    asn_lookup: Callable[[str], tuple[int, str]] | None,
) -> None:
    """Add ``asn`` and ``as_org_name`` to address answers, as OONI probes do."""
    if asn_lookup is None:
        return
    for query in queries:
        for answer in query.get("answers") or []:
            ip = answer.get("ipv4") or answer.get("ipv6")
            if ip:
                answer["asn"], answer["as_org_name"] = asn_lookup(ip)


@dataclass
class Target:
    """One urlgetter target and how to measure it."""

    url: str
    method: str = "GET"
    headers: Sequence[tuple[str, str]] | None = None
    body: bytes = b""
    tags: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What measuring one target concluded."""

    target: Target
    failure: str | None
    failed_operation: str | None
    addresses: list[str] = field(default_factory=list)
    status_code: int = 0
    body: bytes = b""


async def get(
    context: TestContext,
    trace: Trace,
    network: Network,
    target: Target,
    options: FetchOptions | None = None,
) -> Outcome:
    """Measure ``target`` into ``trace``; never raises for network failures."""
    scheme = urlsplit(target.url).scheme
    if scheme == "tcpconnect":
        return await _tcpconnect(context, trace, network, target)
    if scheme == "dnslookup":
        return await _dnslookup(context, trace, network, target)
    if scheme in ("http", "https"):
        return await _http(context, trace, network, target, options)
    return Outcome(
        target, failures.unknown(f"unsupported target {scheme!r}"), "top_level"
    )


async def get_many(
    context: TestContext,
    trace: Trace,
    network: Network,
    targets: Sequence[Target],
    *,
    options: FetchOptions | None = None,
    parallelism: int = PARALLELISM,
) -> list[Outcome]:
    """Measure ``targets`` (at most ``parallelism`` at once), in input order."""
    gate = asyncio.Semaphore(max(1, parallelism))

    async def one(target: Target) -> Outcome:
        async with gate:
            return await get(context, trace, network, target, options)

    return list(await asyncio.gather(*(one(t) for t in targets)))


async def _dnslookup(
    context: TestContext, trace: Trace, network: Network, target: Target
) -> Outcome:
    host = urlsplit(target.url).hostname or ""
    result = await lookup_host(
        network.resolver, trace, host, timeout=context.timeout, tags=target.tags
    )
    operation = "resolve" if result.failure else None
    return Outcome(target, result.failure, operation, result.addresses)


async def _tcpconnect(
    context: TestContext, trace: Trace, network: Network, target: Target
) -> Outcome:
    parts = urlsplit(target.url)
    host, port = parts.hostname or "", parts.port or 0
    addresses = network.known_addresses.get(host)
    if not addresses:
        looked = await _dnslookup(context, trace, network, target)
        if looked.failure is not None:
            return looked
        addresses = looked.addresses
    return await _connect_first(context, trace, target, list(addresses), port)


async def _connect_first(
    context: TestContext, trace: Trace, target: Target, addresses: list[str], port: int
) -> Outcome:
    """Connect to each address in turn until one works (like a dialer)."""
    first_failure: str | None = None
    for ip in addresses:
        result = await tcp_connect(
            trace, ip, port, timeout=context.timeout, tags=target.tags
        )
        if result.conn is not None:
            result.conn.close()
            return Outcome(target, None, None, addresses)
        first_failure = first_failure or result.failure
    return Outcome(target, first_failure, "connect", addresses)


async def _http(
    context: TestContext,
    trace: Trace,
    network: Network,
    target: Target,
    options: FetchOptions | None,
) -> Outcome:
    request = Request(target.url, target.method, body=target.body)
    if target.headers is not None:
        request = Request(target.url, target.method, tuple(target.headers), target.body)
    result = await fetch(
        trace, network, request, options or fetch_options(context), target.tags
    )
    final = result.final
    return Outcome(
        target,
        result.failure,
        result.failed_operation,
        status_code=final.status if final else 0,
        body=final.body if final else b"",
    )


def urlgetter_keys(trace: Trace) -> dict[str, Any]:
    """The urlgetter test keys every IM test embeds (top-level failure null)."""
    return {
        "agent": "redirect",
        "failed_operation": None,
        "failure": None,
        **trace.test_keys(),
    }


def endpoint_address(host: str, port: int) -> str:
    """``host:port`` as a urlgetter ``tcpconnect://`` authority."""
    return join_host_port(host, port)
