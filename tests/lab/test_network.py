"""The lab network measured with plain sockets: each censor action does what
it says, only on the ISP it is applied to, and nothing else is affected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from censorscope.lab import addressing as plan
from censorscope.lab.censor import Action, CensorAction, DnsPlace
from censorscope.lab.topology import Lab
from tests.lab.conftest import lab_skip_reason, socket_probe

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

EXAMPLE = "www.example.com"
EXAMPLE_ADDRESS = "10.200.1.10"
PUBLIC = plan.PUBLIC_RESOLVERS[0]


@pytest.fixture
def censored(lab: Lab) -> Iterator[Lab]:
    """The shared lab, with ISP qa1's censor cleared after the test."""
    yield lab
    lab.isp("qa1").censor.clear()


def apply(lab: Lab, *actions: CensorAction) -> None:
    lab.isp("qa1").censor.apply(actions)


def fetch(lab: Lab, url: str, isp: str = "qa1") -> dict[str, Any]:
    return socket_probe(lab, isp, "fetch", url, str(lab.ca_bundle))


def test_uncensored_sites_answer_over_http_and_https(lab: Lab) -> None:
    assert socket_probe(lab, "qa1", "resolve", EXAMPLE) == {
        "addresses": [EXAMPLE_ADDRESS]
    }
    for url in (f"http://{EXAMPLE}/", f"https://{EXAMPLE}/"):
        assert fetch(lab, url)["title"] == "Default Web Page"
    assert fetch(lab, "http://example.com/")["location"] == f"https://{EXAMPLE}/"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://expired.badssl.com/", "certificate"),
        ("https://wrong.host.badssl.com/", "certificate"),
        ("https://untrusted-root.badssl.com/", "certificate"),
        ("http://down.example.net/", "refused"),
        ("http://www.example.com:444/", "refused"),
    ],
)
def test_broken_sites_fail_the_same_way_without_censorship(
    lab: Lab, url: str, error: str
) -> None:
    assert fetch(lab, url) == {"error": error}


def test_names_that_exist_nowhere_and_names_without_addresses(lab: Lab) -> None:
    assert socket_probe(lab, "qa1", "query", PUBLIC, "www.example.xyz")["rcode"] == (
        "NXDOMAIN"
    )
    answer = socket_probe(lab, "qa1", "query", PUBLIC, "noaddrs.example.net")
    assert answer == {"rcode": "NOERROR", "addresses": ["web01.example.net."]}


@pytest.mark.parametrize(
    ("action", "resolved"),
    [
        (Action.DNS_BOGON, {"addresses": [plan.BOGON]}),
        (Action.DNS_HIJACK, {"addresses": [plan.BLOCKPAGE]}),
        (Action.DNS_LOCALHOST, {"addresses": ["127.0.0.1"]}),
        (Action.DNS_NXDOMAIN, {"error": "gaierror -2"}),
    ],
)
@pytest.mark.parametrize("via", [DnsPlace.RESOLVER, DnsPlace.PATH])
def test_dns_lies_reach_the_system_resolver(
    censored: Lab, action: Action, resolved: dict[str, Any], via: DnsPlace
) -> None:
    apply(censored, CensorAction(action, EXAMPLE, via))
    assert socket_probe(censored, "qa1", "resolve", EXAMPLE) == resolved


@pytest.mark.parametrize(
    ("via", "public_answer"),
    [
        (DnsPlace.RESOLVER, {"rcode": "NOERROR", "addresses": [EXAMPLE_ADDRESS]}),
        (DnsPlace.PATH, {"rcode": "NXDOMAIN", "addresses": []}),
    ],
)
def test_only_path_injection_lies_for_public_resolvers(
    censored: Lab, via: DnsPlace, public_answer: dict[str, Any]
) -> None:
    apply(censored, CensorAction(Action.DNS_NXDOMAIN, EXAMPLE, via))
    assert socket_probe(censored, "qa1", "query", PUBLIC, EXAMPLE) == public_answer


def test_dropped_dns_queries_time_out_for_every_resolver(censored: Lab) -> None:
    apply(censored, CensorAction(Action.DNS_DROP, EXAMPLE, DnsPlace.PATH))
    assert socket_probe(censored, "qa1", "query", PUBLIC, EXAMPLE) == {
        "error": "timeout"
    }
    other = socket_probe(censored, "qa1", "query", PUBLIC, "www.example.org")
    assert other["addresses"] == [EXAMPLE_ADDRESS]


@pytest.mark.parametrize(
    ("action", "url", "error"),
    [
        (CensorAction(Action.IP_BLACKHOLE, EXAMPLE), f"https://{EXAMPLE}/", "timeout"),
        (CensorAction(Action.IP_REJECT, EXAMPLE), f"http://{EXAMPLE}/", "refused"),
        (CensorAction(Action.IP_RESET, EXAMPLE), f"https://{EXAMPLE}/", "reset"),
        (CensorAction(Action.TLS_RESET, EXAMPLE), f"https://{EXAMPLE}/", "reset"),
        (CensorAction(Action.TLS_DROP, EXAMPLE), f"https://{EXAMPLE}/", "timeout"),
        (CensorAction(Action.HTTP_RESET, EXAMPLE), f"http://{EXAMPLE}/", "reset"),
        (
            CensorAction(Action.THROTTLE, "largefile.com", rate="16kbit"),
            "http://largefile.com/",
            "timeout",
        ),
    ],
)
def test_packet_censorship_produces_its_failure(
    censored: Lab, action: CensorAction, url: str, error: str
) -> None:
    apply(censored, action)
    assert fetch(censored, url) == {"error": error}


def test_sni_and_host_filters_spare_other_names_on_the_same_address(
    censored: Lab,
) -> None:
    apply(
        censored,
        CensorAction(Action.TLS_RESET, EXAMPLE),
        CensorAction(Action.HTTP_RESET, EXAMPLE),
    )
    for url in ("https://www.example.org/", "http://www.example.org/"):
        assert fetch(censored, url)["title"] == "Default Web Page"


def test_transparent_proxy_serves_blockpages_and_relays_the_rest(
    censored: Lab,
) -> None:
    apply(censored, CensorAction(Action.HTTP_BLOCKPAGE, EXAMPLE))
    assert fetch(censored, f"http://{EXAMPLE}/")["title"] == "Access Denied"
    assert fetch(censored, "http://www.example.org/")["title"] == "Default Web Page"
    apply(censored, CensorAction(Action.HTTP_REDIRECT, EXAMPLE))
    redirected = fetch(censored, f"http://{EXAMPLE}/")
    assert redirected["status"] == 302
    assert redirected["location"].startswith(f"http://{plan.BLOCKPAGE}/")


def test_dns_to_the_proxy_still_reaches_the_real_site(censored: Lab) -> None:
    apply(censored, CensorAction(Action.DNS_PROXY, EXAMPLE))
    assert fetch(censored, f"http://{EXAMPLE}/")["title"] == "Default Web Page"


def test_censorship_on_one_isp_leaves_the_others_alone(censored: Lab) -> None:
    apply(
        censored,
        CensorAction(Action.TLS_RESET, EXAMPLE),
        CensorAction(Action.DNS_NXDOMAIN, "www.example.org", DnsPlace.PATH),
    )
    assert fetch(censored, f"https://{EXAMPLE}/", "qa2")["title"] == (
        "Default Web Page"
    )
    assert socket_probe(censored, "qa2", "resolve", "www.example.org") == {
        "addresses": [EXAMPLE_ADDRESS]
    }


def test_removing_the_policy_restores_access(censored: Lab) -> None:
    apply(censored, CensorAction(Action.DNS_NXDOMAIN, EXAMPLE, DnsPlace.PATH))
    apply(censored)
    assert fetch(censored, f"http://{EXAMPLE}/")["title"] == "Default Web Page"


def test_the_captcha_site_treats_subscribers_differently(lab: Lab) -> None:
    result = fetch(lab, "http://www.cloudflare-cache.com/")
    assert (result["status"], result["title"]) == (503, "Just a moment...")


def test_ip_discovery_tells_the_client_its_address(lab: Lab) -> None:
    result = fetch(lab, "http://ip.censorscope.lab/cdn-cgi/trace")
    assert result["status"] == 200


def test_geolocation_database_places_each_isp_in_its_network(lab: Lab) -> None:
    rows = [line.split("\t") for line in lab.geodb.read_text().splitlines()]
    client = lab.isp("qa2").addresses.client
    prefix = client.rsplit(".", 2)[0]
    matching = [row for row in rows if row[0].startswith(prefix + ".")]
    assert [row[2:4] for row in matching] == [["65002", "IT"]]
