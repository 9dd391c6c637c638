"""Geolocation: IP discovery formats, the iptoasn database, preferences."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from censorscope.probe.geolocation import (
    GeolocationSettings,
    ProbeLocation,
    apply_preferences,
    load_database,
    locate,
    parse_discovery_body,
)
from censorscope.probe.ipdb import AsInfo, IpAsnDatabase
from tests.probe.conftest import FAKE_PROBE_IP, GEOIP_LINES
from tests.probe.servers import Route, WebServer


@pytest.mark.parametrize(
    ("body", "address"),
    [
        (
            "fl=29f\nh=www.cloudflare.com\nip=1.2.3.4\nts=1.0\nvisit_scheme=https\n",
            "1.2.3.4",
        ),
        ("ip=2001:db8::1\n", "2001:db8::1"),
        (
            "<Response><Ip>5.6.7.8</Ip><Status>OK</Status><CountryCode>ML</CountryCode>"
            "</Response>",
            "5.6.7.8",
        ),
        ("<Response>\n  <Ip> 9.9.9.9 </Ip>\n</Response>", "9.9.9.9"),
        ("ip=not-an-address\n", None),
        ("<html>captive portal</html>", None),
        ("", None),
    ],
)
def test_discovery_answers_are_read_in_cloudflare_and_ubuntu_formats(
    body: str, address: str | None
) -> None:
    assert parse_discovery_body(body) == address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.7", AsInfo(64500, "ML", "LAB-ISP-ML")),
        ("203.0.113.0", AsInfo(64500, "ML", "LAB-ISP-ML")),
        ("203.0.113.255", AsInfo(64500, "ML", "LAB-ISP-ML")),
        ("1.0.0.1", AsInfo(13335, "US", "CLOUDFLARENET")),
        ("203.0.114.0", None),
        ("0.0.0.1", None),
        ("not an ip", None),
    ],
)
def test_the_iptoasn_database_finds_the_range_holding_an_address(
    address: str, expected: AsInfo | None
) -> None:
    database = IpAsnDatabase.parse(reversed(GEOIP_LINES))  # order must not matter

    assert database.lookup(address) == expected


def test_the_database_reads_gzip_skips_bad_lines_and_ignores_unrouted_space(
    tmp_path: Path,
) -> None:
    lines = [
        "10.0.0.0\t10.255.255.255\t0\tNone\tNot routed",
        "garbage line",
        "2001:db8::\t2001:db8::ffff\t64510\tsn\tLAB-V6",
        "5.0.0.0\t4.0.0.0\t1\tUS\tREVERSED RANGE",
    ]
    path = tmp_path / "ip2asn-combined.tsv.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))

    database = IpAsnDatabase.load(path)

    assert database.skipped == 2
    assert database.lookup("10.1.2.3") is None
    assert database.lookup("2001:db8::42") == AsInfo(64510, "SN", "LAB-V6")


async def test_locate_uses_the_first_discovery_endpoint_that_answers(
    web: WebServer, geoip_db: Path
) -> None:
    broken = web.route("/broken", Route(b"oops", status=500))
    xml = f"<Response><Ip>{FAKE_PROBE_IP}</Ip></Response>".encode()
    ubuntu = web.route("/lookup", Route(xml, content_type="application/xml"))
    settings = GeolocationSettings(
        discovery_urls=(broken, "http://127.0.0.1:1/", ubuntu),
        database_path=geoip_db,
        resolver_whoami="localhost",
        timeout=2.0,
    )

    location = await locate(settings, load_database(settings.database_path))

    assert location == ProbeLocation(
        probe_ip=FAKE_PROBE_IP,
        probe_asn="AS64500",
        probe_cc="ML",
        probe_network_name="LAB-ISP-ML",
        resolver_ip="127.0.0.1",
        resolver_asn="AS64501",
        resolver_network_name="LAB-RESOLVER",
    )
    assert FAKE_PROBE_IP not in repr(location)


async def test_locate_without_answers_or_database_falls_back_to_unknown(
    tmp_path: Path,
) -> None:
    settings = GeolocationSettings(
        discovery_urls=("http://127.0.0.1:1/",),
        database_path=tmp_path / "missing.tsv",
        resolver_whoami="",
        timeout=2.0,
    )

    database = load_database(settings.database_path)

    assert database is None
    assert await locate(settings, database) == ProbeLocation()


def test_withholding_beats_overrides() -> None:
    found = ProbeLocation(
        "203.0.113.7", "AS64500", "ML", "LAB", "127.0.0.1", "AS64501", "R"
    )
    settings = GeolocationSettings(
        probe_asn="AS1", probe_cc="SN", share_asn=False, share_country=False
    )

    location = apply_preferences(found, settings)

    assert location.base_keys() == {
        "probe_asn": "AS0",
        "probe_cc": "ZZ",
        "probe_network_name": "",
        "resolver_ip": "127.0.0.1",
        "resolver_asn": "AS0",
        "resolver_network_name": "",
    }
