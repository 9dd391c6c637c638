"""DNS lookups that record every query as an OONI ``queries`` entry (df-002).

Resolvers:

* :class:`SystemResolver`: ``getaddrinfo`` in a thread (engine ``system``);
* :class:`UDPResolver`, :class:`TCPResolver`, :class:`TLSResolver`: DNS over
  UDP, TCP and TLS to a chosen server, wire format built and parsed with
  dnspython (engines ``udp``, ``tcp``, ``dot``);
* DNS over HTTPS lives in :mod:`censorscope.netx.doh` (it needs HTTP).

A lookup of a host sends an A and an AAAA query in parallel and returns the
addresses with the failure that explains an empty answer.  Errors are data:
:func:`lookup_host` never raises for a network or DNS failure.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from censorscope.measurement import failures
from censorscope.netx.errors import NetxError, classify
from censorscope.netx.tcp import (
    TCPConn,
    is_ip_address,
    join_host_port,
    split_host_port,
    tcp_connect,
)
from censorscope.netx.tls import tls_handshake
from censorscope.netx.trace import Span, Trace

_RCODE_FAILURES = {
    dns.rcode.NXDOMAIN: failures.DNS_NXDOMAIN_ERROR,
    dns.rcode.SERVFAIL: failures.DNS_SERVFAIL_ERROR,
    dns.rcode.REFUSED: failures.DNS_REFUSED_ERROR,
}
_QUERY_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


@dataclass
class LookupResult:
    """Addresses found for a host, or the failure that explains none."""

    addresses: list[str]
    failure: str | None


class Resolver(Protocol):
    """Anything that can resolve a host name while recording its queries."""

    engine: str
    address: str

    async def lookup(
        self, trace: Trace, hostname: str, *, timeout: float, tags: list[str]
    ) -> LookupResult:
        """Resolve ``hostname`` to addresses (A then AAAA)."""


async def lookup_host(
    resolver: Resolver,
    trace: Trace,
    hostname: str,
    *,
    timeout: float,
    tags: Sequence[str] = (),
) -> LookupResult:
    """Resolve ``hostname``; an IP literal resolves to itself with no query."""
    if is_ip_address(hostname):
        return LookupResult([hostname.strip("[]")], None)
    span = Span(f"resolve[{resolver.engine}]", hostname)
    trace.marker("resolve_start", 0, list(tags))
    result = await resolver.lookup(trace, hostname, timeout=timeout, tags=list(tags))
    trace.marker("resolve_done", 0, list(tags))
    span.done(result.failure)
    return result


def query_entry(
    *,
    hostname: str,
    query_type: str,
    engine: str,
    resolver_address: str,
    t0: float,
    t: float,
    transaction_id: int,
    tags: list[str],
    failure: str | None,
    answers: list[dict[str, Any]] | None,
    **extra: Any,
) -> dict[str, Any]:
    """One ``queries`` entry in OONI's shape."""
    entry: dict[str, Any] = {
        "answers": answers if failure is None else None,
        "engine": engine,
        "failure": failure,
        "hostname": hostname,
        "query_type": query_type,
        "resolver_address": resolver_address,
        "resolver_hostname": None,
        "resolver_port": None,
        "t0": t0,
        "t": t,
        "tags": list(tags),
        "transaction_id": transaction_id,
    }
    entry.update(extra)
    return entry


def merge_lookups(
    answers: list[list[str]], failures_seen: list[str | None]
) -> LookupResult:
    """Combine the A and AAAA outcomes into one lookup result.

    Addresses from either query make the lookup succeed; otherwise the first
    failure that says more than ``dns_no_answer`` explains it.
    """
    addresses = list(dict.fromkeys(a for group in answers for a in group))
    if addresses:
        return LookupResult(addresses, None)
    for failure in failures_seen:
        if failure is not None and failure != failures.DNS_NO_ANSWER:
            return LookupResult([], failure)
    return LookupResult([], failures.DNS_NO_ANSWER)


# --- getaddrinfo ---


@dataclass
class SystemResolver:
    """The operating system's resolver (``getaddrinfo`` in a thread)."""

    engine: str = "system"
    address: str = ""

    async def lookup(
        self, trace: Trace, hostname: str, *, timeout: float, tags: list[str]
    ) -> LookupResult:
        base: dict[str, Any] = {
            "hostname": hostname,
            "engine": self.engine,
            "resolver_address": self.address,
            "t0": trace.now(),
            "transaction_id": trace.next_transaction_id(),
            "tags": tags,
        }
        try:
            infos = await _getaddrinfo(hostname, timeout)
        except (OSError, UnicodeError) as error:
            return _getaddrinfo_failed(trace, base, error)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for query_type in ("A", "AAAA"):
            answers = _answers(query_type, addresses)
            if answers or query_type == "A":
                trace.queries.append(
                    query_entry(
                        **base,
                        query_type=query_type,
                        t=trace.now(),
                        failure=None,
                        answers=answers,
                    )
                )
        failure = None if addresses else failures.DNS_NO_ANSWER
        return LookupResult(addresses, failure)


def _getaddrinfo_failed(
    trace: Trace, base: dict[str, Any], error: OSError | UnicodeError
) -> LookupResult:
    failure = classify(error)
    if isinstance(error, socket.gaierror):
        base = {**base, "getaddrinfo_error": error.errno}
    trace.queries.append(
        query_entry(
            **base, query_type="A", t=trace.now(), failure=failure, answers=None
        )
    )
    return LookupResult([], failure)


async def _getaddrinfo(hostname: str, timeout: float) -> list[Any]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        return await loop.getaddrinfo(hostname, None, type=socket.SOCK_STREAM)


def _answers(answer_type: str, addresses: list[str]) -> list[dict[str, Any]]:
    ipv6 = answer_type == "AAAA"
    key = "ipv6" if ipv6 else "ipv4"
    return [
        {"answer_type": answer_type, key: a, "ttl": None}
        for a in addresses
        if (":" in a) == ipv6
    ]


# --- wire-format resolvers ---


def answers_of(message: dns.message.Message) -> list[dict[str, Any]]:
    """The answer section as OONI answer objects (A, AAAA, CNAME)."""
    out: list[dict[str, Any]] = []
    for rrset in message.answer:
        for rdata in rrset:
            answer = _answer(rrset.rdtype, rdata, rrset.ttl)
            if answer is not None:
                out.append(answer)
    return out


def _answer(rdtype: int, rdata: Any, ttl: int) -> dict[str, Any] | None:
    if rdtype == dns.rdatatype.A:
        return {"answer_type": "A", "ipv4": rdata.address, "ttl": ttl}
    if rdtype == dns.rdatatype.AAAA:
        return {"answer_type": "AAAA", "ipv6": rdata.address, "ttl": ttl}
    if rdtype == dns.rdatatype.CNAME:
        target = rdata.target.to_text(omit_final_dot=True)
        return {"answer_type": "CNAME", "hostname": target, "ttl": ttl}
    return None


def parse_reply(query: dns.message.Message, wire: bytes) -> dns.message.Message:
    """Parse a reply; raises NetxError for garbage or a mismatched id."""
    try:
        reply = dns.message.from_wire(wire)
    except dns.exception.DNSException as error:
        raise NetxError(failures.DNS_SERVER_MISBEHAVING, str(error)) from error
    if reply.id != query.id:
        raise NetxError(failures.DNS_REPLY_WITH_WRONG_QUERY_ID)
    return reply


def reply_failure(reply: dns.message.Message, rdtype: int) -> str | None:
    """The failure a reply means for a query of ``rdtype`` (None: answered)."""
    rcode = reply.rcode()
    if rcode != dns.rcode.NOERROR:
        return _RCODE_FAILURES.get(rcode, failures.DNS_SERVER_MISBEHAVING)
    if not any(rrset.rdtype == rdtype for rrset in reply.answer):
        return failures.DNS_NO_ANSWER
    return None


@dataclass
class _Exchange:
    """What one query/reply round trip produced."""

    failure: str | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class WireResolver:
    """Shared logic of resolvers that exchange DNS messages on the wire.

    Subclasses implement :meth:`exchange` (send one query, return the raw
    reply) and set ``engine`` and ``address``.
    """

    engine = "unknown"
    address = ""

    async def exchange(
        self, trace: Trace, wire: bytes, transaction_id: int, tags: list[str]
    ) -> bytes:
        """Send ``wire`` and return the raw reply; raises on network errors."""
        raise NotImplementedError

    async def lookup(
        self, trace: Trace, hostname: str, *, timeout: float, tags: list[str]
    ) -> LookupResult:
        tid = trace.next_transaction_id()
        results = await asyncio.gather(
            *(
                self.query(trace, hostname, t, timeout=timeout, tid=tid, tags=tags)
                for t in _QUERY_TYPES
            )
        )
        return merge_lookups(
            [_addresses(r.answers) for r in results], [r.failure for r in results]
        )

    async def query(
        self,
        trace: Trace,
        hostname: str,
        rdtype: dns.rdatatype.RdataType,
        *,
        timeout: float,
        tid: int,
        tags: list[str],
    ) -> _Exchange:
        """One query of type ``rdtype``, recorded in ``trace.queries``."""
        t0 = trace.now()
        message = dns.message.make_query(hostname, rdtype)
        result = await self._round_trip(
            trace, message, rdtype, timeout=timeout, tid=tid, tags=tags
        )
        trace.queries.append(
            query_entry(
                hostname=hostname,
                query_type=dns.rdatatype.to_text(rdtype),
                engine=self.engine,
                resolver_address=self.address,
                t0=t0,
                t=trace.now(),
                transaction_id=tid,
                tags=tags,
                failure=result.failure,
                answers=result.answers,
                **result.extra,
            )
        )
        return result

    async def _round_trip(
        self,
        trace: Trace,
        message: dns.message.Message,
        rdtype: int,
        *,
        timeout: float,
        tid: int,
        tags: list[str],
    ) -> _Exchange:
        try:
            async with asyncio.timeout(timeout):
                wire = await self.exchange(trace, message.to_wire(), tid, tags)
            reply = parse_reply(message, wire)
        except (OSError, ssl.SSLError, NetxError, dns.exception.DNSException) as error:
            return _Exchange(failure=classify(error))
        extra = {
            "raw_response": base64.b64encode(wire).decode("ascii"),
            "rcode": reply.rcode(),
        }
        return _Exchange(reply_failure(reply, rdtype), answers_of(reply), extra)


def _addresses(answers: list[dict[str, Any]]) -> list[str]:
    return [a.get("ipv4") or a["ipv6"] for a in answers if a["answer_type"] != "CNAME"]


class UDPResolver(WireResolver):
    """DNS over UDP to ``ip:port`` (engine ``udp``)."""

    engine = "udp"

    def __init__(self, address: str) -> None:
        self.address = address
        self.ip, self.port = split_host_port(address)

    async def exchange(
        self, trace: Trace, wire: bytes, transaction_id: int, tags: list[str]
    ) -> bytes:
        family = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        loop = asyncio.get_running_loop()
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            # A connected socket turns an ICMP port-unreachable into ECONNREFUSED.
            await loop.sock_connect(sock, (self.ip, self.port))
            t0 = trace.now()
            await loop.sock_sendall(sock, wire)
            self._event(trace, "write", t0, n=len(wire), tid=transaction_id, tags=tags)
            t0 = trace.now()
            reply = await loop.sock_recv(sock, 65535)
            self._event(trace, "read", t0, n=len(reply), tid=transaction_id, tags=tags)
            return reply

    def _event(
        self, trace: Trace, op: str, t0: float, *, n: int, tid: int, tags: list[str]
    ) -> None:
        trace.event(
            op, t0, tid, tags=tags, address=self.address, num_bytes=n, proto="udp"
        )


async def _stream_exchange(conn: Any, wire: bytes) -> bytes:
    """One length-prefixed exchange (RFC 1035 §4.2.2) over a Conn."""
    await conn.write(struct.pack("!H", len(wire)) + wire)
    header = await _read_exactly(conn, 2)
    return await _read_exactly(conn, struct.unpack("!H", header)[0])


async def _read_exactly(conn: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await conn.read(size - len(data))
        if not chunk:
            raise NetxError(failures.EOF_ERROR)
        data += chunk
    return data


async def _connect(
    trace: Trace, address: str, timeout: float, transaction_id: int, tags: list[str]
) -> TCPConn:
    """A recorded TCP connect for a stream resolver; a failure raises NetxError."""
    ip, port = split_host_port(address)
    connected = await tcp_connect(
        trace, ip, port, timeout=timeout, transaction_id=transaction_id, tags=tags
    )
    if connected.conn is None:
        raise NetxError(connected.failure or failures.GENERIC_TIMEOUT_ERROR)
    return connected.conn


class TCPResolver(WireResolver):
    """DNS over TCP to ``ip:port`` (engine ``tcp``), one connection per query."""

    engine = "tcp"

    def __init__(self, address: str, connect_timeout: float = 10.0) -> None:
        self.address = address
        self.ip, self.port = split_host_port(address)
        self.connect_timeout = connect_timeout

    async def exchange(
        self, trace: Trace, wire: bytes, transaction_id: int, tags: list[str]
    ) -> bytes:
        conn = await _connect(
            trace, self.address, self.connect_timeout, transaction_id, tags
        )
        try:
            return await _stream_exchange(conn, wire)
        finally:
            conn.close()


class TLSResolver(WireResolver):
    """DNS over TLS (RFC 7858) to ``ip:port`` with SNI ``server_name``."""

    engine = "dot"

    def __init__(
        self,
        address: str,
        server_name: str,
        context: ssl.SSLContext,
        timeout: float = 10.0,
    ) -> None:
        self.address = address
        self.ip, self.port = split_host_port(address)
        self.server_name = server_name
        self.context = context
        self.timeout = timeout

    async def exchange(
        self, trace: Trace, wire: bytes, transaction_id: int, tags: list[str]
    ) -> bytes:
        conn = await _connect(trace, self.address, self.timeout, transaction_id, tags)
        shaken = await tls_handshake(
            conn, self.server_name, self.context, timeout=self.timeout
        )
        if shaken.conn is None:
            raise NetxError(shaken.failure or failures.SSL_FAILED_HANDSHAKE)
        try:
            return await _stream_exchange(shaken.conn, wire)
        finally:
            shaken.conn.close()


def endpoint_of(address: str, default_port: int) -> str:
    """``address`` with ``default_port`` added when it has none."""
    if is_ip_address(address):
        return join_host_port(address.strip("[]"), default_port)
    return address
