"""A small HTTP/1.1 server for the lab's websites, over TCP and TLS.

Each listening address hosts virtual hosts chosen by the ``Host`` header
(and, for TLS, certificates chosen by SNI).  Every response closes the
connection: the probe and the test helper open a new one per request, so
there is no keep-alive state to get wrong.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

_HEAD_LIMIT = 64 * 1024
_READ_TIMEOUT = 10.0
_CHUNK = 64 * 1024

REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    403: "Forbidden", 404: "Not Found", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


@dataclass(frozen=True)
class Request:
    """One parsed request as a site sees it."""

    method: str
    target: str
    headers: Mapping[str, str]  # lower-case names
    scheme: str
    peer: str  # the client's address: probe or test helper
    local: str

    @property
    def host(self) -> str:
        """The Host header without port, lower-case."""
        host = self.headers.get("host", self.local)
        return host.rsplit(":", 1)[0].lower() if "]" not in host else host.lower()

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Response:
    """What a site answers; ``stream`` replaces ``body`` for large bodies."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    length: int | None = None
    # Censor-made responses end at connection close and carry none of the
    # real server's framing headers, so a header comparison tells them apart.
    close_delimited: bool = False

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}"]
        if not self.close_delimited:
            lines += [f"Date: {email.utils.formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if not self.close_delimited:
            length = self.length if self.stream is not None else len(self.body)
            lines += [f"Content-Length: {length}", "Connection: close"]
        return "\r\n".join([*lines, "", ""]).encode("latin-1")


App = Callable[[Request], Response]


def html_response(status: int, html: str, headers: list[tuple[str, str]]) -> Response:
    base = [("Content-Type", "text/html; charset=utf-8")]
    return Response(status, html.encode(), base + headers)


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", [("Location", location)])


def parse_head(raw: bytes, scheme: str, peer: str, local: str) -> Request | None:
    """Parse a request head; None if it is not HTTP/1.x."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return Request(parts[0], parts[1], headers, scheme, peer, local)


async def write_response(writer: asyncio.StreamWriter, response: Response) -> None:
    writer.write(response.head())
    if response.stream is None:
        writer.write(response.body)
        await writer.drain()
        return
    async for chunk in response.stream():
        # The client may hang up mid-body (a probe stops reading a large file):
        # writing on would only make asyncio log a warning per chunk.
        if writer.is_closing():
            return
        writer.write(chunk)
        await writer.drain()


class VirtualHosts:
    """The apps served on one address, chosen by Host header."""

    def __init__(self, apps: Mapping[str, App], default: App) -> None:
        self._apps = {name.lower(): app for name, app in apps.items()}
        self._default = default

    def app_for(self, host: str) -> App:
        return self._apps.get(host, self._default)


def bad_request(request: Request) -> Response:
    """The answer for a Host this address does not serve."""
    return html_response(400, "<html><title>400 Bad Request</title></html>", [])


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    hosts: VirtualHosts,
    scheme: str,
) -> None:
    """Serve one request on an accepted connection, then close it."""
    peer = writer.get_extra_info("peername") or ("", 0)
    local = writer.get_extra_info("sockname") or ("", 0)
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
        request = parse_head(raw, scheme, peer[0], local[0])
        if request is not None:
            response = hosts.app_for(request.host)(request)
            await write_response(writer, response)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        logger.debug("http %s from %s: incomplete request", local[0], peer[0])
    except (ConnectionError, ssl.SSLError) as error:
        logger.debug("http %s from %s: %s", local[0], peer[0], error)
    finally:
        writer.close()


async def silent_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Accept, say nothing, close when the client does (or after a while).

    A service that speaks a protocol of its own (WhatsApp's chat port): the
    lab only has to let TCP connections succeed.
    """
    try:
        await asyncio.wait_for(reader.read(), _READ_TIMEOUT)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def tls_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """A server context for one certificate, speaking HTTP/1.1 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.set_alpn_protocols(["http/1.1"])
    return context


def sni_context(
    default: ssl.SSLContext, by_name: Mapping[str, ssl.SSLContext]
) -> ssl.SSLContext:
    """``default``, switching to ``by_name[sni]`` when the client sends an SNI."""
    table = {name.lower(): context for name, context in by_name.items()}

    def choose(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        if name is not None and name.lower() in table:
            sock.context = table[name.lower()]

    default.sni_callback = choose
    return default
