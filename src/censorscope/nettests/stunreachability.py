"""stunreachability (ts-025, test_version 0.4.0): does a STUN server answer?

Input ``stun://host:port``: resolve the host, send a STUN Binding request over
UDP and wait for the response.  The mapped address in the response is the
probe's own public address and is never recorded.

Configuration (``context.endpoints["stunreachability"]``): ``resolver``,
``addresses``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.nettests.common import InputError, network_for
from censorscope.netx import Trace, lookup_host
from censorscope.netx.stun import stun_binding

NAME: Final = "stunreachability"
# OONI's default list (probe-cli internal/stuninput, kept in sync with Tor's
# Snowflake configuration).
DEFAULT_INPUTS: Final = tuple(
    f"stun://{server}:3478"
    for server in (
        "stun.voip.blackberry.com",
        "stun.antisip.com",
        "stun.bluesip.net",
        "stun.dus.net",
        "stun.epygi.com",
        "stun.sonetel.com",
        "stun.sonetel.net",
        "stun.uls.co.za",
        "stun.voipgate.com",
        "stun.voys.nl",
    )
)


def parse_stun_url(url: str | None) -> tuple[str, int]:
    """``(host, port)`` of a ``stun://host:port`` input; raises InputError."""
    if not url:
        raise InputError("stun: missing input")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InputError(f"stun: invalid URL: {error}") from error
    if parts.scheme != "stun":
        raise InputError("stun: unsupported URL scheme")
    if port is None or not parts.hostname:
        raise InputError("stun: missing port in URL")
    return parts.hostname, port


class STUNReachability(NetTest):
    """Send a STUN Binding request and record whether it is answered."""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.4.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.OPTIONAL

    def default_inputs(self) -> list[str]:
        """OONI's default STUN servers."""
        return list(DEFAULT_INPUTS)

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure the STUN server named by ``input``."""
        host, port = parse_stun_url(input)
        trace = Trace()
        network = network_for(context, NAME)
        addresses = network.known_addresses.get(host)
        failure: str | None = None
        if not addresses:
            looked = await lookup_host(
                network.resolver, trace, host, timeout=context.timeout
            )
            addresses, failure = looked.addresses, looked.failure
        if addresses:
            failure, _mapped = await stun_binding(
                trace, addresses[0], port, timeout=context.timeout
            )
        keys: dict[str, Any] = {
            "endpoint": f"{host}:{port}",
            "failure": failure,
            "network_events": trace.network_events,
            "queries": trace.queries,
        }
        return TestResult(keys, {}, {"dnst": 0, "netevents": 0})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when the server did not answer."""
        failure = test_keys.get("failure")
        return Summary(anomaly=failure is not None, detail={"failure": failure})
