"""The messaging apps in the lab's internet, seen by a plain-socket client.

WhatsApp, Telegram, Signal and Facebook Messenger must answer where their
nettests look for them (names through the ISP resolver, Telegram's data
centers by address), Signal only to a client that trusts its pinned root,
and Messenger's addresses must geolocate to Facebook's AS.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from censorscope.lab import addressing as plan
from censorscope.lab.topology import Lab
from tests.lab.conftest import lab_skip_reason, socket_probe

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]


@pytest.mark.parametrize(
    ("url", "status", "title"),
    [
        ("https://web.whatsapp.com/", 200, "WhatsApp Web"),
        ("https://v.whatsapp.net/v2/register", 400, None),
        ("https://web.telegram.org/", 200, "Telegram Web"),
        (f"http://{plan.TELEGRAM_DATACENTERS[0]}/", 404, None),
        # Telegram's data centers speak cleartext HTTP on 443 too.
        (f"http://{plan.TELEGRAM_DATACENTERS[4]}:443/", 404, None),
        ("https://twitter.com/", 200, "Twitter"),
        ("https://guardianproject.info/", 200, "Guardian Project"),
        ("http://www.anonymizer.ru/", 200, "Anonymizer.ru"),
    ],
)
def test_app_services_answer_by_name_through_the_isp_resolver(
    lab: Lab, url: str, status: int, title: str | None
) -> None:
    answer = socket_probe(lab, "qa2", "fetch", url, str(lab.ca_bundle))
    assert (answer.get("status"), answer.get("title")) == (status, title), answer


@pytest.mark.parametrize(
    ("host", "port"),
    [("e1.whatsapp.net", "443"), ("e16.whatsapp.net", "5222"),
     ("b-api.facebook.com", "443"), ("scontent.xx.fbcdn.net", "443")],
)  # fmt: skip
def test_chat_endpoints_accept_tcp(lab: Lab, host: str, port: str) -> None:
    assert "connected" in socket_probe(lab, "qa2", "connect", host, port)


def test_signal_needs_its_pinned_root_which_the_endpoints_file_carries(
    lab: Lab,
) -> None:
    answer = socket_probe(
        lab, "qa2", "fetch", "https://chat.signal.org/", str(lab.ca_bundle)
    )
    assert answer == {"error": "certificate"}
    endpoints = json.loads(lab.endpoints.read_text())
    assert "BEGIN CERTIFICATE" in endpoints["signal"]["extra_ca_pem"]
    assert endpoints["telegram"]["datacenters"] == list(plan.TELEGRAM_DATACENTERS)


def test_messenger_and_whatsapp_addresses_geolocate_to_facebook(lab: Lab) -> None:
    rows = [line.split("\t") for line in lab.geodb.read_text().splitlines()]

    def asn_of(address: str) -> str:
        ip = ipaddress.IPv4Address(address)
        return next(
            row[2]
            for row in rows
            if ipaddress.IPv4Address(row[0]) <= ip <= ipaddress.IPv4Address(row[1])
        )

    facebook = [plan.FACEBOOK_EDGE, plan.FACEBOOK_CDN, plan.WHATSAPP_WEB]
    assert {asn_of(address) for address in facebook} == {"32934"}
    assert asn_of(plan.TELEGRAM_DATACENTERS[0]) == "62041"
