"""Web Connectivity, classic algorithm (v0.4.3; ts-017).

For one URL: resolve the host (system resolver, or the configured DNS
server), ask a test helper for its view (control), connect (TCP, and TLS for
https) to every resolved address, fetch the page following redirects, then
compare with the control (:mod:`.web_connectivity_analysis`) to decide
``blocking`` and ``accessible``.

Configuration (``context.endpoints["web_connectivity"]``): ``resolver`` (DNS
server instead of getaddrinfo), ``control_timeout`` (seconds for the test
helper call), ``addresses`` (host -> IPs, seeds lookups).  Test helpers come
from ``context.test_helpers``, tried in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import orjson

from censorscope.measurement import failures
from censorscope.nettests import web_connectivity_analysis as analysis
from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.nettests.common import (
    EXTENSIONS,
    InputError,
    annotate_asns,
    fetch_options,
    network_for,
)
from censorscope.netx import (
    DEFAULT_HEADERS,
    FetchOptions,
    Network,
    Request,
    Trace,
    client_context,
    fetch,
    fetch_once,
    join_host_port,
    lookup_host,
    tcp_connect,
    tls_handshake,
)

logger = logging.getLogger(__name__)

NAME: Final = "web_connectivity"
BODY_SNAPSHOT: Final = 1 << 17
TCPTLS_TAG: Final = "tcptls_experiment"
CONTROL_USER_AGENT: Final = "censorscope/0.1.0 ooniprobe-engine/3.25.0"


def parse_input(url: str | None) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; raises InputError otherwise."""
    if not url:
        raise InputError("no input provided")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InputError(f"input is not an URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            "unsupported input scheme" if parts.hostname else "input is not an URL"
        )
    return (
        parts.scheme,
        parts.hostname,
        port or (443 if parts.scheme == "https" else 80),
    )


def _nanoseconds(started: float) -> int:
    return int((time.monotonic() - started) * 1e9)


@dataclass
class _Measurement:
    """The state one measurement's steps share."""

    context: TestContext
    url: str
    scheme: str
    host: str
    port: int
    trace: Trace = field(default_factory=Trace)
    keys: dict[str, Any] = field(default_factory=dict)
    network: Network = field(init=False)

    def __post_init__(self) -> None:
        self.network = network_for(self.context, NAME)


class WebConnectivity(NetTest):
    """Is this website reachable, and if not, how is it blocked?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.4.3"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure ``input``; raises InputError for a non-http(s) input."""
        m = _Measurement(context, str(input), *parse_input(input))
        m.keys.update(
            agent="redirect",
            client_resolver=context.resolver_ip,
            retries=None,
            socksproxy=None,
        )
        addresses = await _dns_step(m)
        backend = await _control_step(m, [join_host_port(a, m.port) for a in addresses])
        await _connect_step(m, addresses)
        await _http_step(m, addresses)

        keys, trace = m.keys, m.trace
        keys.update(trace.test_keys())
        keys["requests"] = list(reversed(trace.requests))
        keys["tls_handshakes"] = trace.tls_handshakes or None
        keys.update(analysis.analyze(keys, m.url, context.asn_lookup))
        return TestResult(keys, backend, dict(EXTENSIONS))

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when a blocking reason was found."""
        blocking = test_keys.get("blocking")
        detail = {"blocking": blocking, "accessible": test_keys.get("accessible")}
        return Summary(anomaly=isinstance(blocking, str), detail=detail)


async def _dns_step(m: _Measurement) -> list[str]:
    started = time.monotonic()
    result = await lookup_host(
        m.network.resolver, m.trace, m.host, timeout=m.context.timeout
    )
    annotate_asns(m.trace.queries, m.context.asn_lookup)
    m.keys["dns_experiment_failure"] = result.failure
    m.keys["x_dns_runtime"] = _nanoseconds(started)
    return result.addresses


# --- control ---


def control_request(url: str, endpoints: list[str]) -> dict[str, Any]:
    """The JSON body sent to the test helper (ts-017, §3.3)."""
    return {
        "http_request": url,
        "http_request_headers": {name: [value] for name, value in DEFAULT_HEADERS},
        "tcp_connect": endpoints,
        "x_quic_enabled": False,
    }


def control_fetch_options(timeout: float) -> FetchOptions:
    """Limits for the control call: a bounded reply, the helper's own timeout."""
    return FetchOptions(
        max_body=8 << 20,
        follow_redirects=False,
        resolve_timeout=timeout,
        connect_timeout=timeout,
        tls_timeout=timeout,
        http_timeout=timeout,
    )


async def call_test_helper(
    trace: Trace, network: Network, helper: str, body: dict[str, Any], timeout: float
) -> tuple[dict[str, Any] | None, str | None]:
    """POST ``body`` to one test helper: ``(control, None)`` or ``(None, failure)``.

    The exchange is recorded in a child trace that is then dropped: the
    control call is not part of the test keys.
    """
    headers = (("Content-Type", "application/json"), ("User-Agent", CONTROL_USER_AGENT))
    request = Request(helper, "POST", headers, orjson.dumps(body))
    exchange = await fetch_once(
        trace.child(), network, request, control_fetch_options(timeout)
    )
    if exchange.failure is not None:
        return None, exchange.failure
    if exchange.status != 200:
        return None, failures.HTTP_REQUEST_FAILED
    try:
        control = orjson.loads(exchange.body)
    except orjson.JSONDecodeError:
        return None, failures.JSON_PARSE_ERROR
    if not isinstance(control, dict):
        return None, failures.JSON_PARSE_ERROR
    return control, None


async def _control_step(m: _Measurement, endpoints: list[str]) -> dict[str, Any]:
    """Ask the test helpers in order; the first answer wins."""
    # Shortcoming: probe-cli starts the next helper after 15 s while the
    # first is still working (overlapped calls); here each waits its turn.
    started = time.monotonic()
    timeout = float(m.context.endpoint(NAME, "control_timeout", 30.0))
    body = control_request(m.url, endpoints)
    control: dict[str, Any] | None = None
    failure: str | None = failures.unknown("no available test helpers")
    used = ""
    for helper in m.context.test_helpers:
        used = helper
        control, failure = await call_test_helper(
            m.trace, m.network, helper, body, timeout
        )
        if control is not None:
            break
        logger.info("test helper %s failed: %s", helper, failure)
    m.keys["control"] = control or {}
    m.keys["control_failure"] = failure
    m.keys["x_th_runtime"] = _nanoseconds(started)
    if not used:
        return {}
    kind = "https" if used.startswith("https://") else "http"
    return {"backend": {"address": used, "type": kind}}


# --- connect step ---


async def _connect_one(m: _Measurement, ip: str) -> None:
    context = m.context
    result = await tcp_connect(
        m.trace, ip, m.port, timeout=context.timeout, tags=[TCPTLS_TAG]
    )
    if result.conn is None:
        return
    if m.scheme != "https":
        result.conn.close()
        return
    tls = client_context(context.ca_bundle, alpn=("h2", "http/1.1"))
    shaken = await tls_handshake(result.conn, m.host, tls, timeout=context.timeout)
    if shaken.conn is not None:
        shaken.conn.close()


async def _connect_step(m: _Measurement, addresses: list[str]) -> None:
    started = time.monotonic()
    await asyncio.gather(*(_connect_one(m, ip) for ip in addresses))
    mark_blocked(m.trace.tcp_connect, m.keys.get("control") or {})
    m.keys["x_tcptls_runtime"] = _nanoseconds(started)


def mark_blocked(entries: list[dict[str, Any]], control: Mapping[str, Any]) -> None:
    """Set ``status.blocked``: the probe failed where the control connected."""
    theirs = control.get("tcp_connect")
    if not isinstance(theirs, Mapping):
        return
    for entry in entries:
        seen = theirs.get(join_host_port(entry["ip"], entry["port"]))
        if isinstance(seen, Mapping):
            failed = entry["status"]["failure"] is not None
            entry["status"]["blocked"] = failed and seen.get("status") is True


# --- HTTP step ---


async def _http_step(m: _Measurement, addresses: list[str]) -> None:
    """Fetch the page, seeded with the DNS step's addresses.

    Skipped when DNS found no address (then ``requests`` stays empty and
    ``http_experiment_failure`` null, as in the classic test).  Only the
    requests and network events of this step join the test keys: its
    connects would otherwise count as connect-step attempts.
    """
    started = time.monotonic()
    m.keys["http_experiment_failure"] = None
    m.keys["x_http_runtime"] = 0
    if not addresses:
        return
    seeded = Network(m.network.resolver, m.network.ssl_context, {m.host: addresses})
    step = m.trace.child()
    options = fetch_options(m.context, max_body=BODY_SNAPSHOT)
    result = await fetch(step, seeded, Request(m.url), options)
    m.trace.requests.extend(step.requests)
    m.trace.network_events.extend(step.network_events)
    m.keys["http_experiment_failure"] = result.failure
    m.keys["x_http_runtime"] = _nanoseconds(started)
