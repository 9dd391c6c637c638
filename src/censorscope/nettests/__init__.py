"""The network tests: one module per OONI test, and the registry the runner uses.

Every test is a :class:`~censorscope.nettests.base.NetTest` built on the
instrumented engine :mod:`censorscope.netx`; its endpoints (hostnames,
addresses, ports, helper URLs) are configuration with today's real values as
defaults (``TestContext.endpoints[test_name]``), so the censorship lab can
point it at its own servers.  ``web_connectivity_analysis`` holds the pure
verdict logic the scoring pipeline re-runs on stored measurements.
"""

from __future__ import annotations

from typing import Final

from censorscope.nettests.base import NetTest
from censorscope.nettests.dnscheck import DNSCheck
from censorscope.nettests.facebook_messenger import FacebookMessenger
from censorscope.nettests.http_header_field_manipulation import (
    HTTPHeaderFieldManipulation,
)
from censorscope.nettests.http_invalid_request_line import HTTPInvalidRequestLine
from censorscope.nettests.signal import Signal
from censorscope.nettests.stunreachability import STUNReachability
from censorscope.nettests.telegram import Telegram
from censorscope.nettests.urlgetter import URLGetter
from censorscope.nettests.web_connectivity import WebConnectivity
from censorscope.nettests.whatsapp import WhatsApp

REGISTRY: Final[dict[str, type[NetTest]]] = {
    test.name: test
    for test in (
        WebConnectivity,
        FacebookMessenger,
        Telegram,
        WhatsApp,
        Signal,
        HTTPInvalidRequestLine,
        HTTPHeaderFieldManipulation,
        DNSCheck,
        STUNReachability,
        URLGetter,
    )
}

GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "websites": ("web_connectivity",),
    "im": ("facebook_messenger", "telegram", "whatsapp", "signal"),
    "middlebox": ("http_invalid_request_line", "http_header_field_manipulation"),
    "experimental": ("dnscheck", "stunreachability"),
}

__all__ = ["GROUPS", "REGISTRY"]
