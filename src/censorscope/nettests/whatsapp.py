"""WhatsApp (ts-018, test_version 0.11.0).

TCP connects to ``e1..e16.whatsapp.net`` on 443 and 5222, an HTTPS GET of the
registration service and of ``web.whatsapp.com``.  HTTP status codes are
ignored: only DNS, TCP, TLS and I/O failures count.

Configuration (``context.endpoints["whatsapp"]``): ``endpoint_hosts`` (list
of hostnames), ``endpoint_ports``, ``registration_url``, ``web_url``,
``resolver``, ``addresses`` (host -> IPs), ``parallelism``.
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
    PARALLELISM,
    Outcome,
    Target,
    get_many,
    network_for,
    urlgetter_keys,
)
from censorscope.netx import Trace, join_host_port

NAME: Final = "whatsapp"
ENDPOINT_HOSTS: Final = tuple(f"e{n}.whatsapp.net" for n in range(1, 17))
ENDPOINT_PORTS: Final = (443, 5222)
REGISTRATION_URL: Final = "https://v.whatsapp.net/v2/register"
WEB_URL: Final = "https://web.whatsapp.com/"


def _status(outcome: Outcome) -> tuple[str, str | None]:
    return ("ok", None) if outcome.failure is None else ("blocked", outcome.failure)


def endpoint_keys(outcomes: list[Outcome]) -> dict[str, Any]:
    """``whatsapp_endpoints_*``: a host is blocked when every port failed."""
    failed_ports: dict[str, int] = {}
    tried_ports: dict[str, int] = {}
    for outcome in outcomes:
        host = outcome.target.url.removeprefix("tcpconnect://").rsplit(":", 1)[0]
        tried_ports[host] = tried_ports.get(host, 0) + 1
        if outcome.failure is not None:
            failed_ports[host] = failed_ports.get(host, 0) + 1
    blocked = [h for h, n in failed_ports.items() if n == tried_ports[h]]
    any_ok = any(o.failure is None for o in outcomes)
    return {
        "whatsapp_endpoints_blocked": sorted(blocked),
        "whatsapp_endpoints_dns_inconsistent": [],
        "whatsapp_endpoints_status": "ok" if any_ok else "blocked",
    }


class WhatsApp(NetTest):
    """Can the probe reach WhatsApp's endpoints, registration and web client?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.11.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure all targets (input is ignored)."""
        hosts = context.endpoint(NAME, "endpoint_hosts", ENDPOINT_HOSTS)
        ports = context.endpoint(NAME, "endpoint_ports", ENDPOINT_PORTS)
        endpoints = [
            Target(f"tcpconnect://{join_host_port(h, p)}") for h in hosts for p in ports
        ]
        registration = Target(
            context.endpoint(NAME, "registration_url", REGISTRATION_URL)
        )
        web = Target(context.endpoint(NAME, "web_url", WEB_URL))

        trace = Trace()
        outcomes = await get_many(
            context,
            trace,
            network_for(context, NAME),
            [*endpoints, registration, web],
            parallelism=int(context.endpoint(NAME, "parallelism", PARALLELISM)),
        )
        keys = urlgetter_keys(trace)
        keys.update(endpoint_keys(outcomes[: len(endpoints)]))
        status, failure = _status(outcomes[-2])
        keys.update(
            registration_server_status=status, registration_server_failure=failure
        )
        status, failure = _status(outcomes[-1])
        keys.update(whatsapp_web_status=status, whatsapp_web_failure=failure)
        return TestResult(keys, {}, dict(EXTENSIONS))

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when any of the three services is blocked."""
        detail = {
            "registration_server_blocking": _blocked(test_keys, "registration_server"),
            "whatsapp_web_blocking": _blocked(test_keys, "whatsapp_web"),
            "whatsapp_endpoints_blocking": _blocked(test_keys, "whatsapp_endpoints"),
        }
        return Summary(anomaly=any(detail.values()), detail=detail)


def _blocked(test_keys: Mapping[str, Any], prefix: str) -> bool:
    return test_keys.get(f"{prefix}_status") != "ok"
