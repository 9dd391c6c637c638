"""Removing the probe's own IP address from a measurement.

Every occurrence of the address is replaced by ``[scrubbed]``: in every
string (keys too), inside base64 bodies (``{"format": "base64", ...}``) and in
strings that are themselves base64 (some tests store raw bytes that way).
Matches respect digit boundaries so that ``1.2.3.4`` does not eat into
``11.2.3.45``, which belongs to somebody else.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from typing import Any, Final

from censorscope.measurement.model import SCRUBBED

_SCRUBBED_BYTES: Final = SCRUBBED.encode("ascii")
# A whole string in standard, padded base64; short strings are left alone
# because they decode to too few bytes to hold an address.
_BASE64_RE: Final = re.compile(
    r"^(?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
)


# Shortcoming: only textual and base64 forms are scrubbed; the address spelt
# as a reverse-DNS name (7.113.0.203.in-addr.arpa), dashed inside an ISP
# hostname (host-203-0-113-7) or as hex/integer is not recognised.
def _address_forms(address: str) -> list[str]:
    """The spellings of ``address`` to look for (IPv6 has several)."""
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return [str(parsed)]
    forms = {parsed.compressed, parsed.exploded}
    return sorted(forms, key=len, reverse=True)


def _pattern_text(address: str) -> str:
    version = ipaddress.ip_address(address).version
    forms = "|".join(re.escape(form) for form in _address_forms(address))
    if version == 4:
        return rf"(?<![0-9])(?:{forms})(?![0-9])"
    return rf"(?<![0-9A-Fa-f:])(?:{forms})(?![0-9A-Fa-f:])"


class Scrubber:
    """Replaces a set of addresses wherever they occur in a JSON value.

    With no addresses (the probe IP is unknown) it returns values unchanged;
    callers must then not publish (see :attr:`knows_address`).
    """

    def __init__(self, addresses: Iterable[str | None]) -> None:
        known = sorted({a for a in addresses if a}, key=len, reverse=True)
        self.knows_address = bool(known)
        # "(?!)" never matches: nothing to scrub when no address is known.
        pattern = "|".join(_pattern_text(a) for a in known) or "(?!)"
        self._text = re.compile(pattern, re.IGNORECASE)
        self._bytes = re.compile(pattern.encode(), re.IGNORECASE)

    def scrub(self, value: Any) -> Any:
        """A copy of the JSON value ``value`` with every address replaced."""
        if not self.knows_address:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._scrub_string(value)
        if isinstance(value, dict):
            return {self._scrub_string(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        return value

    def _scrub_string(self, text: str) -> str:
        scrubbed = self._text.sub(SCRUBBED, text)
        if scrubbed != text:
            return scrubbed
        return self._scrub_base64(text)

    def _scrub_base64(self, text: str) -> str:
        """Scrub inside ``text`` when it is base64 whose bytes hold the address."""
        if not _BASE64_RE.match(text):
            return text
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error:
            return text
        return self.scrub_bytes(raw, original=text)

    def scrub_bytes(self, raw: bytes, original: str) -> str:
        """Re-encode ``raw`` scrubbed, or return ``original`` if nothing matched."""
        cleaned, count = self._bytes.subn(_SCRUBBED_BYTES, raw)
        if not count:
            return original
        return base64.b64encode(cleaned).decode("ascii")

    def contains_address(self, value: Any) -> bool:
        """Tell whether ``value`` still holds an address (used to double-check)."""
        return self.knows_address and self.scrub(value) != value
