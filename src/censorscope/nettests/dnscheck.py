"""dnscheck (ts-028, test_version 0.9.2): does a given DNS resolver work?

The input names a resolver: ``udp://``, ``tcp://``, ``dot://`` or
``https://`` URL.  Its host is resolved first (the "bootstrap", with the
system resolver), then ``domain`` is looked up through the resolver at every
address found (plus ``default_addrs``), each lookup recorded under the
resolver URL with that address (``lookups``).

Configuration (``context.endpoints["dnscheck"]``): ``domain`` (default
``example.org``), ``default_addrs`` (space-separated IPs),
``resolver`` (for the bootstrap), ``addresses``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.nettests.common import EXTENSIONS, InputError, network_for
from censorscope.netx import (
    Network,
    Resolver,
    TCPResolver,
    TLSResolver,
    Trace,
    UDPResolver,
    client_context,
    is_ip_address,
    join_host_port,
    lookup_host,
)
from censorscope.netx.doh import DoHResolver

NAME: Final = "dnscheck"
DEFAULT_DOMAIN: Final = "example.org"
DEFAULT_INPUTS: Final = ("https://dns.google/dns-query",)
DEFAULT_PORTS: Final = {"udp": 53, "tcp": 53, "dot": 853, "https": 443}
MAX_PARALLELISM: Final = 10


def parse_resolver_url(url: str | None) -> SplitResult:
    """The resolver URL, checked; raises InputError."""
    if not url:
        raise InputError("this experiment needs input")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (validates the port)
    except ValueError as error:
        raise InputError(f"the input URL is invalid: {error}") from error
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InputError(f"unsupported URL scheme: {url!r}")
    return parts


def resolver_url_for(parts: SplitResult, ip: str) -> str:
    """The input URL with its host replaced by ``ip`` (the lookups' key)."""
    host = f"[{ip}]" if ":" in ip else ip
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def _resolver(context: TestContext, parts: SplitResult, ip: str) -> Resolver:
    """The resolver that speaks the input's protocol to ``ip``."""
    hostname = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    address = join_host_port(ip, port)
    if parts.scheme == "udp":
        return UDPResolver(address)
    if parts.scheme == "tcp":
        return TCPResolver(address, context.timeout)
    if parts.scheme == "dot":
        tls = client_context(context.ca_bundle, alpn=("dot",))
        return TLSResolver(address, hostname, tls, context.timeout)
    base = network_for(context, NAME)
    seeded = Network(base.resolver, base.ssl_context, {hostname: [ip]})
    return DoHResolver(urlunsplit(parts), seeded, context.timeout)


async def _lookup(
    context: TestContext, parts: SplitResult, ip: str, domain: str
) -> dict[str, Any]:
    trace = Trace()
    resolver = _resolver(context, parts, ip)
    result = await lookup_host(resolver, trace, domain, timeout=context.timeout)
    return {
        "agent": "redirect",
        "failed_operation": "resolve" if result.failure else None,
        "failure": result.failure,
        **trace.test_keys(),
    }


class DNSCheck(NetTest):
    """Resolve a domain through one resolver, at each of its addresses."""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.9.2"
    input_policy: ClassVar[InputPolicy] = InputPolicy.OPTIONAL

    def default_inputs(self) -> list[str]:
        """Today's default resolvers (OONI's built-in list)."""
        return list(DEFAULT_INPUTS)

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure the resolver named by ``input``; raises InputError if unusable."""
        parts = parse_resolver_url(input)
        domain = str(context.endpoint(NAME, "domain", DEFAULT_DOMAIN))
        default_addrs = str(context.endpoint(NAME, "default_addrs", ""))
        keys: dict[str, Any] = {
            "domain": domain,
            "x_default_addrs": default_addrs,
            "x_residual": False,
        }
        addresses = await self._bootstrap(context, parts.hostname or "", keys)
        addresses += [a for a in default_addrs.split() if a not in addresses]
        gate = asyncio.Semaphore(MAX_PARALLELISM)

        async def one(ip: str) -> dict[str, Any]:
            async with gate:
                return await _lookup(context, parts, ip, domain)

        results = await asyncio.gather(*(one(ip) for ip in addresses))
        keys["lookups"] = {
            resolver_url_for(parts, ip): result
            for ip, result in zip(addresses, results, strict=True)
        }
        return TestResult(keys, {}, dict(EXTENSIONS))

    @staticmethod
    async def _bootstrap(
        context: TestContext, hostname: str, keys: dict[str, Any]
    ) -> list[str]:
        if is_ip_address(hostname):
            keys.update(bootstrap=None, bootstrap_failure=None)
            return [hostname.strip("[]")]
        trace = Trace()
        network = network_for(context, NAME)
        result = await lookup_host(
            network.resolver, trace, hostname, timeout=context.timeout
        )
        keys["bootstrap"] = {"queries": trace.queries}
        keys["bootstrap_failure"] = result.failure
        return list(result.addresses)

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when the bootstrap or every lookup failed."""
        lookups = test_keys.get("lookups") or {}
        working = [k for k, v in lookups.items() if v.get("failure") is None]
        failed = test_keys.get("bootstrap_failure") is not None or not working
        return Summary(anomaly=failed, detail={"working": working})
