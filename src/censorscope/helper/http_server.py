"""A small HTTP/1.1 server on asyncio and h11, for the test helpers.

It reads one request at a time per connection, bounds the request body and
the number of requests being handled at once (``503`` beyond it), and hands
each request to an async handler.  Header names keep the case the client sent,
which the header-echo helper needs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

logger = logging.getLogger(__name__)


@dataclass
class IncomingRequest:
    """A request as received: names keep their case, values are latin-1 text."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class OutgoingResponse:
    """A response to send; Content-Length is added from the body."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[IncomingRequest], Awaitable[OutgoingResponse]]


class _BodyTooLargeError(Exception):
    """The request body exceeded the server's limit."""


class Listener:
    """An asyncio listener that can tell its port and close its connections.

    Subclasses call :meth:`_listen` with their per-connection coroutine and
    register each connection's writer in ``_writers`` while it is open.
    """

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _listen(
        self,
        on_connection: Callable[
            [asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]
        ],
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = await asyncio.start_server(
            on_connection, host, port, ssl=ssl_context
        )

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and wait for the listener to close."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Idle keep-alive connections would outlive the listener otherwise.
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0)

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        if self._server is None:
            raise RuntimeError("server not started")
        await self._server.serve_forever()


class HTTPServer(Listener):
    """Serves ``handler`` over HTTP/1.1 (optionally TLS) on one address."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_request_body: int = 16 << 20,
        max_in_flight: int | None = None,
        idle_timeout: float = 30.0,
        server_header: str = "censorscope",
    ) -> None:
        self.handler = handler
        self.max_request_body = max_request_body
        self.max_in_flight = max_in_flight
        self.idle_timeout = idle_timeout
        self.server_header = server_header
        self.in_flight = 0
        super().__init__()

    async def start(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Listen on ``host:port`` (0 picks a free port, see :attr:`port`)."""
        await self._listen(self._serve, host, port, ssl_context)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        machine = h11.Connection(h11.SERVER)
        self._writers.add(writer)
        try:
            await self._serve_requests(machine, reader, writer, str(peer))
        except (OSError, TimeoutError, h11.ProtocolError, ssl.SSLError) as error:
            logger.debug("connection from %s ended: %r", peer, error)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve_requests(
        self,
        machine: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
    ) -> None:
        while machine.our_state is not h11.MUST_CLOSE:
            try:
                request = await self._read_request(machine, reader, peer)
            except _BodyTooLargeError:
                await self._send(machine, writer, OutgoingResponse(413))
                return
            except h11.RemoteProtocolError:
                await self._send(machine, writer, OutgoingResponse(400))
                return
            if request is None:
                return
            response = await self._respond(request)
            await self._send(machine, writer, response)
            if machine.our_state is not h11.DONE:
                return
            machine.start_next_cycle()

    async def _respond(self, request: IncomingRequest) -> OutgoingResponse:
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return OutgoingResponse(503, b"overloaded\n")
        self.in_flight += 1
        try:
            return await self.handler(request)
        finally:
            self.in_flight -= 1

    async def _read_request(
        self, machine: h11.Connection, reader: asyncio.StreamReader, peer: str
    ) -> IncomingRequest | None:
        request: IncomingRequest | None = None
        body = bytearray()
        async with asyncio.timeout(self.idle_timeout):
            while True:
                event = machine.next_event()
                if event is h11.NEED_DATA:
                    machine.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Request):
                    request = _incoming(event, peer)
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > self.max_request_body:
                        raise _BodyTooLargeError
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    request.body = bytes(body)
                    return request
                else:
                    return None

    async def _send(
        self,
        machine: h11.Connection,
        writer: asyncio.StreamWriter,
        response: OutgoingResponse,
    ) -> None:
        headers = [
            ("Server", self.server_header),
            *response.headers,
            ("Content-Length", str(len(response.body))),
        ]
        data = machine.send(h11.Response(status_code=response.status, headers=headers))
        data = (data or b"") + (machine.send(h11.Data(data=response.body)) or b"")
        data += machine.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()


def _incoming(event: h11.Request, peer: str) -> IncomingRequest:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in event.headers.raw_items()
    ]
    return IncomingRequest(
        event.method.decode("latin-1"),
        event.target.decode("latin-1"),
        headers,
        b"",
        peer,
    )
