"""TLS handshakes over a measured TCP connection (``ssl`` with memory BIOs).

The TLS engine runs over :class:`~censorscope.netx.tcp.TCPConn` instead of
owning the socket, so every handshake byte is a recorded ``read``/``write``
and a reset or EOF during the handshake is classified exactly
(``connection_reset``, ``eof_error``) rather than as a generic SSL error.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from censorscope.measurement.binary import encode_binary
from censorscope.netx.errors import classify
from censorscope.netx.tcp import READ_SIZE, TCPConn
from censorscope.netx.trace import Span

# OpenSSL names of TLS 1.2 suites, as the IANA names OONI data uses.
_IANA_CIPHERS = {
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
}


def client_context(
    ca_bundle: str | None = None,
    *,
    extra_ca_pem: str | None = None,
    alpn: Sequence[str] = ("http/1.1",),
    verify: bool = True,
) -> ssl.SSLContext:
    """A client context: the system roots or ``ca_bundle``, plus ``extra_ca_pem``.

    Contexts are cached per configuration: loading the root store costs tens
    of milliseconds of CPU that would otherwise block the event loop on every
    measurement.  A context is never modified after it is built, so sharing
    it between connections is safe.  The cache is keyed by the CA file's path:
    a bundle rewritten in place during one process is not reloaded.
    """
    return _cached_context(ca_bundle, extra_ca_pem, tuple(alpn), verify)


@functools.lru_cache(maxsize=32)
def _cached_context(
    ca_bundle: str | None, extra_ca_pem: str | None, alpn: tuple[str, ...], verify: bool
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_bundle)
    if extra_ca_pem:
        context.load_verify_locations(cadata=extra_ca_pem)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


@dataclass
class _Engine:
    """An ``SSLObject`` with the two memory BIOs it reads from and writes to."""

    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO

    async def flush(self, tcp: TCPConn) -> None:
        """Send whatever TLS records the engine has produced."""
        data = self.outgoing.read()
        if data:
            await tcp.write(data)

    async def fill(self, tcp: TCPConn) -> None:
        """Feed the engine one read from the socket (or the EOF)."""
        data = await tcp.read()
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    async def handshake(self, tcp: TCPConn) -> None:
        """Run the handshake to completion; raises what ``ssl`` or the socket raised."""
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                await self.flush(tcp)
                await self.fill(tcp)
                continue
            await self.flush(tcp)
            return


class TLSConn:
    """A TLS session over a :class:`TCPConn`, with the Conn interface."""

    def __init__(self, tcp: TCPConn, engine: _Engine) -> None:
        self.tcp = tcp
        self.engine = engine
        self.address = tcp.address
        self.transaction_id = tcp.transaction_id
        self.trace = tcp.trace
        self.tags = tcp.tags

    async def read(self, size: int = READ_SIZE) -> bytes:
        """Decrypted bytes; ``b""`` at end of stream.

        A close without ``close_notify`` counts as a normal end of stream, as
        many servers do it (``suppress_ragged_eofs`` semantics).
        """
        while True:
            try:
                return self.engine.tls.read(size)
            except ssl.SSLWantReadError:
                await self.engine.fill(self.tcp)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    async def write(self, data: bytes) -> None:
        self.engine.tls.write(data)
        await self.engine.flush(self.tcp)

    def close(self) -> None:
        self.tcp.close()


@dataclass
class HandshakeResult:
    """The outcome of a TLS handshake: a connection or a failure string."""

    conn: TLSConn | None
    failure: str | None
    negotiated_protocol: str = ""


def _cipher_name(tls: ssl.SSLObject) -> str:
    cipher = tls.cipher()
    if cipher is None:
        return ""
    return _IANA_CIPHERS.get(cipher[0], cipher[0])


def _peer_certificates(tls: ssl.SSLObject) -> list[Any] | None:
    # Shortcoming: Python 3.11's ssl exposes only the leaf certificate, not
    # the chain the server sent, and none at all when verification failed.
    leaf = tls.getpeercert(binary_form=True)
    return [encode_binary(leaf)] if leaf else None


async def tls_handshake(
    tcp: TCPConn,
    server_name: str,
    context: ssl.SSLContext,
    *,
    timeout: float,
) -> HandshakeResult:
    """Handshake over ``tcp`` with SNI ``server_name``; record ``tls_handshakes``.

    Never raises for network or TLS errors (the TCP connection is closed on
    failure).  Cancellation is recorded as ``interrupted`` and propagated.
    """
    trace, tid = tcp.trace, tcp.transaction_id
    engine = _Engine(
        context.wrap_bio(
            incoming := ssl.MemoryBIO(),
            outgoing := ssl.MemoryBIO(),
            server_hostname=server_name or None,
        ),
        incoming,
        outgoing,
    )
    span, t0 = Span("tls_handshake", f"{tcp.address} {server_name}"), trace.now()
    trace.marker("tls_handshake_start", tid, tcp.tags)
    failure = await _run_handshake(engine, tcp, timeout)
    entry = _handshake_entry(
        engine.tls, tcp, server_name, context=context, failure=failure, t0=t0
    )
    trace.tls_handshakes.append(entry)
    trace.marker("tls_handshake_done", tid, tcp.tags)
    span.done(failure)
    if failure is not None:
        tcp.close()
        return HandshakeResult(None, failure)
    return HandshakeResult(TLSConn(tcp, engine), None, entry["negotiated_protocol"])


async def _run_handshake(engine: _Engine, tcp: TCPConn, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            await engine.handshake(tcp)
    except asyncio.CancelledError:
        tcp.close()
        raise
    except (OSError, ssl.SSLError) as error:
        return classify(error)
    return None


def _handshake_entry(
    tls: ssl.SSLObject,
    tcp: TCPConn,
    server_name: str,
    *,
    context: ssl.SSLContext,
    failure: str | None,
    t0: float,
) -> dict[str, Any]:
    done = failure is None
    return {
        "address": tcp.address,
        "cipher_suite": _cipher_name(tls) if done else "",
        "failure": failure,
        "negotiated_protocol": (tls.selected_alpn_protocol() or "") if done else "",
        "network": "tcp",
        "no_tls_verify": context.verify_mode == ssl.CERT_NONE,
        "peer_certificates": _peer_certificates(tls) if done else None,
        "server_name": server_name,
        "t0": t0,
        "t": tcp.trace.now(),
        "tags": list(tcp.tags),
        "tls_version": (tls.version() or "") if done else "",
        "transaction_id": tcp.transaction_id,
    }
