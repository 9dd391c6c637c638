"""The lab's DNS servers: authoritative, resolvers, and the censor's liar.

All of them are one ``DnsResponder`` over the truthful zone, differing in
their overrides: a censoring ISP resolver (or the on-path injector the
censor redirects queries to) answers some names with NXDOMAIN, no answer,
chosen addresses, or not at all.  Any resolver answers ``whoami`` names with
its own address, as PowerDNS's whoami does for the resolver that asks it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from censorscope.lab.internet import WHOAMI_NAME, DnsRecord

logger = logging.getLogger(__name__)

_TTL = 300


class DnsLie(enum.StrEnum):
    """What a censoring DNS server does for a blocked name."""

    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no-answer"  # NOERROR with an empty answer section
    ADDRESSES = "addresses"  # bogon, blockpage, localhost, another site...
    DROP = "drop"  # never answer: the client times out
    SERVFAIL = "servfail"


@dataclass(frozen=True)
class DnsOverride:
    """One censored name's treatment."""

    lie: DnsLie
    addresses: tuple[str, ...] = ()


class DnsResponder:
    """Answers queries from the zone, except for overridden names."""

    def __init__(
        self,
        zone: Mapping[str, DnsRecord],
        own_address: str,
        authoritative: bool = False,
    ) -> None:
        self._zone = zone
        self._own_address = own_address
        self._authoritative = authoritative
        self.overrides: dict[str, DnsOverride] = {}

    def set_overrides(self, overrides: Mapping[str, DnsOverride]) -> None:
        """Replace the censored names (called from the lab's control thread)."""
        self.overrides = {k.lower().rstrip("."): v for k, v in overrides.items()}

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response to ``query``, or None to stay silent."""
        if len(query.question) != 1:
            return _with_rcode(query, dns.rcode.FORMERR)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        override = self._override_for(name)
        if override is not None:
            return self._lie(query, override)
        if name == WHOAMI_NAME:
            return _addresses(query, (self._own_address,))
        return self._truth(query, name)

    def _override_for(self, name: str) -> DnsOverride | None:
        overrides = self.overrides
        labels = name.split(".")
        for start in range(len(labels)):
            found = overrides.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def _lie(
        self, query: dns.message.Message, override: DnsOverride
    ) -> dns.message.Message | None:
        match override.lie:
            case DnsLie.DROP:
                return None
            case DnsLie.NXDOMAIN:
                return _with_rcode(query, dns.rcode.NXDOMAIN)
            case DnsLie.SERVFAIL:
                return _with_rcode(query, dns.rcode.SERVFAIL)
            case DnsLie.NO_ANSWER:
                return _with_rcode(query, dns.rcode.NOERROR)
        return _addresses(query, override.addresses)

    # Shortcoming: resolvers answer from the zone directly instead of recursing
    # over the network to the authoritative server, so a censor cannot act on
    # the resolver-to-authority path.
    def _truth(self, query: dns.message.Message, name: str) -> dns.message.Message:
        record = self._zone.get(name)
        if record is None:
            response = _with_rcode(query, dns.rcode.NXDOMAIN)
        elif record.cname is not None:
            response = _with_rcode(query, dns.rcode.NOERROR)
            _add(response, query, dns.rdatatype.CNAME, [record.cname + "."])
        else:
            response = _addresses(query, record.addresses)
        if self._authoritative:
            response.flags |= dns.flags.AA
        return response


def _with_rcode(
    query: dns.message.Message, rcode: dns.rcode.Rcode
) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    response.set_rcode(rcode)
    return response


def _addresses(
    query: dns.message.Message, addresses: tuple[str, ...]
) -> dns.message.Message:
    """NOERROR with the IPv4 ``addresses`` for A queries, empty otherwise."""
    response = _with_rcode(query, dns.rcode.NOERROR)
    if query.question[0].rdtype == dns.rdatatype.A and addresses:
        _add(response, query, dns.rdatatype.A, list(addresses))
    return response


def _add(
    response: dns.message.Message,
    query: dns.message.Message,
    rdtype: dns.rdatatype.RdataType,
    values: list[str],
) -> None:
    rrset = dns.rrset.from_text_list(
        query.question[0].name, _TTL, dns.rdataclass.IN, rdtype, values
    )
    response.answer.append(rrset)


# Shortcoming: only DNS over UDP is served (no TCP fallback, no DoH); answers
# never exceed 512 bytes in the lab, and the probe's resolvers use UDP.
class DnsProtocol(asyncio.DatagramProtocol):
    """DNS over UDP for one responder on one socket."""

    def __init__(self, responder: DnsResponder) -> None:
        self._responder = responder
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException as error:
            logger.debug("dns: unparsable query from %s: %s", addr, error)
            return
        response = self._responder.answer(query)
        if response is not None and self._transport is not None:
            self._transport.sendto(response.to_wire(), addr)
