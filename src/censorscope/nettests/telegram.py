"""Telegram (ts-020, test_version 0.3.1).

Cleartext HTTP ``POST`` to each data-center address on ports 80 and 443 (no
DNS), and an HTTPS GET of ``web.telegram.org``.  TCP blocking is cleared by
any POST that got past the connect; HTTP blocking by any POST that got a
response.

Configuration (``context.endpoints["telegram"]``): ``datacenters`` (IPs),
``ports``, ``web_url``, ``resolver``, ``addresses``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.nettests.common import (
    EXTENSIONS,
    Outcome,
    Target,
    get_many,
    network_for,
    urlgetter_keys,
)
from censorscope.netx import Trace, join_host_port

NAME: Final = "telegram"
DATACENTERS: Final = (
    "149.154.175.50",
    "149.154.167.51",
    "149.154.175.100",
    "149.154.167.91",
    "149.154.171.5",
    "95.161.76.100",
)
PORTS: Final = (80, 443)
WEB_URL: Final = "https://web.telegram.org/"


def datacenter_url(ip: str, port: int) -> str:
    """``http://IP/`` for port 80, ``http://IP:PORT/`` otherwise."""
    if port == 80:
        return f"http://[{ip}]/" if ":" in ip else f"http://{ip}/"
    return f"http://{join_host_port(ip, port)}/"


def blocking_keys(outcomes: list[Outcome]) -> dict[str, bool]:
    """``telegram_tcp_blocking`` and ``telegram_http_blocking`` from the POSTs."""
    past_connect = any(
        o.failed_operation not in ("connect", "resolve") for o in outcomes
    )
    responded = any(o.failure is None for o in outcomes)
    return {
        "telegram_tcp_blocking": not past_connect,
        "telegram_http_blocking": not responded,
    }


class Telegram(NetTest):
    """Can the probe reach Telegram's data centers and web client?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.3.1"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure every data center and the web client (input is ignored)."""
        datacenters = context.endpoint(NAME, "datacenters", DATACENTERS)
        ports = context.endpoint(NAME, "ports", PORTS)
        posts = [
            Target(datacenter_url(ip, port), "POST")
            for ip in datacenters
            for port in ports
        ]
        web = Target(context.endpoint(NAME, "web_url", WEB_URL))
        trace = Trace()
        outcomes = await get_many(
            context, trace, network_for(context, NAME), [*posts, web]
        )
        keys = urlgetter_keys(trace)
        keys.update(blocking_keys(outcomes[:-1]))
        web_failure = outcomes[-1].failure
        keys["telegram_web_status"] = "ok" if web_failure is None else "blocked"
        keys["telegram_web_failure"] = web_failure
        return TestResult(keys, {}, dict(EXTENSIONS))

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when TCP, HTTP or the web client is blocked."""
        detail = {
            "telegram_tcp_blocking": test_keys.get("telegram_tcp_blocking") is True,
            "telegram_http_blocking": test_keys.get("telegram_http_blocking") is True,
            "telegram_web_blocking": test_keys.get("telegram_web_status") != "ok",
        }
        return Summary(anomaly=any(detail.values()), detail=detail)
