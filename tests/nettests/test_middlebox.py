"""The middlebox tests against our echo helpers, with and without a meddler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from censorscope.helper.servers import HeaderEchoServer, TCPEchoServer
from censorscope.measurement import failures
from censorscope.nettests.base import TestContext
from censorscope.nettests.http_header_field_manipulation import (
    HTTPHeaderFieldManipulation,
)
from censorscope.nettests.http_invalid_request_line import HTTPInvalidRequestLine
from tests.nettests.support import loads_back

HHFM = "http_header_field_manipulation"
HIRL = "http_invalid_request_line"


@contextlib.asynccontextmanager
async def lowercasing_proxy(upstream_port: int) -> AsyncIterator[int]:
    """A middlebox that lower-cases the request head before passing it on."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        up_writer.write(head.lower())
        writer.write(await up_reader.read())
        await writer.drain()
        up_writer.close()
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


@pytest.fixture
async def header_echo() -> AsyncIterator[int]:
    server = HeaderEchoServer()
    await server.start("127.0.0.1", 0)
    yield server.port
    await server.close()


async def test_hhfm_sees_no_tampering_through_a_clean_path(header_echo: int) -> None:
    test = HTTPHeaderFieldManipulation()
    context = TestContext(
        timeout=1, endpoints={HHFM: {"backend": f"http://127.0.0.1:{header_echo}"}}
    )
    result = await test.run(context, None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert keys["failure"] is None
    assert not any(v for k, v in keys["tampering"].items() if k != "header_name_diff")
    assert keys["requests"][0]["response"]["code"] == 200
    assert not test.summarize(keys).anomaly


async def test_hhfm_detects_a_middlebox_that_rewrites_headers(header_echo: int) -> None:
    async with lowercasing_proxy(header_echo) as port:
        context = TestContext(
            timeout=1, endpoints={HHFM: {"backend": f"http://127.0.0.1:{port}"}}
        )
        keys = (await HTTPHeaderFieldManipulation().run(context, None)).test_keys
    tampering = keys["tampering"]
    assert tampering["request_line_capitalization"] is True
    assert tampering["header_name_capitalization"] is True
    assert len(tampering["header_name_diff"]) % 2 == 0
    assert tampering["total"] is False


async def test_hhfm_counts_an_unreachable_helper_as_total_tampering() -> None:
    context = TestContext(
        timeout=1, endpoints={HHFM: {"backend": "http://127.0.0.8:9"}}
    )
    keys = (await HTTPHeaderFieldManipulation().run(context, None)).test_keys
    assert keys["failure"] == failures.CONNECTION_REFUSED
    assert keys["tampering"]["total"] is True


@pytest.fixture
async def tcp_echo() -> AsyncIterator[int]:
    server = TCPEchoServer()
    await server.start("127.0.0.1", 0)
    yield server.port
    await server.close()


def _hirl_context(port: int) -> TestContext:
    return TestContext(
        timeout=1,
        endpoints={HIRL: {"address": "127.0.0.1", "port": port, "read_timeout": 0.2}},
    )


async def test_hirl_sees_its_lines_echoed_back(tcp_echo: int) -> None:
    test = HTTPInvalidRequestLine()
    result = await test.run(_hirl_context(tcp_echo), None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert keys["tampering"] is False
    assert keys["failure_list"] == [None] * 5
    assert keys["received"] == keys["sent"]
    assert len(keys["sent"][2]) == 1024 + len(" / HTTP/1.1\r\n")


async def test_hirl_detects_a_middlebox_that_answers_for_the_server() -> None:
    async def meddle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read(2048)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(meddle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    keys = (await HTTPInvalidRequestLine().run(_hirl_context(port), None)).test_keys
    server.close()
    assert keys["tampering"] is True
    assert keys["tampering_list"] == [True] * 5
    assert keys["failure_list"] == [failures.EOF_ERROR] * 5
    assert keys["received"][0].startswith("HTTP/1.1 400")


async def test_hirl_reports_an_unreachable_helper_without_tampering() -> None:
    keys = (await HTTPInvalidRequestLine().run(_hirl_context(9), None)).test_keys
    assert keys["failure_list"] == [failures.CONNECTION_REFUSED] * 5
    assert keys["tampering"] is False
