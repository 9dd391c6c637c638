"""HTTP fetches over our own connections, against servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from censorscope.helper.http_server import HTTPServer, IncomingRequest, OutgoingResponse
from censorscope.measurement import failures
from censorscope.netx import (
    FetchOptions,
    Network,
    Request,
    SystemResolver,
    Trace,
    UDPResolver,
    client_context,
    fetch,
)
from tests.netx.localnet import (
    PAGE,
    DNSServer,
    LocalCA,
    RawServer,
    server_context,
    start_web,
)


async def _routes(request: IncomingRequest) -> OutgoingResponse:
    path = request.target
    if path.startswith("/redirect/"):
        left = int(path.rsplit("/", 1)[1])
        target = f"/redirect/{left - 1}" if left > 1 else "/page"
        return OutgoingResponse(302, headers=[("Location", target)])
    if path == "/broken":
        return OutgoingResponse(302, headers=[("Location", "http://")])
    if path == "/cookie":
        return OutgoingResponse(
            302, headers=[("Set-Cookie", "session=abc; Path=/"), ("Location", "/echo")]
        )
    if path == "/echo":
        cookie = request.header("Cookie") or ""
        return OutgoingResponse(200, cookie.encode())
    if path == "/binary":
        return OutgoingResponse(200, b"\xff\xfe\x00binary")
    return OutgoingResponse(
        200, PAGE, [("Content-Type", "text/html"), ("X-Dup", "1"), ("X-Dup", "2")]
    )


@pytest.fixture
async def web() -> AsyncIterator[HTTPServer]:
    server = await start_web("127.0.0.1", 0, _routes)
    yield server
    await server.close()


def _network(dns: DNSServer | None = None, ca: LocalCA | None = None) -> Network:
    resolver = UDPResolver(dns.address) if dns else SystemResolver()
    return Network(resolver, client_context(str(ca.cert_path) if ca else None))


async def test_a_page_is_recorded_with_headers_list_and_body(web: HTTPServer) -> None:
    trace = Trace()
    url = f"http://127.0.0.1:{web.port}/page"
    result = await fetch(trace, _network(), Request(url))
    assert result.failure is None
    entry = trace.requests[0]
    assert entry["response"]["code"] == 200
    assert entry["response"]["body"] == PAGE.decode()
    assert ["X-Dup", "1"] in entry["response"]["headers_list"]
    assert ["X-Dup", "2"] in entry["response"]["headers_list"]
    assert entry["response"]["headers"]["X-Dup"] == "1"
    assert entry["request"]["headers_list"][0] == ["Host", f"127.0.0.1:{web.port}"]
    assert entry["address"] == f"127.0.0.1:{web.port}"
    assert entry["transaction_id"] == trace.tcp_connect[0]["transaction_id"]
    reads = [e for e in trace.network_events if e["operation"] == "read"]
    assert sum(e["num_bytes"] for e in reads) > len(PAGE)


async def test_redirects_are_followed_in_time_order(web: HTTPServer) -> None:
    trace = Trace()
    url = f"http://127.0.0.1:{web.port}/redirect/3"
    result = await fetch(trace, _network(), Request(url))
    assert result.failure is None
    assert [e.status for e in result.exchanges] == [302, 302, 302, 200]
    assert trace.requests[-1]["request"]["url"].endswith("/page")
    ids = [r["transaction_id"] for r in trace.requests]
    assert ids == sorted(set(ids))


async def test_too_many_redirects_stop_the_fetch(web: HTTPServer) -> None:
    url = f"http://127.0.0.1:{web.port}/redirect/5"
    options = FetchOptions(max_redirects=2)
    result = await fetch(Trace(), _network(), Request(url), options)
    assert result.failure == "unknown_failure: stopped after too many redirects"
    assert len(result.exchanges) == 3


async def test_a_redirect_without_host_is_http_invalid_redirect_location_host(
    web: HTTPServer,
) -> None:
    url = f"http://127.0.0.1:{web.port}/broken"
    result = await fetch(Trace(), _network(), Request(url))
    assert result.failure == failures.HTTP_INVALID_REDIRECT_LOCATION_HOST


async def test_cookies_set_by_a_redirect_are_sent_back(web: HTTPServer) -> None:
    url = f"http://127.0.0.1:{web.port}/cookie"
    result = await fetch(Trace(), _network(), Request(url))
    assert result.final is not None
    assert result.final.body == b"session=abc"


async def test_bodies_beyond_the_cap_are_truncated(web: HTTPServer) -> None:
    trace = Trace()
    url = f"http://127.0.0.1:{web.port}/page"
    result = await fetch(trace, _network(), Request(url), FetchOptions(max_body=100))
    assert result.final is not None
    assert result.final.body == PAGE[:100]
    assert trace.requests[0]["response"]["body_is_truncated"] is True


async def test_binary_bodies_are_stored_as_base64(web: HTTPServer) -> None:
    trace = Trace()
    await fetch(trace, _network(), Request(f"http://127.0.0.1:{web.port}/binary"))
    assert trace.requests[0]["response"]["body"]["format"] == "base64"


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("reset", failures.CONNECTION_RESET),
        ("eof", failures.EOF_ERROR),
        ("silent", failures.GENERIC_TIMEOUT_ERROR),
    ],
)
async def test_http_interference_is_classified(behaviour: str, expected: str) -> None:
    server = await RawServer(behaviour).start("127.0.0.1")
    trace = Trace()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        result = await fetch(
            trace, _network(), Request(url), FetchOptions(http_timeout=0.3)
        )
    finally:
        await server.close()
    assert result.failure == expected
    assert trace.requests[0]["failure"] == expected
    assert trace.requests[0]["response"]["code"] == 0


async def test_a_non_http_reply_is_an_unknown_failure_with_addresses_scrubbed() -> None:
    server = await RawServer("garbage").start("127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.port}/"
        result = await fetch(Trace(), _network(), Request(url))
    finally:
        await server.close()
    assert result.failure is not None
    assert result.failure.startswith("unknown_failure: ")
    assert "10.1.2.3" not in result.failure


async def test_a_name_that_does_not_resolve_fails_the_request(
    web: HTTPServer,
) -> None:
    dns = await DNSServer({}).start()
    trace = Trace()
    url = f"http://missing.test:{web.port}/"
    result = await fetch(trace, _network(dns), Request(url))
    await dns.close()
    assert result.failure == failures.DNS_NXDOMAIN_ERROR
    assert trace.requests[0]["failure"] == failures.DNS_NXDOMAIN_ERROR


async def test_https_fetch_resolves_connects_and_handshakes(ca: LocalCA) -> None:
    context = server_context(*ca.issue("web", ["site.test"]))
    context.set_alpn_protocols(["http/1.1"])
    web = await start_web("127.0.0.1", 0, _routes, context)
    dns = await DNSServer({"site.test": ["127.0.0.1"]}).start()
    trace = Trace()
    url = f"https://site.test:{web.port}/page"
    result = await fetch(trace, _network(dns, ca), Request(url))
    await web.close()
    await dns.close()
    assert result.failure is None
    assert trace.requests[0]["alpn"] == "http/1.1"
    assert trace.tls_handshakes[0]["server_name"] == "site.test"
    assert {q["hostname"] for q in trace.queries} == {"site.test"}


async def test_known_addresses_skip_the_lookup(web: HTTPServer) -> None:
    trace = Trace()
    network = Network(
        SystemResolver(), client_context(), {"seeded.test": ["127.0.0.1"]}
    )
    result = await fetch(trace, network, Request(f"http://seeded.test:{web.port}/"))
    assert result.failure is None
    assert trace.queries == []
