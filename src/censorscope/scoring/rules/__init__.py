"""Scoring rules, one function per test name.

Each rule takes the measurement document and the fingerprint database and
returns an :class:`~censorscope.scoring.verdict.Assessment`.  ``RULES`` maps
``test_name`` to its rule; tests missing from it are scored as failed.
The rules are documented, with the reasons behind them, in docs/scoring.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rules import circumvention, im, middlebox, other, web
from censorscope.scoring.verdict import Assessment

Rule = Callable[[dict[str, Any], FingerprintDB], Assessment]

RULES: Final[dict[str, Rule]] = {
    "web_connectivity": web.score_web_connectivity,
    "http_requests": web.score_http_requests,
    "whatsapp": im.score_whatsapp,
    "telegram": im.score_telegram,
    "facebook_messenger": im.score_facebook_messenger,
    "signal": im.score_signal,
    "http_header_field_manipulation": middlebox.score_hhfm,
    "http_invalid_request_line": middlebox.score_hirl,
    "vanilla_tor": circumvention.score_vanilla_tor,
    "tor": circumvention.score_tor,
    "torsf": circumvention.score_torsf,
    "psiphon": circumvention.score_psiphon,
    "meek_fronted_requests_test": circumvention.score_meek,
    "openvpn": circumvention.score_openvpn,
    "riseupvpn": circumvention.score_riseupvpn,
    "tcp_connect": other.score_tcp_connect,
    "dash": other.score_dash,
    "ndt": other.score_not_scored,
    "dns_consistency": other.score_dns_consistency,
    "browser_web": other.score_browser_web,
    "stunreachability": other.score_stunreachability,
    "dnscheck": other.score_dnscheck,
    "urlgetter": other.score_urlgetter,
}


def rule_for(test_name: str) -> Rule:
    """The rule of a test; unknown tests get the 'no rules: failed' rule."""
    return RULES.get(test_name, other.score_unsupported)
