"""One background event loop that serves every lab server in every namespace.

Sockets are created inside the right namespace (``netns.socket_in``) and then
handed to asyncio, so a single thread serves the internet's websites and DNS
servers as well as each ISP's resolver, DNS injector and proxy.  The lab's
controller changes censor policies through ``call``, which runs a function
on the loop thread and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from censorscope.lab import netns
from censorscope.lab.dnsserver import DnsProtocol, DnsResponder

logger = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_CALL_TIMEOUT = 60.0


class Services:
    """The lab's server thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_exception_handler)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="censorscope-lab", daemon=True
        )
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []

    def start(self) -> None:
        self._thread.start()

    def call(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run ``function()`` on the loop thread and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(
            _awaited(function), self._loop
        )
        return future.result(_CALL_TIMEOUT)

    def stop(self) -> None:
        """Close every server and stop the thread (idempotent)."""
        if not self._thread.is_alive():
            return
        self.call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _close_all(self) -> None:
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        self._servers.clear()
        self._transports.clear()
        # Connections still being served (a dropped handshake, a relay) end here.
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def listen_tcp(
        self,
        namespace: str,
        address: str,
        port: int,
        handler: Handler,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Accept TCP (or TLS) connections on ``address:port`` in ``namespace``."""
        sock = netns.socket_in(namespace)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(256)
        server = await asyncio.start_server(
            handler, sock=sock, ssl=tls, ssl_handshake_timeout=10 if tls else None
        )
        self._servers.append(server)

    async def listen_dns(
        self, namespace: str, address: str, responder: DnsResponder
    ) -> None:
        """Serve DNS over UDP on ``address:53`` in ``namespace``."""
        sock = netns.socket_in(namespace, socket.SOCK_DGRAM)
        sock.bind((address, 53))
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: DnsProtocol(responder), sock=sock
        )
        self._transports.append(transport)


async def _awaited(function: Callable[[], Awaitable[T]]) -> T:
    return await function()


def _quiet_exception_handler(
    loop: asyncio.AbstractEventLoop, context: dict[str, Any]
) -> None:
    """Failed TLS handshakes and resets are the lab's daily bread: debug only.

    So is a connection cancelled at teardown: a censor's RST reaches only the
    client, and the server side may still be waiting for a request.  (Python
    3.11's stream callback reports the cancellation as an error.)
    """
    error = context.get("exception")
    quiet = (ssl.SSLError, ConnectionError, TimeoutError, asyncio.CancelledError)
    if isinstance(error, quiet):
        logger.debug("lab server: %s", context.get("message"))
        return
    loop.default_exception_handler(context)
