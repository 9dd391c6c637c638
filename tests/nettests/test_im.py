"""The instant-messaging tests against services on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from censorscope.measurement import failures
from censorscope.nettests.base import TestContext
from censorscope.nettests.facebook_messenger import FacebookMessenger
from censorscope.nettests.signal import Signal
from censorscope.nettests.telegram import Telegram
from censorscope.nettests.whatsapp import WhatsApp
from tests.nettests.support import loads_back
from tests.netx.localnet import (
    DNSServer,
    LocalCA,
    RawServer,
    free_port,
    server_context,
    start_web,
    static_handler,
)

UP = "127.0.0.1"
RESET = "127.0.0.3"
DOWN = "127.0.0.8"
HOSTS = [UP, RESET, DOWN]

ZONE = {
    "e1.wa.test": [UP],
    "e2.wa.test": [DOWN],
    "v.wa.test": [UP],
    "web.wa.test": [RESET],
    "api.fb.test": [UP],
    "edge.fb.test": [DOWN],
    "stun.fb.test": [UP],
    "cdn.fb.test": ["127.0.0.9"],
    "chat.signal.test": [UP],
    "storage.signal.test": [RESET],
    "uptime.signal.test": [UP],
    "web.tg.test": [UP],
}


@dataclass
class Services:
    """An HTTP and an HTTPS port served on UP, resets on RESET, a DNS server."""

    http_port: int
    https_port: int
    dns: DNSServer
    ca_bundle: str
    closers: list[Any] = field(default_factory=list)

    def context(self, endpoints: dict[str, Any], **kwargs: Any) -> TestContext:
        return TestContext(
            ca_bundle=self.ca_bundle,
            timeout=0.5,
            resolver=self.dns.address,
            endpoints=endpoints,
            **kwargs,
        )


@pytest.fixture
async def services(ca: LocalCA) -> AsyncIterator[Services]:
    http_port, https_port = free_port(HOSTS), free_port(HOSTS)
    dns = await DNSServer(ZONE).start()
    names = [n for n in ZONE if not n.startswith("e")]
    tls = server_context(*ca.issue("im", names))
    page = static_handler(b"<html><title>ok</title></html>", [])
    found = Services(http_port, https_port, dns, str(ca.cert_path))
    for port, context in ((http_port, None), (https_port, tls)):
        web = await start_web(UP, port, page, context)
        reset = await RawServer("reset").start(RESET, port)
        found.closers += [web.close, reset.close]
    yield found
    for close in found.closers:
        await close()
    await dns.close()


def _whatsapp(s: Services, hosts: list[str]) -> dict[str, Any]:
    return {
        "endpoint_hosts": hosts,
        "endpoint_ports": [s.http_port, s.https_port],
        "registration_url": f"https://v.wa.test:{s.https_port}/v2/register",
        "web_url": f"https://web.wa.test:{s.https_port}/",
    }


async def test_whatsapp_reports_each_service(services: Services) -> None:
    endpoints = {"whatsapp": _whatsapp(services, ["e1.wa.test", "e2.wa.test"])}
    test = WhatsApp()
    result = await test.run(services.context(endpoints), None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert keys["whatsapp_endpoints_status"] == "ok"
    assert keys["whatsapp_endpoints_blocked"] == ["e2.wa.test"]
    assert keys["whatsapp_endpoints_dns_inconsistent"] == []
    assert keys["registration_server_status"] == "ok"
    assert keys["registration_server_failure"] is None
    assert keys["whatsapp_web_status"] == "blocked"
    assert keys["whatsapp_web_failure"] == failures.CONNECTION_RESET
    assert len(keys["tcp_connect"]) >= 4
    assert test.summarize(keys).anomaly


async def test_whatsapp_endpoints_are_blocked_when_none_connects(
    services: Services,
) -> None:
    endpoints = {"whatsapp": _whatsapp(services, ["e2.wa.test", "missing.wa.test"])}
    result = await WhatsApp().run(services.context(endpoints), None)
    keys = result.test_keys
    assert keys["whatsapp_endpoints_status"] == "blocked"
    assert keys["whatsapp_endpoints_blocked"] == ["e2.wa.test", "missing.wa.test"]


def facebook_as(ip: str) -> tuple[int, str]:
    return (32934, "FACEBOOK") if ip in (UP, DOWN) else (64512, "ELSEWHERE")


async def test_facebook_messenger_checks_dns_and_tcp(services: Services) -> None:
    endpoints = {
        "facebook_messenger": {
            "services": {
                "stun": "stun.fb.test",
                "b_api": "api.fb.test",
                "edge": "edge.fb.test",
                "external_cdn": "cdn.fb.test",
                "star": "missing.fb.test",
            },
            "port": services.http_port,
        }
    }
    test = FacebookMessenger()
    context = services.context(endpoints, asn_lookup=facebook_as)
    result = await test.run(context, None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert keys["facebook_stun_dns_consistent"] is True
    assert keys["facebook_stun_reachable"] is None
    assert keys["facebook_b_api_dns_consistent"] is True
    assert keys["facebook_b_api_reachable"] is True
    assert keys["facebook_edge_dns_consistent"] is True
    assert keys["facebook_edge_reachable"] is False
    assert keys["facebook_external_cdn_dns_consistent"] is False
    assert keys["facebook_external_cdn_reachable"] is None
    assert keys["facebook_star_dns_consistent"] is False
    assert keys["facebook_dns_blocking"] is True
    assert keys["facebook_tcp_blocking"] is True
    answers = [a for q in keys["queries"] for a in q["answers"] or []]
    assert {a["asn"] for a in answers} == {32934, 64512}


async def test_telegram_sees_datacenters_and_web(services: Services) -> None:
    endpoints = {
        "telegram": {
            "datacenters": [UP, DOWN],
            "ports": [services.http_port],
            "web_url": f"https://web.tg.test:{services.https_port}/",
        }
    }
    test = Telegram()
    result = await test.run(services.context(endpoints), None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert keys["telegram_tcp_blocking"] is False
    assert keys["telegram_http_blocking"] is False
    assert keys["telegram_web_status"] == "ok"
    posts = [r for r in keys["requests"] if r["request"]["method"] == "POST"]
    assert len(posts) == 2
    assert not test.summarize(keys).anomaly


async def test_telegram_blocking_when_no_datacenter_answers(services: Services) -> None:
    endpoints = {
        "telegram": {
            "datacenters": [DOWN],
            "ports": [services.http_port],
            "web_url": f"https://web.tg.test:{services.https_port}/",
        }
    }
    keys = (await Telegram().run(services.context(endpoints), None)).test_keys
    assert keys["telegram_tcp_blocking"] is True
    assert keys["telegram_http_blocking"] is True


@pytest.mark.parametrize(
    ("hosts", "status", "failure"),
    [
        (["chat.signal.test"], "ok", None),
        (
            ["chat.signal.test", "storage.signal.test"],
            "blocked",
            failures.CONNECTION_RESET,
        ),
    ],
)
async def test_signal_backend_status(
    services: Services, hosts: list[str], status: str, failure: str | None
) -> None:
    endpoints = {
        "signal": {
            "urls": [f"https://{h}:{services.https_port}/" for h in hosts],
            "uptime_host": "uptime.signal.test",
        }
    }
    test = Signal()
    result = await test.run(services.context(endpoints), None)
    loads_back(test, result, None)
    keys = result.test_keys
    assert (keys["signal_backend_status"], keys["signal_backend_failure"]) == (
        status,
        failure,
    )
    assert any(q["hostname"] == "uptime.signal.test" for q in keys["queries"])
