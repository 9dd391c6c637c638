"""HTTP Invalid Request Line (ts-007, test_version 0.2.1).

Send five malformed HTTP request lines to a TCP echo helper and compare what
comes back with what was sent: a middlebox that parses HTTP answers, drops
or rewrites them.  Each method reads until the read timeout, which is the
expected end (the helper keeps the connection open).

Configuration (``context.endpoints["http_invalid_request_line"]``):
``address`` (the echo helper's IP), ``port`` (80), ``read_timeout`` (5 s).
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from censorscope.measurement.binary import encode_maybe_binary
from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.netx import TCPConn, Trace, classify, tcp_connect

NAME: Final = "http_invalid_request_line"
ADDRESS: Final = "37.218.241.93"
PORT: Final = 80
READ_TIMEOUT: Final = 5.0


def _letters(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(count))


# The five methods of probe-cli, in its order: name -> request line.
METHODS: Final[dict[str, Callable[[random.Random], str]]] = {
    "random_invalid_method": lambda r: _letters(r, 4) + " / HTTP/1.1\n\r",
    "random_invalid_field_count": lambda r: (
        " ".join(_letters(r, 5) for _ in range(4)) + "\r\n"
    ),
    "random_big_request_method": lambda r: _letters(r, 1024) + " / HTTP/1.1\r\n",
    "random_invalid_version_number": lambda r: "GET / HTTP/" + _letters(r, 3) + "\r\n",
    "squid_cache_manager": lambda r: "GET cache_object://localhost/ HTTP/1.0\n\r",
}


async def _read_until_quiet(conn: TCPConn, read_timeout: float) -> bytes:
    """Everything received until the read timeout (expected) or the end."""
    received = b""
    try:
        async with asyncio.timeout(read_timeout):
            while data := await conn.read():
                received += data
    except TimeoutError:
        return received
    return received


async def run_method(
    trace: Trace,
    address: str,
    port: int,
    request_line: str,
    timeouts: tuple[float, float],
) -> dict[str, Any]:
    """Send one request line; ``{failure, sent, received, tampering}``.

    A read timeout is the normal end and is not a failure; an EOF before it
    is (``eof_error``), as in probe-cli.
    """
    connect_timeout, read_timeout = timeouts
    connected = await tcp_connect(trace, address, port, timeout=connect_timeout)
    if connected.conn is None:
        # As probe-cli: nothing was sent, so nothing counts as tampering.
        return {
            "failure": connected.failure,
            "sent": "",
            "received": "",
            "tampering": False,
        }
    conn = connected.conn
    received, failure = b"", None
    try:
        await conn.write(request_line.encode("latin-1"))
    except OSError as error:
        conn.close()
        return {
            "failure": classify(error),
            "sent": "",
            "received": "",
            "tampering": False,
        }
    try:
        received = await _read_until_quiet(conn, read_timeout)
    except OSError as error:
        failure = classify(error)
    finally:
        conn.close()
    if failure is None and _ended_early(trace, conn):
        failure = "eof_error"
    tampered = request_line.encode("latin-1") != received
    return {
        "failure": failure,
        "sent": request_line,
        "received": encode_maybe_binary(received),
        "tampering": tampered,
    }


def _ended_early(trace: Trace, conn: TCPConn) -> bool:
    """Did the peer close (a read recorded eof_error) before the timeout?"""
    return any(
        e["operation"] == "read"
        and e["transaction_id"] == conn.transaction_id
        and e["failure"] == "eof_error"
        for e in trace.network_events
    )


class HTTPInvalidRequestLine(NetTest):
    """Does a middlebox react to malformed HTTP request lines?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.2.1"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Run the five methods in parallel against the echo helper."""
        address = str(context.endpoint(NAME, "address", ADDRESS))
        port = int(context.endpoint(NAME, "port", PORT))
        timeouts = (
            context.timeout,
            float(context.endpoint(NAME, "read_timeout", READ_TIMEOUT)),
        )
        rng = random.Random()
        trace = Trace()
        results = await asyncio.gather(
            *(
                run_method(trace, address, port, make(rng), timeouts)
                for make in METHODS.values()
            )
        )
        keys = {
            "failure_list": [r["failure"] for r in results],
            "received": [r["received"] for r in results],
            "sent": [r["sent"] for r in results],
            "tampering_list": [r["tampering"] for r in results],
            "tampering": any(r["tampering"] for r in results),
        }
        return TestResult(keys, {"backend": address}, {})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when any method saw tampering."""
        tampered = test_keys.get("tampering") is True
        return Summary(anomaly=tampered, detail={"tampering": tampered})
