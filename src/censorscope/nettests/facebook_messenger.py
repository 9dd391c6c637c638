"""Facebook Messenger (ts-019, test_version 0.2.1).

Resolve seven Messenger hostnames and connect to six of them on 443.  DNS is
consistent when every answer belongs to Facebook's AS32934; a DNS failure or
a foreign AS sets ``facebook_dns_blocking``, a failed connect
``facebook_tcp_blocking``.

Configuration (``context.endpoints["facebook_messenger"]``): ``services``
(key -> hostname; ``stun`` is resolved only), ``port``, ``asn`` (the AS the
answers must be in), ``resolver``, ``addresses``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    annotate_asns,
    get_many,
    network_for,
    urlgetter_keys,
)
from censorscope.netx import Trace, join_host_port

NAME: Final = "facebook_messenger"
FACEBOOK_ASN: Final = 32934
STUN_SERVICE: Final = "stun"
SERVICES: Final = {
    "stun": "stun.fbsbx.com",
    "b_api": "b-api.facebook.com",
    "b_graph": "b-graph.facebook.com",
    "edge": "edge-mqtt.facebook.com",
    "external_cdn": "external.xx.fbcdn.net",
    "scontent_cdn": "scontent.xx.fbcdn.net",
    "star": "star.c10r.facebook.com",
}


def _target(service: str, host: str, port: int) -> Target:
    if service == STUN_SERVICE:
        return Target(f"dnslookup://{host}")
    return Target(f"tcpconnect://{join_host_port(host, port)}")


def dns_consistent(
    outcome: Outcome, asn: int, asn_lookup: Callable[[str], tuple[int, str]] | None
) -> bool:
    """Resolved, and (when ASNs are known) every address is in ``asn``."""
    if outcome.failed_operation == "resolve" or not outcome.addresses:
        return False
    # Shortcoming: without an IP-to-ASN database the AS check cannot be made,
    # so a lookup that returns any address counts as consistent.
    if asn_lookup is None:
        return True
    return all(asn_lookup(ip)[0] == asn for ip in outcome.addresses)


def service_keys(
    service: str,
    outcome: Outcome,
    asn: int,
    asn_lookup: Callable[[str], tuple[int, str]] | None,
) -> dict[str, bool | None]:
    """``facebook_<service>_dns_consistent`` and ``..._reachable``."""
    consistent = dns_consistent(outcome, asn, asn_lookup)
    reachable: bool | None = None
    if consistent and service != STUN_SERVICE:
        reachable = outcome.failed_operation != "connect"
    return {
        f"facebook_{service}_dns_consistent": consistent,
        f"facebook_{service}_reachable": reachable,
    }


class FacebookMessenger(NetTest):
    """Do Messenger's names resolve to Facebook, and can the probe connect?"""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.2.1"
    input_policy: ClassVar[InputPolicy] = InputPolicy.NONE

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure every service (input is ignored)."""
        services: Mapping[str, str] = context.endpoint(NAME, "services", SERVICES)
        port = int(context.endpoint(NAME, "port", 443))
        asn = int(context.endpoint(NAME, "asn", FACEBOOK_ASN))
        trace = Trace()
        targets = [_target(service, host, port) for service, host in services.items()]
        outcomes = await get_many(context, trace, network_for(context, NAME), targets)
        annotate_asns(trace.queries, context.asn_lookup)

        keys = urlgetter_keys(trace)
        for service, outcome in zip(services, outcomes, strict=True):
            keys.update(service_keys(service, outcome, asn, context.asn_lookup))
        keys["facebook_dns_blocking"] = any(
            v is False for k, v in keys.items() if k.endswith("_dns_consistent")
        )
        keys["facebook_tcp_blocking"] = any(
            v is False for k, v in keys.items() if k.endswith("_reachable")
        )
        return TestResult(keys, {}, dict(EXTENSIONS))

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly on DNS or TCP blocking."""
        detail = {
            "facebook_dns_blocking": test_keys.get("facebook_dns_blocking") is True,
            "facebook_tcp_blocking": test_keys.get("facebook_tcp_blocking") is True,
        }
        return Summary(anomaly=any(detail.values()), detail=detail)
