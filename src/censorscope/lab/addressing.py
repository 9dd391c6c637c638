"""The lab's address plan.

All addresses are in 10.0.0.0/8 and exist only inside the lab's namespaces,
which have no route to the host's uplink.  ISP ``n`` (1-based) owns
10.(10+n).0.0/16; the simulated internet (web servers, resolvers, blockpage,
test helper, collector) lives in 10.128.0.0/9.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

ISP_SPACE = ipaddress.ip_network("10.0.0.0/9")
INTERNET_SPACE = ipaddress.ip_network("10.128.0.0/9")
MAX_ISPS = 117  # second octets 11..127

# Fixed internet services.
TEST_HELPER = "10.250.0.2"
COLLECTOR = "10.250.0.3"
IP_DISCOVERY = "10.250.0.4"
PUBLIC_RESOLVERS = ("10.253.0.1", "10.253.0.2")
AUTHORITATIVE = "10.254.0.1"
BLOCKPAGE = "10.201.0.1"
# A bogon-like address nothing answers on (the inet namespace has no route).
BOGON = "10.10.34.35"

# Instant-messaging services and the sites of the Mali 2018 report, in
# 10.220.0.0/16: one /24 per operator, so that each geolocates to its AS.
WHATSAPP_ENDPOINTS = tuple(f"10.220.1.{n}" for n in range(1, 17))  # e1..e16
WHATSAPP_REGISTRATION = "10.220.2.10"
WHATSAPP_WEB = "10.220.2.20"
FACEBOOK_EDGE = "10.220.3.10"
FACEBOOK_CDN = "10.220.3.20"
FACEBOOK_STUN = "10.220.3.30"
TELEGRAM_DATACENTERS = tuple(f"10.220.4.{n}" for n in range(1, 6))  # DC1..DC5
TELEGRAM_WEB = "10.220.4.100"
SIGNAL_BACKENDS = "10.220.5.10"
SIGNAL_UPTIME = "10.220.5.20"
TWITTER = "10.220.6.10"
GUARDIAN_PROJECT = "10.220.7.10"
ANONYMIZER = "10.220.8.10"


@dataclass(frozen=True)
class IspAddresses:
    """Addresses of one ISP: client, router, and the ISP's own servers."""

    index: int

    def _address(self, third: int, fourth: int) -> str:
        return f"10.{10 + self.index}.{third}.{fourth}"

    @property
    def prefix(self) -> str:
        return f"10.{10 + self.index}.0.0/16"

    @property
    def inet_side(self) -> str:
        """The internet's end of the ISP's uplink."""
        return self._address(0, 1)

    @property
    def router_up(self) -> str:
        return self._address(0, 2)

    @property
    def router_down(self) -> str:
        """The router's address on the subscriber link (the client's gateway)."""
        return self._address(1, 1)

    @property
    def client(self) -> str:
        return self._address(1, 10)

    @property
    def resolver(self) -> str:
        """The ISP's recursive resolver, in the client's resolv.conf."""
        return self._address(2, 53)

    @property
    def injector(self) -> str:
        """Where the censor's on-path DNS injector answers (DNAT target)."""
        return self._address(2, 54)

    @property
    def proxy(self) -> str:
        """The ISP's transparent HTTP proxy (blockpages, redirects)."""
        return self._address(2, 80)

    @property
    def router_services(self) -> tuple[str, ...]:
        return (self.resolver, self.injector, self.proxy)


def isp_addresses(index: int) -> IspAddresses:
    """The addresses of ISP number ``index`` (1-based)."""
    if not 1 <= index <= MAX_ISPS:
        raise ValueError(f"ISP index {index} outside 1..{MAX_ISPS}")
    return IspAddresses(index)


def is_subscriber(address: str) -> bool:
    """Whether ``address`` is a probe's (ISP space), not an internet host's."""
    try:
        return ipaddress.ip_address(address) in ISP_SPACE
    except ValueError:
        return False
