"""Small but real network tests used to exercise the runner.

They follow the NetTest contract of ``censorscope.nettests.base`` and touch
only local servers.  They are importable as ``tests.probe.local_nettests:Name``
targets of ``censorscope run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from censorscope.measurement import failures
from censorscope.measurement.binary import encode_maybe_binary
from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)


def classify(error: BaseException) -> str:
    """A tiny failure classifier (the real one lives in netx)."""
    if isinstance(error, ConnectionRefusedError):
        return failures.CONNECTION_REFUSED
    if isinstance(error, ConnectionResetError):
        return failures.CONNECTION_RESET
    if isinstance(error, TimeoutError):
        return failures.GENERIC_TIMEOUT_ERROR
    return failures.unknown(str(error))


async def tcp_connect(host: str, port: int, timeout: float) -> str | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return classify(error)
    writer.close()
    await writer.wait_closed()
    return None


class TcpConnectTest(NetTest):
    """Connects to ``tcp://host:port``; anomaly when the connect fails."""

    name: ClassVar[str] = "tcp_connect_probe"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        parts = urlsplit(input or "")
        host, port = parts.hostname or "", parts.port or 0
        failure = await tcp_connect(host, port, context.timeout)
        entry = {
            "ip": host,
            "port": port,
            "status": {"success": failure is None, "failure": failure, "blocked": None},
        }
        return TestResult(test_keys={"tcp_connect": [entry], "failure": failure})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        failure = test_keys.get("failure")
        return Summary(anomaly=failure is not None, detail={"failure": failure})


async def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """HTTP/1.0 GET over plain TCP; returns (status, body)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or 80), timeout
    )
    request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
    writer.write(request.encode())
    raw = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


class HttpBodyTest(NetTest):
    """Fetches a URL and keeps the body (as text or base64, like httpt)."""

    name: ClassVar[str] = "http_body_probe"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        url = input or ""
        try:
            status, body = await http_get(url, context.timeout)
        except (OSError, TimeoutError) as error:
            return TestResult(test_keys={"requests": [], "failure": classify(error)})
        response = {"code": status, "body": encode_maybe_binary(body)}
        transaction = {"request": {"url": url}, "response": response, "failure": None}
        helpers = {"backend": {"address": context.test_helpers[0], "type": "https"}}
        return TestResult(
            test_keys={"requests": [transaction], "failure": None},
            test_helpers=helpers,
            extensions={"httpt": 0},
        )

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        requests = test_keys.get("requests") or []
        ok = bool(requests) and requests[0]["response"]["code"] == 200
        return Summary(anomaly=not ok, detail={"failure": test_keys.get("failure")})


class EndpointTest(NetTest):
    """A no-input test whose target comes from ``--endpoints`` (like IM tests)."""

    name: ClassVar[str] = "endpoint_probe"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        host = context.endpoint(self.name, "host", "127.0.0.1")
        port = int(context.endpoint(self.name, "port", 9))
        failure = await tcp_connect(host, port, context.timeout)
        lookup = context.asn_lookup
        keys = {
            "resolver": context.resolver,
            "neighbour_asn": list(lookup("203.0.113.9")) if lookup else None,
            "host": host,
            "port": port,
            "failure": failure,
            "options": dict(context.options),
        }
        return TestResult(test_keys=keys)

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        return Summary(anomaly=test_keys.get("failure") is not None)


class InputRecorderTest(NetTest):
    """Measures nothing: records its input (checks planning from test lists)."""

    name: ClassVar[str] = "input_recorder"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        return TestResult(test_keys={"seen": input})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        return Summary(anomaly=False)


class SlowTest(NetTest):
    """Sleeps ``?delay=`` seconds per input; tracks how many run at once."""

    name: ClassVar[str] = "slow_probe"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED
    in_flight: ClassVar[int] = 0
    most_in_flight: ClassVar[int] = 0

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        delay = float(context.options.get("delay", "0.05"))
        cls = type(self)
        cls.in_flight += 1
        cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        try:
            await asyncio.sleep(delay)
        finally:
            cls.in_flight -= 1
        return TestResult(test_keys={"input": input, "slept": delay})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        return Summary(anomaly="anomaly" in str(test_keys.get("input")))


class CrashingTest(NetTest):
    """Raises for inputs containing ``crash`` (a buggy test)."""

    name: ClassVar[str] = "crashing_probe"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        if "crash" in (input or ""):
            raise RuntimeError("bug in the test")
        return TestResult(test_keys={"input": input})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        return Summary(anomaly=False)
