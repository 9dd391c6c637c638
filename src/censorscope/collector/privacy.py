"""A last safeguard for the probe's privacy: its own address never gets archived.

Probes are supposed to scrub their public IP before submitting (OONI writes
``[scrubbed]``).  If the address the submission came from is a public one
and appears anyway, the collector replaces it the same way before storing.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any, Final

import orjson

logger = logging.getLogger(__name__)

SCRUBBED: Final = b"[scrubbed]"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address_pattern(address: IPAddress) -> re.Pattern[bytes]:
    # Boundaries stop 1.2.3.4 from matching inside 11.2.3.45 (or an IPv6
    # address inside a longer one) while "1.2.3.4:443" still matches.
    escaped = re.escape(str(address).encode("ascii"))
    if address.version == 4:
        return re.compile(rb"(?<![0-9.])" + escaped + rb"(?![0-9]|\.[0-9])")
    return re.compile(rb"(?<![0-9A-Fa-f:])" + escaped + rb"(?![0-9A-Fa-f:])")


def scrub_client_address(
    doc: dict[str, Any], client_host: str | None
) -> dict[str, Any]:
    """``doc`` with every occurrence of a public ``client_host`` scrubbed.

    Returns ``doc`` itself when there is nothing to scrub (the usual case).
    """
    try:
        address = ipaddress.ip_address(client_host or "")
    except ValueError:
        return doc
    if not address.is_global:
        return doc
    # Shortcoming: only the canonical text form is matched; an IPv6 address
    # written expanded or with upper-case hex inside the measurement is not.
    pattern = _address_pattern(address)
    text = orjson.dumps(doc)
    scrubbed, count = pattern.subn(SCRUBBED, text)
    if count == 0:
        return doc
    logger.warning("submission carried its sender's address %d times: scrubbed", count)
    result: dict[str, Any] = orjson.loads(scrubbed)
    return result
