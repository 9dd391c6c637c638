"""TCP connects and the measured byte stream every other protocol runs on.

:func:`tcp_connect` records a ``tcp_connect`` entry and a ``connect`` network
event and returns a :class:`TCPConn` (or the failure).  A connection records
a ``read`` or ``write`` network event for every socket operation, so that a
reset or an EOF is seen exactly where it happened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Protocol

from censorscope.measurement import failures
from censorscope.netx.errors import classify
from censorscope.netx.trace import Span, Trace

READ_SIZE = 65536


def join_host_port(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets (as OONI writes them)."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def split_host_port(endpoint: str) -> tuple[str, int]:
    """Inverse of :func:`join_host_port`; raises ValueError on a bad endpoint."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not a host:port endpoint: {endpoint!r}")
    return host.strip("[]"), int(port)


def is_ip_address(host: str) -> bool:
    """Tell whether ``host`` is an IPv4 or IPv6 literal."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class Conn(Protocol):
    """A byte stream whose operations are recorded in a trace."""

    address: str
    transaction_id: int
    trace: Trace
    tags: list[str]

    async def read(self, size: int = READ_SIZE) -> bytes:
        """Up to ``size`` bytes; ``b""`` at end of stream."""

    async def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    def close(self) -> None:
        """Release the connection."""


class TCPConn:
    """A connected non-blocking socket that records every read and write."""

    def __init__(
        self,
        sock: socket.socket,
        address: str,
        trace: Trace,
        transaction_id: int,
        tags: list[str],
    ) -> None:
        self.sock = sock
        self.address = address
        self.trace = trace
        self.transaction_id = transaction_id
        self.tags = tags

    async def read(self, size: int = READ_SIZE) -> bytes:
        """Read once; an EOF is recorded as a ``read`` with ``eof_error``."""
        t0 = self.trace.now()
        try:
            data = await asyncio.get_running_loop().sock_recv(self.sock, size)
        except OSError as error:
            self._record("read", t0, classify(error), 0)
            raise
        self._record("read", t0, None if data else failures.EOF_ERROR, len(data))
        return data

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` as one recorded ``write``."""
        t0 = self.trace.now()
        try:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)
        except OSError as error:
            self._record("write", t0, classify(error), 0)
            raise
        self._record("write", t0, None, len(data))

    def close(self) -> None:
        self.sock.close()

    def _record(self, operation: str, t0: float, failure: str | None, n: int) -> None:
        self.trace.event(
            operation,
            t0,
            self.transaction_id,
            failure=failure,
            tags=self.tags,
            address=self.address,
            num_bytes=n,
            proto="tcp",
        )


@dataclass
class ConnectResult:
    """The outcome of one TCP connect: a connection or a failure string."""

    conn: TCPConn | None
    failure: str | None


def _new_socket(ip: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def _connect(sock: socket.socket, ip: str, port: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await asyncio.get_running_loop().sock_connect(sock, (ip, port))


async def tcp_connect(
    trace: Trace,
    ip: str,
    port: int,
    *,
    timeout: float,
    transaction_id: int | None = None,
    tags: list[str] | None = None,
) -> ConnectResult:
    """Connect to ``ip:port`` and record the ``tcp_connect`` entry.

    Never raises for network errors: the failure is in the result (and the
    socket is closed).  Cancellation is recorded as ``interrupted`` and
    propagated.
    """
    tid = trace.next_transaction_id() if transaction_id is None else transaction_id
    tags = list(tags or [])
    address = join_host_port(ip, port)
    span, t0 = Span("tcp_connect", address), trace.now()
    sock, failure = _new_socket(ip), None
    try:
        await _connect(sock, ip, port, timeout)
    except asyncio.CancelledError:
        _record_connect(
            trace, ip, port, t0=t0, failure=failures.INTERRUPTED, tid=tid, tags=tags
        )
        sock.close()
        raise
    except OSError as error:
        failure = classify(error)
        sock.close()
    _record_connect(trace, ip, port, t0=t0, failure=failure, tid=tid, tags=tags)
    span.done(failure)
    if failure is not None:
        return ConnectResult(None, failure)
    return ConnectResult(TCPConn(sock, address, trace, tid, tags), None)


def _record_connect(
    trace: Trace,
    ip: str,
    port: int,
    *,
    t0: float,
    failure: str | None,
    tid: int,
    tags: list[str],
) -> None:
    trace.tcp_connect.append(
        {
            "ip": ip,
            "port": port,
            "status": {"failure": failure, "success": failure is None},
            "t0": t0,
            "t": trace.now(),
            "tags": list(tags),
            "transaction_id": tid,
        }
    )
    trace.event(
        "connect",
        t0,
        tid,
        failure=failure,
        tags=tags,
        address=join_host_port(ip, port),
        proto="tcp",
    )
