"""web_connectivity against a censored loopback network, with a real test helper.

The site ``site.test`` is served on 127.0.0.1.  The test helper resolves it
with a clean DNS server; the probe uses a "censored" DNS server that sends it
elsewhere on 127.0.0.0/8, where servers refuse, reset, stall, present bad
certificates or serve a blockpage.  When ``same_network`` is set the probe is
given an ASN lookup that puts all of 127/8 in one AS, so DNS counts as
consistent and the interference is attributed to TCP/IP or HTTP instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from censorscope.helper.control import ControlConfig
from censorscope.helper.servers import start_control_server
from censorscope.measurement import failures
from censorscope.nettests.base import TestContext
from censorscope.nettests.common import InputError
from censorscope.nettests.web_connectivity import WebConnectivity
from censorscope.nettests.web_connectivity_analysis import analyze
from censorscope.netx import UDPResolver
from tests.nettests.support import loads_back
from tests.netx.localnet import (
    BLOCKPAGE,
    PAGE,
    PAGE_HEADERS,
    DNSServer,
    FullBacklog,
    LocalCA,
    RawServer,
    free_port,
    server_context,
    start_web,
    static_handler,
)

REAL = "127.0.0.1"
BLOCKPAGE_IP = "127.0.0.2"
RESET_IP = "127.0.0.3"
SILENT_IP = "127.0.0.4"
UNTRUSTED_IP = "127.0.0.5"
WRONG_HOST_IP = "127.0.0.6"
EXPIRED_IP = "127.0.0.7"
REFUSED_IP = "127.0.0.8"
BACKLOG_IP = "127.0.0.9"
ALL_IPS = [f"127.0.0.{n}" for n in range(1, 10)]


def loopback_as(ip: str) -> tuple[int, str]:
    return (64512, "Loopback Networks") if ip.startswith("127.") else (0, "")


@dataclass
class LoopbackInternet:
    """Servers for every condition, plus the clean resolver and the helper."""

    http_port: int
    https_port: int
    helper_url: str = ""
    ca_bundle: str = ""
    closers: list[Any] = field(default_factory=list)

    def url(self, scheme: str) -> str:
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://site.test:{port}/"


async def _start_sites(net: LoopbackInternet, ca: LocalCA) -> None:
    page = static_handler(PAGE, PAGE_HEADERS)
    good = server_context(*ca.issue("site", ["site.test"]))
    other = LocalCA.create(ca.directory, "rogue CA")
    sites = [
        (REAL, net.http_port, page, None),
        (REAL, net.https_port, page, good),
        (
            UNTRUSTED_IP,
            net.https_port,
            page,
            server_context(*other.issue("rogue", ["site.test"])),
        ),
        (
            WRONG_HOST_IP,
            net.https_port,
            page,
            server_context(*ca.issue("wrong", ["elsewhere.test"])),
        ),
        (
            EXPIRED_IP,
            net.https_port,
            page,
            server_context(*ca.issue("expired", ["site.test"], expired=True)),
        ),
    ]
    for host, port, handler, tls in sites:
        server = await start_web(host, port, handler, tls)
        net.closers.append(server.close)


async def _start_misbehaving(net: LoopbackInternet) -> None:
    for host, behaviour in (
        (RESET_IP, "reset"),
        (SILENT_IP, "silent"),
        (BLOCKPAGE_IP, "blockpage"),
    ):
        for port in (net.http_port, net.https_port):
            server = await RawServer(behaviour).start(host, port)
            net.closers.append(server.close)
    for port in (net.http_port, net.https_port):
        backlog = FullBacklog(BACKLOG_IP, port)
        net.closers.append(_async(backlog.close))


def _async(function: Any) -> Any:
    async def run() -> None:
        function()

    return run


@pytest.fixture
async def internet(ca: LocalCA) -> AsyncIterator[LoopbackInternet]:
    net = LoopbackInternet(free_port(ALL_IPS), free_port(ALL_IPS))
    net.ca_bundle = str(ca.cert_path)
    await _start_sites(net, ca)
    await _start_misbehaving(net)
    clean = await DNSServer({"site.test": [REAL]}).start()
    net.closers.append(clean.close)
    config = ControlConfig(
        UDPResolver(clean.address),
        ca_bundle=net.ca_bundle,
        dns_timeout=1,
        connect_timeout=0.5,
        http_timeout=1,
        allow_private=True,
    )
    helper = await start_control_server(config, REAL, 0)
    net.closers.append(helper.close)
    net.helper_url = f"http://{REAL}:{helper.port}/"
    yield net
    for close in reversed(net.closers):
        await close()


@contextlib.asynccontextmanager
async def censored_dns(zone: dict[str, Any]) -> AsyncIterator[DNSServer]:
    server = await DNSServer(zone).start()
    try:
        yield server
    finally:
        await server.close()


def _context(
    net: LoopbackInternet,
    resolver: str,
    *,
    same_network: bool,
    helpers: tuple[str, ...] | None = None,
) -> TestContext:
    return TestContext(
        test_helpers=helpers or (net.helper_url,),
        ca_bundle=net.ca_bundle,
        timeout=0.5,
        endpoints={"web_connectivity": {"resolver": resolver, "control_timeout": 5}},
        asn_lookup=loopback_as if same_network else None,
    )


async def _measure(
    net: LoopbackInternet,
    scheme: str,
    answer: Any,
    *,
    same_network: bool = True,
    helpers: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    zone = {"site.test": answer} if answer is not None else {}
    async with censored_dns(zone) as dns:
        context = _context(net, dns.address, same_network=same_network, helpers=helpers)
        result = await WebConnectivity().run(context, net.url(scheme))
    loads_back(WebConnectivity(), result, net.url(scheme))
    return result.test_keys


@dataclass(frozen=True)
class Case:
    """One condition: what the probe's DNS says and the verdict expected."""

    scheme: str
    answer: list[str] | None
    same_network: bool
    blocking: str | bool | None
    accessible: bool | None
    failure: str | None = None


CASES = {
    "http_success": Case("http", [REAL], True, False, True),
    "https_success": Case("https", [REAL], True, False, True),
    "blockpage_same_network": Case("http", [BLOCKPAGE_IP], True, "http-diff", False),
    "blockpage_elsewhere": Case("http", [BLOCKPAGE_IP], False, "dns", False),
    "refused_same_network": Case("http", [REFUSED_IP], True, "tcp_ip", False),
    "refused_elsewhere": Case("http", [REFUSED_IP], False, "dns", False),
    "connect_timeout": Case("https", [BACKLOG_IP], True, "tcp_ip", False),
    "http_reset": Case(
        "http", [RESET_IP], True, "http-failure", False, failures.CONNECTION_RESET
    ),
    "tls_reset": Case(
        "https", [RESET_IP], True, "http-failure", False, failures.CONNECTION_RESET
    ),
    "http_timeout": Case(
        "http", [SILENT_IP], True, "http-failure", False, failures.GENERIC_TIMEOUT_ERROR
    ),
    "unknown_authority": Case(
        "https",
        [UNTRUSTED_IP],
        True,
        "http-failure",
        False,
        failures.SSL_UNKNOWN_AUTHORITY,
    ),
    "wrong_host": Case(
        "https",
        [WRONG_HOST_IP],
        True,
        "http-failure",
        False,
        failures.SSL_INVALID_HOSTNAME,
    ),
    "expired": Case(
        "https",
        [EXPIRED_IP],
        True,
        "http-failure",
        False,
        failures.SSL_INVALID_CERTIFICATE,
    ),
    "nxdomain": Case("http", None, True, "dns", False, failures.DNS_NXDOMAIN_ERROR),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_each_condition_gets_its_blocking_and_accessible(
    internet: LoopbackInternet, case: Case
) -> None:
    keys = await _measure(
        internet, case.scheme, case.answer, same_network=case.same_network
    )
    assert keys["control_failure"] is None
    assert (keys["blocking"], keys["accessible"]) == (case.blocking, case.accessible)
    if case.failure == failures.DNS_NXDOMAIN_ERROR:
        assert keys["dns_experiment_failure"] == case.failure
        assert keys["requests"] == []
    elif case.failure is not None:
        assert keys["http_experiment_failure"] == case.failure
    lookup = loopback_as if case.same_network else None
    derived = analyze(keys, internet.url(case.scheme), lookup)
    assert {k: keys[k] for k in derived} == derived


async def test_a_blockpage_is_compared_key_by_key(internet: LoopbackInternet) -> None:
    keys = await _measure(internet, "http", [BLOCKPAGE_IP])
    assert keys["dns_consistency"] == "consistent"
    assert keys["status_code_match"] is True
    assert keys["body_length_match"] is False
    assert keys["body_proportion"] == pytest.approx(len(BLOCKPAGE) / len(PAGE))
    assert keys["headers_match"] is False
    assert keys["title_match"] is False
    assert keys["control"]["http_request"]["title"].startswith("Example Domain")
    assert keys["x_status"] == 64


async def test_a_site_that_does_not_exist_anywhere_is_not_blocking(
    internet: LoopbackInternet,
) -> None:
    missing = "http://gone.test/"
    async with censored_dns({}) as dns:
        context = _context(internet, dns.address, same_network=True)
        keys = (await WebConnectivity().run(context, missing)).test_keys
    assert keys["control"]["dns"]["failure"] == "dns_name_error"
    assert keys["dns_consistency"] == "consistent"
    assert (keys["blocking"], keys["accessible"]) == (False, True)


async def test_an_unreachable_helper_leaves_the_verdict_open(
    internet: LoopbackInternet,
) -> None:
    keys = await _measure(
        internet, "http", [REAL], helpers=(f"http://{REFUSED_IP}:9/",)
    )
    assert keys["control_failure"] == failures.CONNECTION_REFUSED
    assert keys["dns_consistency"] is None
    assert (keys["blocking"], keys["accessible"]) == (None, None)


async def test_https_success_needs_no_helper(internet: LoopbackInternet) -> None:
    keys = await _measure(
        internet, "https", [REAL], helpers=(f"http://{REFUSED_IP}:9/",)
    )
    assert (keys["blocking"], keys["accessible"]) == (False, True)


async def test_the_next_helper_is_tried_when_one_fails(
    internet: LoopbackInternet,
) -> None:
    helpers = (f"http://{REFUSED_IP}:9/", internet.helper_url)
    async with censored_dns({"site.test": [REAL]}) as dns:
        context = _context(internet, dns.address, same_network=True, helpers=helpers)
        result = await WebConnectivity().run(context, internet.url("http"))
    assert result.test_keys["control_failure"] is None
    assert result.test_helpers == {
        "backend": {"address": internet.helper_url, "type": "http"}
    }


async def test_keys_record_every_step_in_ooni_shape(internet: LoopbackInternet) -> None:
    keys = await _measure(internet, "https", [REAL])
    assert keys["queries"][0]["engine"] == "udp"
    assert keys["queries"][0]["answers"][0]["asn"] == 64512
    connect = keys["tcp_connect"][0]
    assert connect["tags"] == ["tcptls_experiment"]
    assert connect["status"] == {"failure": None, "success": True, "blocked": False}
    assert keys["tls_handshakes"][0]["server_name"] == "site.test"
    assert keys["requests"][0]["response"]["code"] == 200
    assert keys["x_status"] == 1
    assert {
        "x_dns_runtime",
        "x_th_runtime",
        "x_tcptls_runtime",
        "x_http_runtime",
    } <= set(keys)


async def test_requests_are_in_reverse_time_order(
    internet: LoopbackInternet, ca: LocalCA
) -> None:
    async def redirect(request: Any) -> Any:
        from censorscope.helper.http_server import OutgoingResponse

        target = f"http://site.test:{internet.http_port}/"
        return OutgoingResponse(302, headers=[("Location", target)])

    port = free_port(["127.0.0.1"])
    hop = await start_web(REAL, port, redirect)
    async with censored_dns({"site.test": [REAL]}) as dns:
        context = _context(internet, dns.address, same_network=True)
        url = f"http://site.test:{port}/start"
        keys = (await WebConnectivity().run(context, url)).test_keys
    await hop.close()
    urls = [r["request"]["url"] for r in keys["requests"]]
    assert urls == [internet.url("http"), url]
    assert (keys["blocking"], keys["accessible"]) == (False, True)


@pytest.mark.parametrize("bad", [None, "", "ftp://site.test/", "not a url"])
async def test_inputs_that_are_not_http_urls_are_rejected(bad: str | None) -> None:
    with pytest.raises(InputError):
        await WebConnectivity().run(TestContext(), bad)


def test_summary_flags_an_anomaly_only_with_a_blocking_reason() -> None:
    test = WebConnectivity()
    assert test.summarize({"blocking": "dns", "accessible": False}).anomaly
    assert not test.summarize({"blocking": False, "accessible": True}).anomaly
    assert not test.summarize({"blocking": None, "accessible": None}).anomaly


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"{}", failures.HTTP_REQUEST_FAILED),
        (200, b"<html>not json</html>", failures.JSON_PARSE_ERROR),
        (200, b"[1, 2]", failures.JSON_PARSE_ERROR),
    ],
)
async def test_a_broken_helper_reply_is_a_control_failure(
    internet: LoopbackInternet, status: int, body: bytes, expected: str
) -> None:
    broken = await start_web(REAL, 0, static_handler(body, [], status))
    keys = await _measure(
        internet, "http", [REAL], helpers=(f"http://{REAL}:{broken.port}/",)
    )
    await broken.close()
    assert keys["control_failure"] == expected
    assert keys["control"] == {}
