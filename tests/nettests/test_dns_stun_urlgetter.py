"""dnscheck, stunreachability and urlgetter against local servers."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

import orjson
import pytest

from censorscope.helper.http_server import IncomingRequest, OutgoingResponse
from censorscope.measurement import failures
from censorscope.nettests import GROUPS, REGISTRY
from censorscope.nettests.base import InputPolicy, NetTest, TestContext
from censorscope.nettests.common import InputError
from censorscope.nettests.dnscheck import DNSCheck
from censorscope.nettests.stunreachability import STUNReachability
from censorscope.nettests.urlgetter import URLGetter
from censorscope.netx import stun
from tests.nettests.support import loads_back
from tests.netx.localnet import DNSServer, LocalCA, server_context, start_web

ZONE = {
    "example.org": ["127.0.0.1"],
    "doh.test": ["127.0.0.1"],
    "dot.test": ["127.0.0.1"],
}


@pytest.fixture
async def dns() -> AsyncIterator[DNSServer]:
    server = await DNSServer(ZONE).start()
    yield server
    await server.close()


@contextlib.asynccontextmanager
async def doh_server(dns: DNSServer, ca: LocalCA) -> AsyncIterator[int]:
    async def answer(request: IncomingRequest) -> OutgoingResponse:
        reply = dns.answer(request.body) or b""
        return OutgoingResponse(
            200, reply, [("Content-Type", "application/dns-message")]
        )

    web = await start_web(
        "127.0.0.1", 0, answer, server_context(*ca.issue("doh", ["doh.test"]))
    )
    yield web.port
    await web.close()


@contextlib.asynccontextmanager
async def dot_server(dns: DNSServer, ca: LocalCA) -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            reply = dns.answer(await reader.readexactly(size)) or b""
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        writer.close()

    context = server_context(*ca.issue("dot", ["dot.test"]))
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


def _context(dns: DNSServer, ca: LocalCA, **dnscheck: object) -> TestContext:
    return TestContext(
        timeout=1,
        ca_bundle=str(ca.cert_path),
        resolver=dns.address,
        endpoints={"dnscheck": dnscheck},
    )


@pytest.mark.parametrize("scheme", ["udp", "tcp"])
async def test_dnscheck_resolves_through_a_plain_resolver(
    dns: DNSServer, ca: LocalCA, scheme: str
) -> None:
    test = DNSCheck()
    url = f"{scheme}://{dns.address}"
    result = await test.run(_context(dns, ca), url)
    loads_back(test, result, url)
    keys = result.test_keys
    assert keys["bootstrap"] is None and keys["bootstrap_failure"] is None
    lookup = keys["lookups"][url]
    assert lookup["failure"] is None
    assert {q["engine"] for q in lookup["queries"]} == {scheme}
    assert not test.summarize(keys).anomaly


async def test_dnscheck_bootstraps_a_doh_resolver_and_tries_default_addrs(
    dns: DNSServer, ca: LocalCA
) -> None:
    async with doh_server(dns, ca) as port:
        url = f"https://doh.test:{port}/dns-query"
        context = _context(dns, ca, default_addrs="127.0.0.8")
        keys = (await DNSCheck().run(context, url)).test_keys
    assert keys["bootstrap_failure"] is None
    assert keys["bootstrap"]["queries"][0]["hostname"] == "doh.test"
    working = keys["lookups"][f"https://127.0.0.1:{port}/dns-query"]
    assert working["failure"] is None
    assert working["tls_handshakes"][0]["server_name"] == "doh.test"
    refused = keys["lookups"][f"https://127.0.0.8:{port}/dns-query"]
    assert refused["failure"] == failures.CONNECTION_REFUSED


async def test_dnscheck_speaks_dns_over_tls(dns: DNSServer, ca: LocalCA) -> None:
    async with dot_server(dns, ca) as port:
        url = f"dot://dot.test:{port}"
        keys = (await DNSCheck().run(_context(dns, ca), url)).test_keys
    lookup = keys["lookups"][f"dot://127.0.0.1:{port}"]
    assert lookup["failure"] is None
    assert {q["engine"] for q in lookup["queries"]} == {"dot"}


async def test_dnscheck_reports_a_bootstrap_failure(
    dns: DNSServer, ca: LocalCA
) -> None:
    keys = (await DNSCheck().run(_context(dns, ca), "https://nowhere.test/")).test_keys
    assert keys["bootstrap_failure"] == failures.DNS_NXDOMAIN_ERROR
    assert keys["lookups"] == {}
    assert DNSCheck().summarize(keys).anomaly


@pytest.mark.parametrize("bad", [None, "ftp://x/", "udp://"])
async def test_dnscheck_rejects_unusable_inputs(bad: str | None) -> None:
    with pytest.raises(InputError):
        await DNSCheck().run(TestContext(), bad)


# --- STUN ---

PUBLIC_ADDRESS = "203.0.113.7"


class _STUNServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.decode(data)
        value = stun.xor_address(PUBLIC_ADDRESS, 40000, request.transaction_id)
        reply = stun.encode(
            stun.BINDING_SUCCESS,
            request.transaction_id,
            {stun.XOR_MAPPED_ADDRESS: value},
        )
        self.transport.sendto(reply, addr)  # type: ignore[attr-defined]


def test_the_stun_codec_round_trips_a_mapped_address() -> None:
    request, tid = stun.binding_request()
    assert stun.decode(request).message_type == stun.BINDING_REQUEST
    value = stun.xor_address("2001:db8::5", 3478, tid)
    reply = stun.decode(
        stun.encode(stun.BINDING_SUCCESS, tid, {stun.XOR_MAPPED_ADDRESS: value})
    )
    assert reply.mapped_address() == ("2001:db8::5", 3478)
    with pytest.raises(stun.STUNDecodeError):
        stun.decode(b"not stun at all, clearly not")


async def test_stun_server_answers_and_the_mapped_address_is_not_recorded() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        _STUNServer, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    test = STUNReachability()
    url = f"stun://localhost:{port}"
    context = TestContext(
        timeout=1,
        endpoints={"stunreachability": {"addresses": {"localhost": ["127.0.0.1"]}}},
    )
    result = await test.run(context, url)
    transport.close()
    loads_back(test, result, url)
    assert result.test_keys["failure"] is None
    assert result.test_keys["endpoint"] == f"localhost:{port}"
    assert {e["operation"] for e in result.test_keys["network_events"]} == {
        "write",
        "read",
    }
    assert PUBLIC_ADDRESS.encode() not in orjson.dumps(result.test_keys)


async def test_a_silent_stun_server_times_out() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    keys = (
        await STUNReachability().run(
            TestContext(timeout=0.3), f"stun://127.0.0.1:{port}"
        )
    ).test_keys
    transport.close()
    assert keys["failure"] == failures.GENERIC_TIMEOUT_ERROR


@pytest.mark.parametrize("bad", [None, "stun://host", "http://host:3478"])
async def test_stun_rejects_unusable_inputs(bad: str | None) -> None:
    with pytest.raises(InputError):
        await STUNReachability().run(TestContext(), bad)


# --- urlgetter ---


@pytest.mark.parametrize(
    ("target", "failure", "operation"),
    [
        ("tcpconnect://127.0.0.8:9", failures.CONNECTION_REFUSED, "connect"),
        ("dnslookup://missing.test", failures.DNS_NXDOMAIN_ERROR, "resolve"),
        ("dnslookup://example.org", None, None),
        ("http://missing.test/", failures.DNS_NXDOMAIN_ERROR, "resolve"),
    ],
)
async def test_urlgetter_names_the_failed_operation(
    dns: DNSServer, target: str, failure: str | None, operation: str | None
) -> None:
    test = URLGetter()
    result = await test.run(TestContext(timeout=1, resolver=dns.address), target)
    loads_back(test, result, target)
    assert (result.test_keys["failure"], result.test_keys["failed_operation"]) == (
        failure,
        operation,
    )


async def test_urlgetter_fetches_a_page(dns: DNSServer) -> None:
    async def page(request: IncomingRequest) -> OutgoingResponse:
        return OutgoingResponse(200, b"hello")

    web = await start_web("127.0.0.1", 0, page)
    url = f"http://example.org:{web.port}/"
    keys = (
        await URLGetter().run(TestContext(timeout=1, resolver=dns.address), url)
    ).test_keys
    await web.close()
    assert keys["failure"] is None
    assert keys["requests"][0]["response"]["body"] == "hello"


# --- registry ---


def test_the_registry_names_every_test_and_group() -> None:
    assert set(REGISTRY) == {
        "web_connectivity",
        "facebook_messenger",
        "telegram",
        "whatsapp",
        "signal",
        "http_invalid_request_line",
        "http_header_field_manipulation",
        "dnscheck",
        "stunreachability",
        "urlgetter",
    }
    assert all(name in REGISTRY for names in GROUPS.values() for name in names)
    assert "urlgetter" not in {n for names in GROUPS.values() for n in names}


@pytest.mark.parametrize("test_class", REGISTRY.values(), ids=REGISTRY.keys())
def test_every_test_declares_its_contract(test_class: type[NetTest]) -> None:
    test = test_class()
    assert test.version.count(".") == 2
    assert isinstance(test.input_policy, InputPolicy)
    if test.input_policy is InputPolicy.OPTIONAL:
        assert test.default_inputs()
