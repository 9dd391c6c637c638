"""A small network on 127.0.0.0/8 for tests: a CA, DNS servers, web servers.

Nothing here talks to anything outside loopback.  Every server listens on a
127.x address chosen by the test and is closed by the test's fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import random
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from censorscope.helper.http_server import HTTPServer, IncomingRequest, OutgoingResponse

# --- certificates ---------------------------------------------------------------

_NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class LocalCA:
    """A certificate authority made for one test session."""

    directory: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    cert_path: Path

    @classmethod
    def create(
        cls, directory: Path, common_name: str = "censorscope test CA"
    ) -> LocalCA:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(days=1))
            .not_valid_after(_NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        path = directory / f"{common_name.replace(' ', '_')}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(directory, key, cert, path)

    def issue(
        self, name: str, hostnames: list[str], *, expired: bool = False
    ) -> tuple[Path, Path]:
        """A leaf certificate for ``hostnames`` (names or IPs): (cert, key) paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = _NOW - datetime.timedelta(days=60 if expired else 1)
        end = (
            _NOW - datetime.timedelta(days=30)
            if expired
            else _NOW + datetime.timedelta(days=30)
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hostnames[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(_sans(hostnames)), False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path = self.directory / f"{name}.crt"
        key_path = self.directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path


def _sans(hostnames: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# --- DNS ------------------------------------------------------------------------

# A zone value: addresses, or one of these behaviours.
BEHAVIOURS = (
    "nxdomain",
    "servfail",
    "refused",
    "noanswer",
    "garbage",
    "wrongid",
    "drop",
)


class DNSServer:
    """A UDP+TCP DNS server answering from a dict zone (unknown names: NXDOMAIN)."""

    def __init__(self, zone: Mapping[str, list[str] | str]) -> None:
        self.zone = {name.lower().rstrip("."): value for name, value in zone.items()}
        self.host = "127.0.0.1"
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self.queries: list[str] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1") -> DNSServer:
        loop = asyncio.get_running_loop()
        self.host = host
        # UDP and TCP on one port: pick it outside the ephemeral range.
        self.port = free_port([host])
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UDPProtocol(self), local_addr=(host, self.port)
        )
        self._udp = transport
        self._tcp = await asyncio.start_server(self._serve_tcp, host, self.port)
        return self

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to a query (None: stay silent)."""
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        rule = self.zone.get(name, "nxdomain")
        if rule == "drop":
            return None
        if rule == "garbage":
            return b"\x00\x01garbage"
        reply = dns.message.make_response(query)
        _fill(reply, question, rule)
        if rule == "wrongid":
            reply.id = (query.id + 1) % 65536
        return reply.to_wire()

    async def _serve_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            reply = self.answer(await reader.readexactly(size))
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()


def _fill(
    reply: dns.message.Message, question: dns.rrset.RRset, rule: list[str] | str
) -> None:
    codes = {
        "nxdomain": dns.rcode.NXDOMAIN,
        "servfail": dns.rcode.SERVFAIL,
        "refused": dns.rcode.REFUSED,
    }
    if isinstance(rule, str):
        if rule in codes:
            reply.set_rcode(codes[rule])
        return
    wanted = "AAAA" if question.rdtype == dns.rdatatype.AAAA else "A"
    matching = [a for a in rule if (":" in a) == (wanted == "AAAA")]
    if matching:
        reply.answer.append(
            dns.rrset.from_text_list(question.name, 60, "IN", wanted, matching)
        )


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


# --- web servers ------------------------------------------------------------------

PAGE = (
    b"<!doctype html><html><head><title>Example Domain for Censorscope Tests</title>"
    b"</head><body>"
    + b"<p>This domain is for use in illustrative examples.</p>" * 40
    + b"</body></html>"
)
BLOCKPAGE = (
    b"<html><head><title>Access Denied</title></head>"
    b"<body>This website is blocked by order of the authorities.</body></html>"
)
# What a censor's injector sends: few headers, body delimited by the close.
INJECTED_BLOCKPAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    + BLOCKPAGE
)
PAGE_HEADERS = [("Content-Type", "text/html"), ("X-Site-Marker", "real")]
BLOCKPAGE_HEADERS = [("Content-Type", "text/html"), ("X-Filter", "blockpage")]


def static_handler(
    body: bytes, headers: list[tuple[str, str]], status: int = 200
) -> Callable[[IncomingRequest], Awaitable[OutgoingResponse]]:
    async def handle(request: IncomingRequest) -> OutgoingResponse:
        return OutgoingResponse(status, body, list(headers))

    return handle


async def start_web(
    host: str,
    port: int,
    handler: Callable[[IncomingRequest], Awaitable[OutgoingResponse]],
    ssl_context: ssl.SSLContext | None = None,
) -> HTTPServer:
    server = HTTPServer(handler)
    await server.start(host, port, ssl_context)
    return server


# --- misbehaving TCP servers --------------------------------------------------------


@dataclass
class RawServer:
    """A TCP server that misbehaves on purpose.

    ``reset``: read the first bytes then RST (SO_LINGER 0); ``silent``: accept
    and never answer; ``eof``: read the first bytes then close cleanly;
    ``garbage``: answer with a fixed non-HTTP line; ``blockpage``: answer
    with a minimal injected-looking blockpage (no Content-Length, then close).
    """

    behaviour: str
    server: asyncio.Server | None = None
    holds: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self, host: str, port: int = 0) -> RawServer:
        self.server = await asyncio.start_server(self._serve, host, port)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self.holds:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.behaviour == "silent":
            self.holds.append(writer)
            return
        with contextlib.suppress(OSError):
            await reader.read(1024)
            if self.behaviour == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                writer.transport.abort()
                return
            if self.behaviour == "garbage":
                writer.write(b"SSH-2.0-OpenSSH_9.2 from 10.1.2.3\r\n\r\n")
                await writer.drain()
            if self.behaviour == "blockpage":
                writer.write(INJECTED_BLOCKPAGE)
                await writer.drain()
        writer.close()


class FullBacklog:
    """A listener whose accept queue is full, so new connects time out."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.listener = socket.socket()
        self.listener.bind((host, port))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.socket()
        self.filler.connect((host, self.port))

    def close(self) -> None:
        self.filler.close()
        self.listener.close()


def free_port(hosts: list[str]) -> int:
    """A port free on every host in ``hosts``, below the ephemeral range.

    Ports are drawn below the kernel's ephemeral range so that the source
    port of some outgoing connection cannot take them between this check
    and the bind.
    """
    low = _ephemeral_low()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if all(_is_free(host, port) for host in hosts):
            return port
    raise RuntimeError("no common free port")


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    except OSError:
        return 32768
    return int(text.split()[0])


def _is_free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True
