"""The ISP's transparent HTTP proxy: where blockpages and redirects come from.

The censor DNATs subscribers' port-80 connections to this proxy.  It reads
the request head; for a blocked Host it answers with the blockpage (or a
redirect to the blockpage server) itself, otherwise it connects to the
original destination (``SO_ORIGINAL_DST``) and relays both ways.  A client
sent here by a DNS lie (destination = the proxy itself) is relayed to the
Host's true address, like the transparent proxies of OONI's QA cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import struct
from collections.abc import Callable, Mapping

from censorscope.lab import netns
from censorscope.lab.sites import blockpage_response
from censorscope.lab.web import Response, parse_head, redirect, write_response

logger = logging.getLogger(__name__)

_SO_ORIGINAL_DST = 80
_HEAD_TIMEOUT = 10.0
_RELAY_CHUNK = 65536


class ProxyVerdict(enum.StrEnum):
    """What the proxy does with a blocked Host."""

    BLOCKPAGE = "blockpage"
    REDIRECT = "redirect"


# Shortcoming: blockpages come from an intercepting proxy, not from packets
# injected beside the genuine answer (that needs NFQUEUE); port 80 only, no
# TLS passthrough on 443 for the "DNS to the ISP proxy" cases.
class TransparentProxy:
    """One ISP's proxy; ``blocked`` maps Host names to verdicts."""

    def __init__(
        self,
        namespace: str,
        own_address: str,
        operator: str,
        blockpage_url: str,
        resolve: Callable[[str], tuple[str, ...]],
    ) -> None:
        self._namespace = namespace
        self._own_address = own_address
        self._operator = operator
        self._blockpage_url = blockpage_url
        self._resolve = resolve
        self.blocked: dict[str, ProxyVerdict] = {}

    def set_blocked(self, blocked: Mapping[str, ProxyVerdict]) -> None:
        self.blocked = {name.lower(): verdict for name, verdict in blocked.items()}

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one intercepted connection."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
            await self._dispatch(head, reader, writer)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            logger.debug("proxy %s: incomplete request", self._namespace)
        except OSError as error:
            logger.debug("proxy %s: %s", self._namespace, error)
        finally:
            writer.close()

    async def _dispatch(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")[0]
        request = parse_head(head, "http", peer, self._own_address)
        if request is None:
            return
        verdict = self.blocked.get(request.host)
        if verdict is not None:
            await write_response(writer, self._censor_response(verdict, request.host))
            return
        destination = self._destination(writer, request.host)
        if destination is not None:
            await self._relay(head, reader, writer, destination)

    def _censor_response(self, verdict: ProxyVerdict, host: str) -> Response:
        if verdict is ProxyVerdict.REDIRECT:
            response = redirect(f"{self._blockpage_url}?blocked={host}", 302)
            response.close_delimited = True
            return response
        return blockpage_response(self._operator)

    def _destination(
        self, writer: asyncio.StreamWriter, host: str
    ) -> tuple[str, int] | None:
        """Where the client meant to go: the pre-DNAT address, else the Host's."""
        try:
            raw = writer.get_extra_info("socket").getsockopt(
                socket.SOL_IP, _SO_ORIGINAL_DST, 16
            )
        except OSError:  # ENOENT: not DNATed, the client came here on its own
            raw = None
        if raw is not None:
            port, packed = struct.unpack_from("!H4s", raw, 2)
            address = socket.inet_ntoa(packed)
            if address != self._own_address:
                return address, port
        addresses = self._resolve(host)
        return (addresses[0], 80) if addresses else None

    async def _relay(
        self,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        destination: tuple[str, int],
    ) -> None:
        sock = netns.socket_in(self._namespace)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, destination)
        except OSError:
            sock.close()
            raise
        upstream_reader, upstream_writer = await asyncio.open_connection(sock=sock)
        upstream_writer.write(head)
        try:
            await asyncio.gather(
                _pipe(reader, upstream_writer), _pipe(upstream_reader, writer)
            )
        finally:
            upstream_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_RELAY_CHUNK):
            if writer.is_closing():
                return
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
    except OSError as error:
        logger.debug("proxy relay: %s", error)
