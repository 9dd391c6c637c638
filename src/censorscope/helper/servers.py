"""The helper servers: web_connectivity control, header echo, TCP echo.

* :func:`start_control_server`: ``POST /`` with a control request answers
  the control JSON, ``GET`` answers the health message, anything else 400;
  ``503`` when more requests are in flight than allowed.
* :class:`HeaderEchoServer` (``http-return-json-headers``, for
  http_header_field_manipulation): answers any request with the request line
  and headers exactly as received, as JSON (``request_line``,
  ``request_headers``, ``headers_dict``).  It parses the bytes itself so that
  nothing is normalised on the way.
* :class:`TCPEchoServer` (``tcp-echo``, for http_invalid_request_line):
  sends back whatever it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any, Final

import orjson

from censorscope.helper.control import (
    HELLO,
    ControlConfig,
    ControlRequestError,
    measure,
    parse_request,
)
from censorscope.helper.http_server import (
    HTTPServer,
    IncomingRequest,
    Listener,
    OutgoingResponse,
)

logger = logging.getLogger(__name__)

SERVER_HEADER: Final = "oohelperd/censorscope-0.1.0"
JSON_HEADERS: Final = [("Content-Type", "application/json")]
MAX_HEADER_BYTES: Final = 64 << 10


def _json(status: int, value: Any) -> OutgoingResponse:
    return OutgoingResponse(status, orjson.dumps(value), list(JSON_HEADERS))


def control_handler(config: ControlConfig) -> Any:
    """The request handler of the web_connectivity test helper."""

    async def handle(request: IncomingRequest) -> OutgoingResponse:
        if request.method == "GET":
            return _json(200, HELLO)
        if request.method != "POST":
            return _json(400, {"error": "only GET and POST are supported"})
        try:
            control = parse_request(orjson.loads(request.body))
        except (orjson.JSONDecodeError, ControlRequestError) as error:
            return _json(400, {"error": str(error)})
        logger.info("control %s for %s", control.url, request.peer)
        return _json(200, await measure(control, config))

    return handle


async def start_control_server(
    config: ControlConfig,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    max_in_flight: int = 25,
) -> HTTPServer:
    """Start the web_connectivity helper; ``server.port`` tells the port."""
    # Shortcoming: oohelperd allows 50 in flight for ooniprobe User-Agents
    # and 25 for others; one limit for everyone here.
    server = HTTPServer(
        control_handler(config),
        max_in_flight=max_in_flight,
        server_header=SERVER_HEADER,
    )
    await server.start(host, port, ssl_context)
    return server


class _StreamServer(Listener):
    """A listener with a per-connection coroutine and an idle timeout."""

    def __init__(self, idle_timeout: float = 10.0) -> None:
        super().__init__()
        self.idle_timeout = idle_timeout

    async def start(self, host: str, port: int) -> None:
        await self._listen(self._accept, host, port)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            async with asyncio.timeout(self.idle_timeout):
                await self.serve(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            logger.debug("echo connection ended: %r", error)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        raise NotImplementedError


class TCPEchoServer(_StreamServer):
    """Echoes every byte back until the client closes or goes idle."""

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


def parse_head(head: bytes) -> tuple[str, list[list[str]]]:
    """The request line and header pairs of a raw request head, as sent."""
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append([name, value.strip()])
    return lines[0], headers


def echo_document(request_line: str, headers: list[list[str]]) -> dict[str, Any]:
    """What the header-echo helper answers (legacy oonib format)."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name, []).append(value)
    return {
        "request_line": request_line,
        "request_headers": headers,
        "headers_dict": by_name,
    }


class HeaderEchoServer(_StreamServer):
    """Answers each request with its own request line and headers as JSON."""

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(asyncio.LimitOverrunError):
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, headers = parse_head(head[:MAX_HEADER_BYTES].rstrip(b"\r\n"))
            body = orjson.dumps(echo_document(request_line, headers))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
