"""The lab's IP-to-ASN/country database, in iptoasn.com's ``ip2asn-v4.tsv`` form.

Rows are ``range_start range_end AS_number country_code AS_description``,
tab-separated and sorted by start address, as the probe's geolocation
reads them.  Each ISP's /16 geolocates to the scenario's ASN and country;
each internet host to its own AS.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeoRow:
    """One address range and the network it belongs to."""

    first: str
    last: str
    asn: int
    cc: str
    name: str

    def line(self) -> str:
        name = self.name.replace("\t", " ")
        return f"{self.first}\t{self.last}\t{self.asn}\t{self.cc}\t{name}"


def network_row(cidr: str, asn: int, cc: str, name: str) -> GeoRow:
    """The row covering the whole of ``cidr``."""
    network = ipaddress.ip_network(cidr, strict=False)
    return GeoRow(
        str(network.network_address), str(network.broadcast_address), asn, cc, name
    )


def write_geodb(rows: list[GeoRow], path: Path) -> Path:
    """Write ``rows`` sorted by start address; overlapping rows are an error."""
    ordered = sorted(rows, key=lambda row: ipaddress.IPv4Address(row.first))
    for before, after in itertools.pairwise(ordered):
        if ipaddress.IPv4Address(before.last) >= ipaddress.IPv4Address(after.first):
            raise ValueError(f"overlapping ranges {before.first} and {after.first}")
    path.write_text("".join(row.line() + "\n" for row in ordered))
    return path
