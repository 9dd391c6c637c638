"""The test helpers: web_connectivity control server and the echo helpers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from censorscope.helper.control import (
    ControlConfig,
    dns_failure,
    http_failure,
    is_bogon,
    tcp_failure,
)
from censorscope.helper.http_server import HTTPServer
from censorscope.helper.servers import (
    HeaderEchoServer,
    TCPEchoServer,
    start_control_server,
)
from censorscope.measurement import failures
from censorscope.netx import (
    Network,
    Request,
    SystemResolver,
    Trace,
    UDPResolver,
    client_context,
)
from censorscope.netx import fetch_once as netx_fetch_once
from censorscope.netx.http import FetchOptions
from tests.netx.localnet import (
    PAGE,
    PAGE_HEADERS,
    DNSServer,
    FullBacklog,
    LocalCA,
    free_port,
    server_context,
    start_web,
    static_handler,
)

HOSTS = ["127.0.0.1", "127.0.0.5"]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(Path(tmp_path_factory.mktemp("ca")))


async def _call(port: int, method: str = "POST", body: bytes = b"") -> tuple[int, Any]:
    network = Network(SystemResolver(), client_context())
    request = Request(f"http://127.0.0.1:{port}/", method, (), body)
    exchange = await netx_fetch_once(Trace(), network, request, FetchOptions())
    assert exchange.failure is None
    try:
        return exchange.status, orjson.loads(exchange.body)
    except orjson.JSONDecodeError:
        return exchange.status, exchange.body


@contextlib.asynccontextmanager
async def helper(config: ControlConfig, **kwargs: Any) -> AsyncIterator[HTTPServer]:
    server = await start_control_server(config, "127.0.0.1", 0, **kwargs)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def site(ca: LocalCA) -> AsyncIterator[tuple[int, DNSServer]]:
    """site.test on 127.0.0.1 (HTTP and HTTPS on one port number), a resolver."""
    port = free_port(HOSTS)
    page = static_handler(PAGE, PAGE_HEADERS)
    tls = server_context(*ca.issue("helper-site", ["site.test"]))
    https_port = free_port(HOSTS)
    plain = await start_web("127.0.0.1", port, page)
    secure = await start_web("127.0.0.1", https_port, page, tls)
    dns = await DNSServer(
        {"site.test": ["127.0.0.1"], "tls.test": ["127.0.0.1"]}
    ).start()
    yield port, dns
    for server in (plain, secure):
        await server.close()
    await dns.close()


def _config(dns: DNSServer, ca: LocalCA, **kwargs: Any) -> ControlConfig:
    settings: dict[str, Any] = {
        "ca_bundle": str(ca.cert_path),
        "connect_timeout": 0.5,
        "http_timeout": 1,
        "dns_timeout": 1,
        "allow_private": True,
    }
    settings.update(kwargs)
    return ControlConfig(UDPResolver(dns.address), **settings)


async def test_get_answers_the_health_message(site: Any, ca: LocalCA) -> None:
    _, dns = site
    async with helper(_config(dns, ca)) as server:
        assert await _call(server.port, "GET") == (
            200,
            {"message": "Hello OONItarian!"},
        )
        status, _ = await _call(server.port, "PUT")
        assert status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"http_request": "ftp://x/"}',
        b'{"http_request": "http://x/", "tcp_connect": ["x"]}',
    ],
)
async def test_bad_requests_get_400(site: Any, ca: LocalCA, body: bytes) -> None:
    _, dns = site
    async with helper(_config(dns, ca)) as server:
        status, answer = await _call(server.port, "POST", body)
    assert status == 400
    assert "error" in answer


async def test_control_measures_dns_tcp_and_http(site: Any, ca: LocalCA) -> None:
    port, dns = site
    request = {
        "http_request": f"http://site.test:{port}/",
        "http_request_headers": {"User-Agent": ["probe"], "X-Ignored": ["1"]},
        "tcp_connect": [f"127.0.0.1:{port}", f"127.0.0.5:{port}"],
    }
    async with helper(_config(dns, ca)) as server:
        status, control = await _call(server.port, body=orjson.dumps(request))
    assert status == 200
    assert control["dns"] == {"failure": None, "addrs": ["127.0.0.1"]}
    assert control["tcp_connect"][f"127.0.0.1:{port}"] == {
        "status": True,
        "failure": None,
    }
    assert control["tcp_connect"][f"127.0.0.5:{port}"] == {
        "status": False,
        "failure": "connection_refused_error",
    }
    http = control["http_request"]
    assert (http["status_code"], http["body_length"]) == (200, len(PAGE))
    assert http["title"] == "Example Domain for Censorscope Tests"
    assert http["headers"]["X-Site-Marker"] == "real"
    assert control["ip_info"]["127.0.0.1"]["flags"] == 1 | 2 | 4
    assert control["ip_info"]["127.0.0.5"]["flags"] == 1 | 4


async def test_control_handshakes_on_the_https_port(ca: LocalCA) -> None:
    port = free_port(["127.0.0.1"])
    tls = server_context(*ca.issue("tls-site", ["tls.test"]))
    web = await start_web("127.0.0.1", port, static_handler(PAGE, []), tls)
    dns = await DNSServer({"tls.test": ["127.0.0.1"]}).start()
    request = {"http_request": f"https://tls.test:{port}/", "tcp_connect": []}
    async with helper(_config(dns, ca)) as server:
        _, control = await _call(server.port, body=orjson.dumps(request))
    await web.close()
    await dns.close()
    endpoint = f"127.0.0.1:{port}"
    assert control["tls_handshake"][endpoint] == {
        "server_name": "tls.test",
        "status": True,
        "failure": None,
    }
    assert control["ip_info"]["127.0.0.1"]["flags"] & 8


async def test_control_speaks_the_legacy_failure_vocabulary(
    site: Any, ca: LocalCA
) -> None:
    _, dns = site
    request = {"http_request": "http://missing.test/", "tcp_connect": []}
    async with helper(_config(dns, ca)) as server:
        _, control = await _call(server.port, body=orjson.dumps(request))
    assert control["dns"] == {"failure": "dns_name_error", "addrs": []}
    assert control["http_request"]["failure"] == "dns_lookup_error"
    assert (
        control["http_request"]["status_code"],
        control["http_request"]["body_length"],
    ) == (
        -1,
        -1,
    )


async def test_production_helpers_refuse_private_addresses(
    site: Any, ca: LocalCA
) -> None:
    port, dns = site
    request = {
        "http_request": f"http://site.test:{port}/",
        "tcp_connect": [f"127.0.0.1:{port}"],
    }
    async with helper(_config(dns, ca, allow_private=False)) as server:
        _, control = await _call(server.port, body=orjson.dumps(request))
    assert control["tcp_connect"] == {}
    assert control["http_request"]["failure"] == failures.LEGACY_DNS_LOOKUP_ERROR
    assert control["ip_info"]["127.0.0.1"]["flags"] & 4
    assert is_bogon("10.0.0.1") and not is_bogon("8.8.8.8")


async def test_an_overloaded_helper_answers_503(site: Any, ca: LocalCA) -> None:
    _, dns = site
    backlog = FullBacklog("127.0.0.1")
    slow = {
        "http_request": "http://203.0.113.1/",
        "tcp_connect": [f"127.0.0.1:{backlog.port}"],
    }
    async with helper(_config(dns, ca), max_in_flight=1) as server:
        first = asyncio.create_task(_call(server.port, body=orjson.dumps(slow)))
        await asyncio.sleep(0.1)
        status, _ = await _call(server.port, "GET")
        await first
    backlog.close()
    assert status == 503


async def test_header_echo_returns_headers_exactly_as_sent() -> None:
    server = HeaderEchoServer()
    await server.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GeT / HTTP/1.1\r\nhOsT: x.com\r\nACCept: a\r\nACCept: b\r\n\r\n")
    reply = await reader.read()
    writer.close()
    await server.close()
    document = orjson.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert document["request_line"] == "GeT / HTTP/1.1"
    assert document["headers_dict"] == {"hOsT": ["x.com"], "ACCept": ["a", "b"]}
    assert document["request_headers"][0] == ["hOsT", "x.com"]


async def test_tcp_echo_sends_back_what_it_gets() -> None:
    server = TCPEchoServer()
    await server.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"XXXX / HTTP/1.1\n\r")
    echoed = await reader.readexactly(17)
    writer.close()
    await server.close()
    assert echoed == b"XXXX / HTTP/1.1\n\r"


def test_the_helper_command_serves_until_stopped() -> None:
    command = [
        sys.executable,
        "-c",
        "from censorscope.cli import main; main()",
        "helper",
        "--port",
        "0",
        "--tcp-echo-port",
        "0",
        "--allow-private",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
        status, hello = asyncio.run(_call(port, "GET"))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (status, hello) == (200, {"message": "Hello OONItarian!"})


async def test_the_helper_serves_https_to_probes_that_trust_its_ca(
    site: Any, ca: LocalCA
) -> None:
    _, dns = site
    tls = server_context(*ca.issue("helper-tls", ["127.0.0.1"]))
    async with helper(_config(dns, ca), ssl_context=tls) as server:
        network = Network(SystemResolver(), client_context(str(ca.cert_path)))
        request = Request(f"https://127.0.0.1:{server.port}/", "GET", ())
        exchange = await netx_fetch_once(Trace(), network, request, FetchOptions())
    assert exchange.failure is None
    assert orjson.loads(exchange.body) == {"message": "Hello OONItarian!"}


@pytest.mark.parametrize(
    ("mapping", "failure", "expected"),
    [
        ("dns", failures.DNS_NXDOMAIN_ERROR, "dns_name_error"),
        ("dns", failures.DNS_NO_ANSWER, None),
        ("dns", failures.DNS_SERVFAIL_ERROR, "dns_server_failure"),
        ("dns", failures.DNS_REFUSED_ERROR, "dns_server_failure"),
        ("dns", failures.GENERIC_TIMEOUT_ERROR, "unknown_error"),
        ("tcp", failures.GENERIC_TIMEOUT_ERROR, "generic_timeout_error"),
        ("tcp", failures.CONNECTION_REFUSED, "connection_refused_error"),
        ("tcp", failures.CONNECTION_RESET, "connect_error"),
        ("http", failures.DNS_BOGON_ERROR, "dns_lookup_error"),
        ("http", failures.GENERIC_TIMEOUT_ERROR, "generic_timeout_error"),
        ("http", failures.CONNECTION_REFUSED, "connection_refused_error"),
        ("http", failures.CONNECTION_RESET, "unknown_error"),
    ],
)
def test_failures_are_translated_to_the_helpers_vocabulary(
    mapping: str, failure: str, expected: str | None
) -> None:
    translate = {
        "dns": dns_failure,
        "tcp": tcp_failure,
        "http": lambda f: http_failure(f, None),
    }[mapping]
    assert translate(failure) == expected
