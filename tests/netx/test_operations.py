"""TCP, TLS and DNS operations against real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import AsyncIterator

import pytest

from censorscope.measurement import failures
from censorscope.netx import (
    SystemResolver,
    TCPResolver,
    Trace,
    UDPResolver,
    client_context,
    lookup_host,
    make_resolver,
    tcp_connect,
    tls_handshake,
)
from censorscope.netx.http import Network
from tests.netx.localnet import (
    DNSServer,
    FullBacklog,
    LocalCA,
    RawServer,
    server_context,
)

ZONE = {
    "site.test": ["127.0.0.1", "::1"],
    "v4only.test": ["127.0.0.7"],
    "servfail.test": "servfail",
    "refused.test": "refused",
    "empty.test": "noanswer",
    "garbage.test": "garbage",
    "wrongid.test": "wrongid",
    "drop.test": "drop",
}


@pytest.fixture
async def dns_server() -> AsyncIterator[DNSServer]:
    server = await DNSServer(ZONE).start()
    yield server
    await server.close()


@contextlib.asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


async def test_connect_to_a_closed_port_is_connection_refused() -> None:
    trace = Trace()
    result = await tcp_connect(trace, "127.0.0.1", 1, timeout=1)
    assert result.failure == failures.CONNECTION_REFUSED
    entry = trace.tcp_connect[0]
    assert entry["status"] == {"failure": "connection_refused", "success": False}
    assert trace.network_events[0]["operation"] == "connect"


async def test_connect_to_a_full_backlog_is_generic_timeout_error() -> None:
    backlog = FullBacklog("127.0.0.1")
    try:
        result = await tcp_connect(Trace(), "127.0.0.1", backlog.port, timeout=0.3)
    finally:
        backlog.close()
    assert result.failure == failures.GENERIC_TIMEOUT_ERROR


async def test_cancelled_connect_is_recorded_as_interrupted() -> None:
    backlog = FullBacklog("127.0.0.1")
    trace = Trace()
    task = asyncio.create_task(tcp_connect(trace, "127.0.0.1", backlog.port, timeout=5))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    backlog.close()
    assert trace.tcp_connect[0]["status"]["failure"] == failures.INTERRUPTED


async def test_trusted_handshake_records_version_cipher_alpn_and_certificate(
    ca: LocalCA,
) -> None:
    context = server_context(*ca.issue("good", ["site.test"]))
    context.set_alpn_protocols(["http/1.1"])
    trace = Trace()
    async with tls_server(context) as port:
        connected = await tcp_connect(trace, "127.0.0.1", port, timeout=1)
        assert connected.conn is not None
        client = client_context(str(ca.cert_path))
        result = await tls_handshake(connected.conn, "site.test", client, timeout=2)
    assert result.failure is None
    entry = trace.tls_handshakes[0]
    assert entry["tls_version"] == "TLSv1.3"
    assert entry["cipher_suite"].startswith("TLS_")
    assert entry["negotiated_protocol"] == "http/1.1"
    assert entry["peer_certificates"][0]["format"] == "base64"
    assert entry["transaction_id"] == trace.tcp_connect[0]["transaction_id"]
    operations = [e["operation"] for e in trace.network_events]
    assert operations[:3] == ["connect", "tls_handshake_start", "write"]
    assert "tls_handshake_done" in operations


@pytest.mark.parametrize(
    ("certificate", "expected"),
    [
        ("untrusted", failures.SSL_UNKNOWN_AUTHORITY),
        ("wrong_host", failures.SSL_INVALID_HOSTNAME),
        ("expired", failures.SSL_INVALID_CERTIFICATE),
    ],
)
async def test_bad_certificates_are_classified(
    ca: LocalCA,
    tmp_path_factory: pytest.TempPathFactory,
    certificate: str,
    expected: str,
) -> None:
    if certificate == "untrusted":
        other = LocalCA.create(tmp_path_factory.mktemp("other"), "untrusted CA")
        paths = other.issue("untrusted", ["site.test"])
    elif certificate == "wrong_host":
        paths = ca.issue("wrong", ["other.test"])
    else:
        paths = ca.issue("expired", ["site.test"], expired=True)
    trace = Trace()
    async with tls_server(server_context(*paths)) as port:
        connected = await tcp_connect(trace, "127.0.0.1", port, timeout=1)
        assert connected.conn is not None
        client = client_context(str(ca.cert_path))
        result = await tls_handshake(connected.conn, "site.test", client, timeout=2)
    assert result.failure == expected
    assert trace.tls_handshakes[0]["failure"] == expected


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("reset", failures.CONNECTION_RESET),
        ("eof", failures.EOF_ERROR),
        ("garbage", failures.SSL_FAILED_HANDSHAKE),
        ("silent", failures.GENERIC_TIMEOUT_ERROR),
    ],
)
async def test_handshake_interference_is_classified(
    ca: LocalCA, behaviour: str, expected: str
) -> None:
    server = await RawServer(behaviour).start("127.0.0.1")
    trace = Trace()
    try:
        connected = await tcp_connect(trace, "127.0.0.1", server.port, timeout=1)
        assert connected.conn is not None
        client = client_context(str(ca.cert_path))
        result = await tls_handshake(connected.conn, "site.test", client, timeout=0.5)
    finally:
        await server.close()
    assert result.failure == expected


@pytest.mark.parametrize("engine", ["udp", "tcp"])
async def test_wire_resolvers_record_answers_with_ttls(
    dns_server: DNSServer, engine: str
) -> None:
    resolver = (
        UDPResolver(dns_server.address)
        if engine == "udp"
        else TCPResolver(dns_server.address)
    )
    trace = Trace()
    result = await lookup_host(resolver, trace, "site.test", timeout=1)
    assert result.failure is None
    assert sorted(result.addresses) == ["127.0.0.1", "::1"]
    by_type = {q["query_type"]: q for q in trace.queries}
    assert by_type["A"]["answers"] == [
        {"answer_type": "A", "ipv4": "127.0.0.1", "ttl": 60}
    ]
    assert by_type["AAAA"]["answers"][0]["ipv6"] == "::1"
    assert by_type["A"]["engine"] == engine
    assert by_type["A"]["resolver_address"] == dns_server.address
    assert by_type["A"]["rcode"] == 0
    assert by_type["A"]["raw_response"]


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("missing.test", failures.DNS_NXDOMAIN_ERROR),
        ("servfail.test", failures.DNS_SERVFAIL_ERROR),
        ("refused.test", failures.DNS_REFUSED_ERROR),
        ("empty.test", failures.DNS_NO_ANSWER),
        ("garbage.test", failures.DNS_SERVER_MISBEHAVING),
        ("wrongid.test", failures.DNS_REPLY_WITH_WRONG_QUERY_ID),
        ("drop.test", failures.GENERIC_TIMEOUT_ERROR),
    ],
)
async def test_dns_failures_are_classified(
    dns_server: DNSServer, hostname: str, expected: str
) -> None:
    trace = Trace()
    result = await lookup_host(
        UDPResolver(dns_server.address), trace, hostname, timeout=0.3
    )
    assert result.addresses == []
    assert result.failure == expected
    assert all(q["failure"] == expected for q in trace.queries)
    assert all(q["answers"] is None for q in trace.queries)


async def test_a_host_without_ipv6_still_resolves(dns_server: DNSServer) -> None:
    trace = Trace()
    result = await lookup_host(
        UDPResolver(dns_server.address), trace, "v4only.test", timeout=1
    )
    assert result == type(result)(["127.0.0.7"], None)
    aaaa = next(q for q in trace.queries if q["query_type"] == "AAAA")
    assert aaaa["failure"] == failures.DNS_NO_ANSWER


async def test_udp_to_a_closed_port_is_connection_refused() -> None:
    result = await lookup_host(UDPResolver("127.0.0.1:9"), Trace(), "x.test", timeout=1)
    assert result.failure == failures.CONNECTION_REFUSED


async def test_system_resolver_answers_from_the_hosts_file() -> None:
    trace = Trace()
    result = await lookup_host(SystemResolver(), trace, "localhost", timeout=5)
    assert "127.0.0.1" in result.addresses
    assert trace.queries[0]["engine"] == "system"
    assert trace.queries[0]["resolver_address"] == ""


async def test_ip_literals_resolve_to_themselves_without_a_query() -> None:
    trace = Trace()
    result = await lookup_host(SystemResolver(), trace, "127.0.0.9", timeout=1)
    assert result.addresses == ["127.0.0.9"]
    assert trace.queries == []


async def test_dns_over_tls_resolves(dns_server: DNSServer, ca: LocalCA) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            reply = dns_server.answer(await reader.readexactly(size)) or b""
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        writer.close()

    context = server_context(*ca.issue("dot", ["dns.test"]))
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    resolver = make_resolver(
        f"dot://127.0.0.1:{port}#dns.test", ca_bundle=str(ca.cert_path)
    )
    trace = Trace()
    result = await lookup_host(resolver, trace, "site.test", timeout=2)
    server.close()
    assert result.failure is None
    assert {q["engine"] for q in trace.queries} == {"dot"}
    assert trace.tls_handshakes[0]["server_name"] == "dns.test"


async def test_dns_over_https_resolves_through_our_http_stack(
    dns_server: DNSServer, ca: LocalCA
) -> None:
    from censorscope.helper.http_server import IncomingRequest, OutgoingResponse
    from tests.netx.localnet import start_web

    async def doh(request: IncomingRequest) -> OutgoingResponse:
        reply = dns_server.answer(request.body) or b""
        return OutgoingResponse(
            200, reply, [("Content-Type", "application/dns-message")]
        )

    context = server_context(*ca.issue("doh", ["doh.test"]))
    web = await start_web("127.0.0.1", 0, doh, context)
    url = f"https://doh.test:{web.port}/dns-query"
    resolver = make_resolver(
        url, ca_bundle=str(ca.cert_path), known_addresses={"doh.test": ["127.0.0.1"]}
    )
    trace = Trace()
    result = await lookup_host(resolver, trace, "site.test", timeout=2)
    await web.close()
    assert result.failure is None
    assert sorted(result.addresses) == ["127.0.0.1", "::1"]
    assert {q["engine"] for q in trace.queries} == {"doh"}
    assert {q["resolver_address"] for q in trace.queries} == {url}
    assert {r["request"]["method"] for r in trace.requests} == {"POST"}
    assert isinstance(resolver, object) and Network  # imported for the type


def test_resolver_specs_are_parsed() -> None:
    assert make_resolver(None).engine == "system"
    assert make_resolver("127.0.0.1:5353").address == "127.0.0.1:5353"
    assert make_resolver("10.0.0.1").address == "10.0.0.1:53"
    assert make_resolver("tcp://[::1]:53").engine == "tcp"
    with pytest.raises(ValueError, match="unsupported"):
        make_resolver("quic://127.0.0.1")
