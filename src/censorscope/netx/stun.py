"""STUN binding requests (RFC 5389): a tiny codec and a measured exchange.

Only what a reachability check needs: encode a Binding request, decode a
response's type, transaction id and (XOR-)MAPPED-ADDRESS.  The mapped address
is the probe's public address, so it is returned to the caller but never
recorded in the trace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from censorscope.measurement import failures
from censorscope.netx.errors import NetxError, classify
from censorscope.netx.tcp import join_host_port
from censorscope.netx.trace import Span, Trace

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
MAPPED_ADDRESS = 0x0001
XOR_MAPPED_ADDRESS = 0x0020
_HEADER = struct.Struct("!HHI12s")


class STUNDecodeError(ValueError):
    """Bytes that are not a STUN message."""


@dataclass(frozen=True)
class Message:
    """A decoded STUN message (attributes by type, first occurrence)."""

    message_type: int
    transaction_id: bytes
    attributes: dict[int, bytes]

    def mapped_address(self) -> tuple[str, int] | None:
        """The (XOR-)MAPPED-ADDRESS as ``(ip, port)``, if present and valid."""
        if XOR_MAPPED_ADDRESS in self.attributes:
            return _decode_address(
                self.attributes[XOR_MAPPED_ADDRESS], self.transaction_id
            )
        if MAPPED_ADDRESS in self.attributes:
            return _decode_address(self.attributes[MAPPED_ADDRESS], None)
        return None


def binding_request(transaction_id: bytes | None = None) -> tuple[bytes, bytes]:
    """A Binding request and its 12-byte transaction id."""
    tid = transaction_id or os.urandom(12)
    return _HEADER.pack(BINDING_REQUEST, 0, MAGIC_COOKIE, tid), tid


def encode(
    message_type: int, transaction_id: bytes, attributes: dict[int, bytes]
) -> bytes:
    """Encode a message (attributes padded to 4 bytes); used by test servers."""
    body = b""
    for kind, value in attributes.items():
        padding = b"\x00" * (-len(value) % 4)
        body += struct.pack("!HH", kind, len(value)) + value + padding
    return _HEADER.pack(message_type, len(body), MAGIC_COOKIE, transaction_id) + body


def xor_address(ip: str, port: int, transaction_id: bytes) -> bytes:
    """The XOR-MAPPED-ADDRESS value for ``ip:port``; used by test servers."""
    raw = ipaddress.ip_address(ip).packed
    key = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    family = 1 if len(raw) == 4 else 2
    masked = bytes(b ^ k for b, k in zip(raw, key, strict=False))
    return struct.pack("!BBH", 0, family, port ^ (MAGIC_COOKIE >> 16)) + masked


def decode(data: bytes) -> Message:
    """Decode a STUN message; raises STUNDecodeError for anything else."""
    if len(data) < _HEADER.size:
        raise STUNDecodeError("shorter than a STUN header")
    message_type, length, cookie, tid = _HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE or len(data) < _HEADER.size + length:
        raise STUNDecodeError("not a STUN message")
    return Message(
        message_type, tid, _attributes(data[_HEADER.size : _HEADER.size + length])
    )


def _attributes(body: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(body):
        kind, size = struct.unpack_from("!HH", body, offset)
        value = body[offset + 4 : offset + 4 + size]
        if len(value) != size:
            raise STUNDecodeError("truncated attribute")
        out.setdefault(kind, value)
        offset += 4 + size + (-size % 4)
    return out


def _decode_address(
    value: bytes, transaction_id: bytes | None
) -> tuple[str, int] | None:
    if len(value) < 8:
        return None
    family, port = value[1], struct.unpack_from("!H", value, 2)[0]
    raw = value[4:8] if family == 1 else value[4:20]
    if transaction_id is not None:
        key = struct.pack("!I", MAGIC_COOKIE) + transaction_id
        raw = bytes(b ^ k for b, k in zip(raw, key, strict=False))
        port ^= MAGIC_COOKIE >> 16
    try:
        return str(ipaddress.ip_address(raw)), port
    except ValueError:
        return None


async def stun_binding(
    trace: Trace,
    ip: str,
    port: int,
    *,
    timeout: float,
    retransmit: float = 0.5,
    tags: list[str] | None = None,
) -> tuple[str | None, tuple[str, int] | None]:
    """Send a Binding request to ``ip:port`` until answered or ``timeout``.

    Returns ``(failure, mapped_address)``; records ``write``/``read`` events
    (proto ``udp``) but not the mapped address.
    """
    address, tid = join_host_port(ip, port), trace.next_transaction_id()
    span = Span("stun_binding", address)
    try:
        async with asyncio.timeout(timeout):
            mapped = await _exchange(
                trace, ip, port, retransmit=retransmit, tid=tid, tags=tags or []
            )
    except (OSError, NetxError) as error:
        span.done(classify(error))
        return classify(error), None
    span.done(None)
    return None, mapped


async def _exchange(
    trace: Trace, ip: str, port: int, *, retransmit: float, tid: int, tags: list[str]
) -> tuple[str, int]:
    request, stun_id = binding_request()
    loop = asyncio.get_running_loop()
    address = join_host_port(ip, port)
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (ip, port))
        while True:
            t0 = trace.now()
            await loop.sock_sendall(sock, request)
            trace.event(
                "write",
                t0,
                tid,
                tags=tags,
                address=address,
                num_bytes=len(request),
                proto="udp",
            )
            reply = await _receive(
                trace, sock, retransmit, tid=tid, tags=tags, address=address
            )
            if reply is not None:
                return _mapped(reply, stun_id)


async def _receive(
    trace: Trace,
    sock: socket.socket,
    wait: float,
    *,
    tid: int,
    tags: list[str],
    address: str,
) -> bytes | None:
    t0 = trace.now()
    try:
        async with asyncio.timeout(wait):
            data = await asyncio.get_running_loop().sock_recv(sock, 2048)
    except TimeoutError:
        return None
    trace.event(
        "read", t0, tid, tags=tags, address=address, num_bytes=len(data), proto="udp"
    )
    return data


def _mapped(reply: bytes, stun_id: bytes) -> tuple[str, int]:
    try:
        message = decode(reply)
    except STUNDecodeError as error:
        raise NetxError(failures.unknown(f"stun: {error}")) from error
    if message.transaction_id != stun_id:
        raise NetxError(failures.unknown("stun: transaction id mismatch"))
    if message.message_type != BINDING_SUCCESS:
        raise NetxError(failures.unknown("stun: binding error response"))
    mapped = message.mapped_address()
    if mapped is None:
        raise NetxError(failures.unknown("stun: no mapped address"))
    return mapped
