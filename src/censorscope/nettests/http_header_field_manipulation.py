"""HTTP Header Field Manipulation (ts-006, test_version 0.2.0).

Send a request with oddly capitalised method and header names to a helper
that echoes the request line and headers as JSON; any difference between
what was sent and what arrived means a middlebox rewrote the request.  The
request is written byte for byte on our own connection, so nothing
normalises it on the way out.

Configuration (``context.endpoints["http_header_field_manipulation"]``):
``backend`` (the echo helper's ``http://IP:PORT``).
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import h11
import orjson

from censorscope.measurement import failures
from censorscope.measurement.binary import encode_maybe_binary
from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.netx import Trace, classify, tcp_connect
from censorscope.netx.http import USER_AGENT, headers_list, headers_map
from censorscope.netx.tcp import Conn

NAME: Final = "http_header_field_manipulation"
BACKEND: Final = "http://37.218.241.94:80"
MAX_REPLY: Final = 1 << 20


def change_capitalization(text: str, rng: random.Random) -> str:
    """``text`` with each letter's case chosen at random."""
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def request_headers(rng: random.Random) -> dict[str, str]:
    """The headers to send, with randomly capitalised names."""
    host = "".join(rng.choice(string.ascii_letters) for _ in range(15)) + ".com"
    values = {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Charset": "ISO-8859-1,utf-8;q=0.7,*;q=0.3",
        "Accept-Encoding": "gzip,deflate,sdch",
        "Accept-Language": "en-US,en;q=0.9",
        "Host": host,
        "User-Agent": USER_AGENT,
    }
    return {change_capitalization(k, rng): v for k, v in values.items()}


def no_tampering() -> dict[str, Any]:
    """The tampering object with nothing detected."""
    return {
        "header_field_name": False,
        "header_field_number": False,
        "header_field_value": False,
        "header_name_capitalization": False,
        "header_name_diff": [],
        "request_line_capitalization": False,
        "total": False,
    }


def tampering(
    method: str, headers: Mapping[str, str], echoed: Mapping[str, Any]
) -> dict[str, Any]:
    """Compare what was sent with what the helper saw (probe-cli FillTampering)."""
    received = echoed.get("headers_dict")
    if not isinstance(received, Mapping):
        received = {}
    expected_keys = {k.lower(): k for k in headers}
    received_keys = {str(k).lower(): str(k) for k in received}
    result = no_tampering()
    result["header_field_number"] = len(headers) != len(received)
    request_line = f"{method} / HTTP/1.1"
    result["request_line_capitalization"] = request_line != echoed.get("request_line")
    for key in sorted(expected_keys.keys() & received_keys.keys()):
        sent, got = expected_keys[key], received_keys[key]
        if sent != got:
            result["header_name_capitalization"] = True
            result["header_name_diff"].extend([sent, got])
        values = received[got]
        if not isinstance(values, list) or values != [headers[sent]]:
            result["header_field_value"] = True
    return result


def _raw_request(method: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} / HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(conn: Conn) -> tuple[int, list[tuple[str, str]], bytes]:
    machine = h11.Connection(h11.CLIENT)
    # The request went out raw; tell h11 a GET was sent (the bytes it would
    # produce are discarded) so that it parses the response that follows.
    machine.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    machine.send(h11.EndOfMessage())
    status, headers, body = 0, [], bytearray()
    while True:
        event = machine.next_event()
        if event is h11.NEED_DATA:
            machine.receive_data(await conn.read())
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in event.headers.raw_items()
            ]
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_REPLY:
                raise h11.RemoteProtocolError("reply too large")
        else:
            return status, headers, bytes(body)


class HTTPHeaderFieldManipulation(NetTest):
    """Does a middlebox rewrite HTTP request headers?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.2.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Send one request to the header-echo helper and compare."""
        backend = str(context.endpoint(NAME, "backend", BACKEND))
        rng = random.Random()
        method = change_capitalization("GET", rng)
        headers = request_headers(rng)
        trace = Trace()
        entry: dict[str, Any] = {
            "failure": None,
            "request": {
                "body": "",
                "headers": headers_map(list(headers.items())),
                "headers_list": headers_list(list(headers.items())),
                "method": method,
                "tor": {"exit_ip": None, "exit_name": None, "is_tor": False},
                "url": backend,
            },
            "response": None,
        }
        keys: dict[str, Any] = {
            "agent": "agent",
            "failure": None,
            "requests": [entry],
            "socksproxy": None,
        }
        failure, echoed = await _exchange(
            context, trace, backend, method=method, headers=headers, entry=entry
        )
        if failure is None and isinstance(echoed, Mapping):
            keys["tampering"] = tampering(method, headers, echoed)
        else:
            # As probe-cli: a failed exchange is counted as tampering.
            keys["failure"] = entry["failure"] = failure or failures.JSON_PARSE_ERROR
            keys["tampering"] = {**no_tampering(), "total": True}
        return TestResult(keys, {"backend": backend}, {"httpt": 0})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when any form of tampering was seen."""
        found = test_keys.get("tampering") or {}
        anomaly = any(v is True for v in found.values())
        return Summary(anomaly=anomaly, detail={"tampering": found})


async def _exchange(
    context: TestContext,
    trace: Trace,
    backend: str,
    *,
    method: str,
    headers: Mapping[str, str],
    entry: dict[str, Any],
) -> tuple[str | None, Any]:
    """Send the raw request; ``(failure, echoed JSON)``."""
    parts = urlsplit(backend)
    connected = await tcp_connect(
        trace, parts.hostname or "", parts.port or 80, timeout=context.timeout
    )
    if connected.conn is None:
        return connected.failure, None
    conn = connected.conn
    try:
        async with asyncio.timeout(context.timeout):
            await conn.write(_raw_request(method, headers))
            status, reply_headers, body = await _read_response(conn)
    except (OSError, h11.ProtocolError) as error:
        return classify(error), None
    finally:
        conn.close()
    entry["response"] = {
        "body": encode_maybe_binary(body),
        "code": status,
        "headers": headers_map(reply_headers),
        "headers_list": headers_list(reply_headers),
    }
    if status != 200:
        return failures.HTTP_REQUEST_FAILED, None
    try:
        return None, orjson.loads(body)
    except orjson.JSONDecodeError:
        return failures.JSON_PARSE_ERROR, None
