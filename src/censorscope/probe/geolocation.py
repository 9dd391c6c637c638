"""Where the probe measures from: public IP, ASN, network name, country, resolver.

1. The public IP comes from the first discovery endpoint that answers, in
   either the Cloudflare trace format (an ``ip=1.2.3.4`` line) or the Ubuntu
   geoip XML (``<Ip>1.2.3.4</Ip>``).
2. ASN, network name and country come from a local iptoasn database
   (:mod:`.ipdb`), so no third party learns who runs the probe.
3. The resolver's IP is what a ``whoami``-style name resolves to through the
   system resolver.

Nothing here is fatal: unknown values stay ``AS0``/``ZZ``/``127.0.0.2`` as
OONI does.  The public IP is kept only in memory, for scrubbing; it is never
logged, stored or sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import httpx

from censorscope.measurement.model import UNKNOWN_ASN, UNKNOWN_CC
from censorscope.probe.ipdb import AsInfo, IpAsnDatabase

logger = logging.getLogger(__name__)

DEFAULT_IP_DISCOVERY: Final = (
    "https://www.cloudflare.com/cdn-cgi/trace",
    "https://geoip.ubuntu.com/lookup",
)
DEFAULT_RESOLVER_WHOAMI: Final = "whoami.v4.powerdns.org"
UNKNOWN_RESOLVER_IP: Final = "127.0.0.2"
_UBUNTU_IP_RE: Final = re.compile(r"<Ip>\s*([^<\s]+)\s*</Ip>", re.IGNORECASE)
_ASN_RE: Final = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)


@dataclass(frozen=True)
class GeolocationSettings:
    """How to find the probe's network identity, and what the user withholds."""

    discovery_urls: tuple[str, ...] = DEFAULT_IP_DISCOVERY
    database_path: Path | None = None
    resolver_whoami: str = DEFAULT_RESOLVER_WHOAMI  # "" skips the lookup
    probe_asn: str | None = None  # user overrides
    probe_cc: str | None = None
    probe_network_name: str | None = None
    share_asn: bool = True
    share_country: bool = True
    timeout: float = 10.0
    ca_bundle: str | None = None


@dataclass(frozen=True)
class ProbeLocation:
    """The network identity written into every measurement.

    ``probe_ip`` is the real public address, used only to scrub it away.
    """

    probe_ip: str | None = field(default=None, repr=False)
    probe_asn: str = UNKNOWN_ASN
    probe_cc: str = UNKNOWN_CC
    probe_network_name: str = ""
    resolver_ip: str = UNKNOWN_RESOLVER_IP
    resolver_asn: str = UNKNOWN_ASN
    resolver_network_name: str = ""

    def base_keys(self) -> dict[str, Any]:
        """The measurement base keys this location fills (never the IP)."""
        return {
            "probe_asn": self.probe_asn,
            "probe_cc": self.probe_cc,
            "probe_network_name": self.probe_network_name,
            "resolver_ip": self.resolver_ip,
            "resolver_asn": self.resolver_asn,
            "resolver_network_name": self.resolver_network_name,
        }


def normalize_asn(text: str) -> str:
    """``"30985"`` or ``"as30985"`` -> ``"AS30985"``; ValueError otherwise."""
    match = _ASN_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not an AS number: {text!r}")
    return f"AS{int(match.group(1))}"


def normalize_cc(text: str) -> str:
    """``"ml"`` -> ``"ML"``; ValueError unless two ASCII letters."""
    code = text.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not a two-letter country code: {text!r}")
    return code


def parse_discovery_body(body: str) -> str | None:
    """The address in a Cloudflare-trace or Ubuntu-geoip answer, if any."""
    candidates = [
        line[3:].strip() for line in body.splitlines() if line.startswith("ip=")
    ]
    candidates += _UBUNTU_IP_RE.findall(body)
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


# Shortcoming: no STUN discovery and no random order (OONI has both); the
# endpoints are asked in the order given, which the lab relies on.
async def discover_probe_ip(
    client: httpx.AsyncClient, urls: tuple[str, ...]
) -> str | None:
    """Ask the discovery endpoints in order; the first valid answer wins."""
    for url in urls:
        try:
            response = await client.get(url)
        except httpx.HTTPError as error:
            logger.info("ip discovery %s failed: %s", url, error)
            continue
        address = parse_discovery_body(response.text) if response.is_success else None
        if address is not None:
            logger.info("ip discovery %s ok", url)
            return address
        logger.info(
            "ip discovery %s: no address (status %d)", url, response.status_code
        )
    logger.warning("could not discover the probe's public IP")
    return None


async def resolve_resolver_ip(name: str, timeout: float) -> str | None:
    """The first IPv4 address ``name`` resolves to via the system resolver."""
    if not name:
        return None
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(
                name, None, family=socket.AF_INET, type=socket.SOCK_STREAM
            ),
            timeout,
        )
    except (OSError, TimeoutError) as error:
        logger.info("resolver lookup %s failed: %s", name, error)
        return None
    return str(infos[0][4][0]) if infos else None


def load_database(path: Path | None) -> IpAsnDatabase | None:
    """The database at ``path``; None (with a warning) if missing or unreadable."""
    if path is None:
        logger.warning("no geoip database (--geoip-db): ASN and country unknown")
        return None
    try:
        database = IpAsnDatabase.load(path)
    except OSError as error:
        logger.warning("geoip database %s unusable: %s", path, error)
        return None
    if database.skipped:
        logger.warning(
            "geoip database %s: %d malformed lines skipped", path, database.skipped
        )
    return database


async def locate(
    settings: GeolocationSettings, database: IpAsnDatabase | None
) -> ProbeLocation:
    """Find the probe's network identity; never raises for network trouble.

    ``database`` is :func:`load_database` of ``settings.database_path``, loaded
    by the caller because the tests use it too (``TestContext.asn_lookup``).
    """
    verify: str | bool = settings.ca_bundle or True
    async with httpx.AsyncClient(
        timeout=settings.timeout, verify=verify, trust_env=False
    ) as client:
        probe_ip, resolver_ip = await asyncio.gather(
            discover_probe_ip(client, settings.discovery_urls),
            resolve_resolver_ip(settings.resolver_whoami, settings.timeout),
        )
    location = _identify(probe_ip, resolver_ip, database)
    return apply_preferences(location, settings)


def _lookup(database: IpAsnDatabase | None, address: str | None) -> AsInfo | None:
    if database is None or address is None:
        return None
    return database.lookup(address)


def _identify(
    probe_ip: str | None, resolver_ip: str | None, database: IpAsnDatabase | None
) -> ProbeLocation:
    probe = _lookup(database, probe_ip)
    resolver = _lookup(database, resolver_ip)
    return ProbeLocation(
        probe_ip=probe_ip,
        probe_asn=probe.probe_asn if probe else UNKNOWN_ASN,
        probe_cc=(probe.country_code if probe else "") or UNKNOWN_CC,
        probe_network_name=probe.network_name if probe else "",
        resolver_ip=resolver_ip or UNKNOWN_RESOLVER_IP,
        resolver_asn=resolver.probe_asn if resolver else UNKNOWN_ASN,
        resolver_network_name=resolver.network_name if resolver else "",
    )


def apply_preferences(
    location: ProbeLocation, settings: GeolocationSettings
) -> ProbeLocation:
    """User overrides first, then what the user withholds (which always wins).

    Withholding the ASN also withholds the resolver's ASN and name, which
    would otherwise name the ISP just the same.
    """
    if settings.probe_asn is not None:
        location = replace(location, probe_asn=normalize_asn(settings.probe_asn))
    if settings.probe_cc is not None:
        location = replace(location, probe_cc=normalize_cc(settings.probe_cc))
    if settings.probe_network_name is not None:
        location = replace(location, probe_network_name=settings.probe_network_name)
    if not settings.share_asn:
        location = replace(
            location,
            probe_asn=UNKNOWN_ASN,
            probe_network_name="",
            resolver_asn=UNKNOWN_ASN,
            resolver_network_name="",
        )
    if not settings.share_country:
        location = replace(location, probe_cc=UNKNOWN_CC)
    return location
