"""A local IP-to-ASN/country database in the iptoasn.com TSV format.

Each line of ``ip2asn-v4.tsv`` (or ``ip2asn-combined.tsv``, optionally
gzipped) is ``range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>
AS_description``; ranges are sorted and disjoint, AS 0 marks unrouted space.
Lookups are a binary search over the range starts, so nothing about the
probe leaves the machine.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_FIELDS = 5


@dataclass(frozen=True)
class AsInfo:
    """What the database says about one address."""

    asn: int
    country_code: str
    network_name: str

    @property
    def probe_asn(self) -> str:
        """The ASN in OONI's ``AS<n>`` spelling."""
        return f"AS{self.asn}"


@dataclass
class _Table:
    """Ranges of one address family, sorted by start."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    infos: list[AsInfo] = field(default_factory=list)

    def add(self, start: int, end: int, info: AsInfo) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.infos.append(info)

    def sort(self) -> None:
        """Sort by range start (files are sorted; hand-written ones may not be)."""
        order = sorted(range(len(self.starts)), key=self.starts.__getitem__)
        self.starts = [self.starts[i] for i in order]
        self.ends = [self.ends[i] for i in order]
        self.infos = [self.infos[i] for i in order]

    def find(self, address: int) -> AsInfo | None:
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0 or address > self.ends[index]:
            return None
        return self.infos[index]


# Shortcoming: only the iptoasn TSV format is read (no MaxMind .mmdb), and the
# file is never downloaded: the user or the lab provides it.
class IpAsnDatabase:
    """An in-memory iptoasn table; build it with :meth:`load` or :meth:`parse`."""

    def __init__(self, tables: dict[int, _Table], skipped: int = 0) -> None:
        self._tables = tables
        self.skipped = skipped  # malformed lines, reported by the caller

    @classmethod
    def load(cls, path: Path) -> IpAsnDatabase:
        """Read a ``.tsv`` or ``.tsv.gz`` file (raises OSError if unreadable)."""
        with _open_text(path) as stream:
            database = cls.parse(stream, origin=str(path))
        logger.info("geoip database %s: %d ranges", path, len(database))
        return database

    @classmethod
    def parse(cls, lines: Iterable[str], origin: str = "<lines>") -> IpAsnDatabase:
        """Build the table from TSV lines, skipping (and counting) bad ones."""
        tables = {4: _Table(), 6: _Table()}
        skipped = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed = _parse_line(line)
            if parsed is None:
                skipped += 1
                logger.warning("%s:%d: not an ip2asn line, skipped", origin, number)
                continue
            version, start, end, info = parsed
            tables[version].add(start, end, info)
        for table in tables.values():
            table.sort()
        return cls(tables, skipped)

    def lookup(self, address: str) -> AsInfo | None:
        """The routed network holding ``address``, or None (unknown/unrouted)."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return None
        info = self._tables[parsed.version].find(int(parsed))
        if info is None or info.asn == 0:
            return None
        return info

    def asn_lookup(self, address: str) -> tuple[int, str]:
        """``(asn, network name)``; ``(0, "")`` when unknown (for TestContext)."""
        info = self.lookup(address)
        return (info.asn, info.network_name) if info else (0, "")

    def __len__(self) -> int:
        return sum(len(table.starts) for table in self._tables.values())


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def _parse_line(line: str) -> tuple[int, int, int, AsInfo] | None:
    """``(family, start, end, info)`` for a well-formed line, else None."""
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) < _FIELDS:
        return None
    start, end = _address_number(parts[0]), _address_number(parts[1])
    if start is None or end is None or start[0] != end[0] or end[1] < start[1]:
        return None
    if not parts[2].isdigit():
        return None
    country = parts[3].upper() if len(parts[3]) == 2 else ""
    info = AsInfo(asn=int(parts[2]), country_code=country, network_name=parts[4])
    return start[0], start[1], end[1], info


def _address_number(text: str) -> tuple[int, int] | None:
    """``(family, integer)`` of an address; inet_pton is what makes loading fast."""
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            return version, int.from_bytes(socket.inet_pton(family, text), "big")
        except OSError:
            continue
    return None
