"""What web_connectivity's control says about the probe's classic verdict.

The probe's ``blocking``/``accessible`` follow OONI's classic v0.4 tree and
are kept as the probe wrote them (OONI compatibility).  That tree compares
with the control only in places, so it calls a site refused everywhere
``tcp_ip``, a name without addresses ``dns``, a CDN's CAPTCHA ``http-diff``,
and gives up (null) on a certificate that is bad for everybody.  These rules
read the control step by step, as OONI's newer (LTE) analysis does, and say
what the measurement means; docs/scoring.md ("What the control says") gives
the reasons:

* ``down_*``: the control could not fetch the site either, and failed at
  the same step, for the same endpoints: down or misconfigured, not blocked;
* ``known_false_positive``: the page behind an ``http-diff`` matches an OONI
  ``fp`` fingerprint (a CDN challenge, a default server page), nothing else;
* ``dns_failed_for_probe_only``: the probe's resolver gave no address for a
  name the control resolved, which the classic tree leaves undecided.

Every function reads stored keys of any era defensively: a missing or
malformed key makes a rule not fire, never raise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from censorscope.measurement import failures as f
from censorscope.scoring import verdict as v
from censorscope.scoring.fingerprints import Fingerprint

DOWN: Final = "down"
FALSE_POSITIVE: Final = "false_positive"
MISSED: Final = "missed"
FP_SCOPE: Final = "fp"  # OONI's scope for fingerprints of known false positives
# A control DNS answer that means "this name has no address" (not a timeout).
_NO_ADDRESS: Final = frozenset(
    {None, f.LEGACY_DNS_NAME_ERROR, f.DNS_NXDOMAIN_ERROR, f.DNS_NO_ANSWER}
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Finding:
    """What the control tells: ``kind`` is DOWN, FALSE_POSITIVE or MISSED.

    ``excuses_null``: the finding explains an undecided (null) probe verdict,
    so the measurement is usable, not a failure.
    """

    rule: str
    kind: str
    mechanism: str | None = None
    excuses_null: bool = False


@dataclass(frozen=True, slots=True)
class _Facts:
    """The pieces of probe and control the rules compare."""

    keys: Mapping[str, Any]
    control: Mapping[str, Any]
    probe_ips: list[IpAddress]
    control_ips: list[IpAddress]
    same_site: bool  # the probe's addresses are the site's (DNS agrees)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ips(values: Iterable[Any]) -> list[IpAddress]:
    """The values that are IP addresses (control ``addrs`` may hold CNAMEs)."""
    found: list[IpAddress] = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            found.append(ipaddress.ip_address(value))
        except ValueError:
            continue
    return found


def probe_ips(keys: Mapping[str, Any]) -> list[IpAddress]:
    """Every address in the probe's DNS answers."""
    values: list[Any] = []
    for query in _list(keys.get("queries")):
        for answer in _list(_mapping(query).get("answers")):
            answer_map = _mapping(answer)
            values.append(answer_map.get("ipv4") or answer_map.get("ipv6"))
    return _ips(values)


def control_of(keys: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The control, when the test helper answered (else None)."""
    control = keys.get("control")
    if keys.get("control_failure") is not None or not isinstance(control, Mapping):
        return None
    return control


def control_ips(control: Mapping[str, Any]) -> list[IpAddress]:
    """The control's resolved addresses (``addrs``; 2016 helpers said ``ips``)."""
    dns = _mapping(control.get("dns"))
    return _ips(_list(dns.get("addrs", dns.get("ips"))))


def _is_ip_literal(url: Any) -> bool:
    try:
        host = urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        return False
    return bool(host) and bool(_ips([host]))


def _facts(keys: Mapping[str, Any], url: Any) -> _Facts | None:
    control = control_of(keys)
    if control is None:
        return None
    ours, theirs = probe_ips(keys), control_ips(control)
    same_site = (
        keys.get("dns_consistency") == "consistent"
        or (bool(ours) and set(ours) <= set(theirs))
        or _is_ip_literal(url)
    )
    return _Facts(keys, control, ours, theirs, same_site)


def _nothing_to_explain(keys: Mapping[str, Any]) -> bool:
    """The probe reached the page and called it accessible: most measurements.

    (A 5xx page may still be down for both; checked before this shortcut.)
    """
    return (
        keys.get("blocking") is False
        and keys.get("dns_experiment_failure") is None
        and keys.get("http_experiment_failure") is None
        and _final_code(keys) // 100 != 5
    )


def _endpoint(ip: Any, port: Any) -> str | None:
    if not isinstance(ip, str) or not isinstance(port, int):
        return None
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _probe_connects(keys: Mapping[str, Any]) -> list[tuple[str | None, bool]]:
    """(endpoint, succeeded) for each of the probe's TCP connects."""
    found = []
    for entry in _list(keys.get("tcp_connect")):
        entry_map = _mapping(entry)
        status = _mapping(entry_map.get("status"))
        endpoint = _endpoint(entry_map.get("ip"), entry_map.get("port"))
        found.append((endpoint, status.get("success") is True))
    return found


def _control_step_failed(control: Mapping[str, Any], step: str, endpoint: Any) -> bool:
    """The control's ``tcp_connect``/``tls_handshake`` at ``endpoint`` failed."""
    result = _mapping(_mapping(control.get(step)).get(endpoint))
    return result.get("status") is False or isinstance(result.get("failure"), str)


def _http_failure(keys: Mapping[str, Any]) -> str | None:
    failure = keys.get("http_experiment_failure")
    return failure if isinstance(failure, str) else None


def _control_http(control: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(control.get("http_request"))


def _control_http_failure(control: Mapping[str, Any]) -> str | None:
    failure = _control_http(control).get("failure")
    return failure if isinstance(failure, str) else None


# --- the site is down or misconfigured: the control failed at the same step ---


def _control_fetch_failed(facts: _Facts) -> bool:
    """The control could not get the page either: no address, a failure, a 5xx.

    Every down rule needs it: a site the control fetched is up, whatever
    failed for the probe (an address in the right AS that refuses, say).
    """
    status = _control_http(facts.control).get("status_code")
    server_error = isinstance(status, int) and status // 100 == 5
    failed = _control_http_failure(facts.control) is not None
    return failed or server_error or not facts.control_ips


def _down_no_address(facts: _Facts) -> bool:
    """No address for the probe, and none for the control (NXDOMAIN, CNAME only)."""
    probe_failed = isinstance(facts.keys.get("dns_experiment_failure"), str)
    dns = facts.control.get("dns")
    if not probe_failed or facts.probe_ips or not isinstance(dns, Mapping):
        return False
    return not facts.control_ips and dns.get("failure") in _NO_ADDRESS


def is_bogon(ip: IpAddress) -> bool:
    """An address no public server has: loopback, unspecified, link-local...

    Private ranges (RFC 1918, ULA) are left out: intranet sites and the lab's
    whole internet use them, and a site resolving to one everywhere is down
    by ``down_connect`` when nothing answers there.
    """
    return (
        ip.is_loopback
        or ip.is_unspecified
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
    )


def _down_bogon_dns(facts: _Facts) -> bool:
    """Probe and control both resolved the name to bogons only (127.0.0.1...)."""
    if not facts.probe_ips or not facts.control_ips:
        return False
    return all(is_bogon(ip) for ip in [*facts.probe_ips, *facts.control_ips])


def _down_connect(facts: _Facts) -> bool:
    """Every probe connect failed, and the control's to the same endpoints too."""
    connects = _probe_connects(facts.keys)
    if not facts.same_site or not connects or any(ok for _, ok in connects):
        return False
    return all(
        endpoint is not None
        and _control_step_failed(facts.control, "tcp_connect", endpoint)
        for endpoint, _ in connects
    )


def _is_certificate_failure(failure: str | None) -> bool:
    if failure is None:
        return False
    legacy = failure.startswith("ssl_error") and "certificate" in failure
    return failure in f.TLS_CERTIFICATE_FAILURES or legacy


def _control_tls_failed(facts: _Facts) -> bool:
    """The control's fetch failed in TLS (its string, or a failed handshake)."""
    failure = _control_http_failure(facts.control)
    if failure is None:
        return False
    if failure.startswith("ssl_"):
        return True
    handshakes = _mapping(facts.control.get("tls_handshake"))
    addresses = {str(ip) for ip in facts.control_ips}
    return any(
        str(_mapping(result).get("failure") or "").startswith("ssl_")
        and endpoint.rpartition(":")[0].strip("[]") in addresses
        for endpoint, result in handshakes.items()
    )


def _down_tls(facts: _Facts) -> bool:
    """A certificate error for the probe, a TLS failure for the control's fetch."""
    if not facts.same_site or not _is_certificate_failure(_http_failure(facts.keys)):
        return False
    return _control_tls_failed(facts)


def _final_code(keys: Mapping[str, Any]) -> int:
    requests = _list(keys.get("requests"))
    response = _mapping(_mapping(requests[0]).get("response")) if requests else {}
    code = response.get("code")
    return code if isinstance(code, int) else 0


def _down_server_error(facts: _Facts) -> bool:
    """The server answered both with a 5xx error."""
    if not facts.same_site or _http_failure(facts.keys) is not None:
        return False
    theirs = _control_http(facts.control).get("status_code")
    return (
        _final_code(facts.keys) // 100 == 5
        and isinstance(theirs, int)
        and (theirs // 100 == 5)
    )


def _down_http(facts: _Facts) -> bool:
    """The probe's and the control's fetches both failed (TCP was not blocked)."""
    connects = _probe_connects(facts.keys)
    connect_blocked = bool(connects) and not any(ok for _, ok in connects)
    return (
        facts.same_site
        and not connect_blocked
        and _http_failure(facts.keys) is not None
        and _control_http_failure(facts.control) is not None
    )


# (rule id, test, whether it explains an undecided verdict), most specific first.
_DOWN_RULES: Final[tuple[tuple[str, Callable[[_Facts], bool], bool], ...]] = (
    ("web_connectivity.down_no_address", _down_no_address, True),
    ("web_connectivity.down_bogon_dns", _down_bogon_dns, True),
    ("web_connectivity.down_connect", _down_connect, True),
    ("web_connectivity.down_tls", _down_tls, True),
    ("web_connectivity.down_server_error", _down_server_error, True),
    # Generic: the two failures may differ, so a null verdict stays a failure.
    ("web_connectivity.down_http", _down_http, False),
)


# --- not blocking: a known false positive ---


def is_known_false_positive(
    keys: Mapping[str, Any], matches: list[Fingerprint]
) -> bool:
    """An ``http-diff`` whose page matches only ``fp``-scope fingerprints."""
    if keys.get("blocking") != v.HTTP_DIFF:
        return False
    on_pages = [fp for fp in matches if fp.location_found != "dns"]
    return bool(on_pages) and all(fp.scope == FP_SCOPE for fp in on_pages)


# --- interference the classic verdict leaves undecided ---


def _dns_failed_for_probe_only(facts: _Facts) -> bool:
    """The probe got no address (not NXDOMAIN: classic calls that ``dns``)."""
    dns = _mapping(facts.control.get("dns"))
    return (
        facts.keys.get("blocking") is None
        and isinstance(facts.keys.get("dns_experiment_failure"), str)
        and not facts.probe_ips
        and bool(facts.control_ips)
        and dns.get("failure") is None
    )


def read_control(
    keys: Mapping[str, Any], url: Any, matches: list[Fingerprint]
) -> Finding | None:
    """The first finding that applies, or None when the control tells nothing."""
    if _nothing_to_explain(keys):
        return None
    facts = _facts(keys, url)
    if facts is None:
        return None
    if _control_fetch_failed(facts):
        for rule, applies, excuses_null in _DOWN_RULES:
            if applies(facts):
                return Finding(rule, DOWN, excuses_null=excuses_null)
    if is_known_false_positive(keys, matches):
        return Finding("web_connectivity.known_false_positive", FALSE_POSITIVE)
    if _dns_failed_for_probe_only(facts):
        rule = "web_connectivity.dns_failed_for_probe_only"
        return Finding(rule, MISSED, v.DNS, excuses_null=True)
    return None


def control_ip_texts(keys: Mapping[str, Any]) -> frozenset[str]:
    """The control's addresses as strings (to compare with DNS fingerprints)."""
    control = control_of(keys)
    return frozenset(str(ip) for ip in control_ips(control)) if control else frozenset()


# --- which step of the final request failed ---


def failed_step(keys: Mapping[str, Any]) -> str | None:
    """``connect``, ``tls`` or ``http``: where the final request broke.

    Read from the network events of the final request's transaction; None
    when the measurement has none (probes before 2020, measurement-kit).
    """
    requests = _list(keys.get("requests"))
    transaction = _mapping(requests[0]).get("transaction_id") if requests else None
    if not isinstance(transaction, int):
        return None
    events = [
        _mapping(event)
        for event in _list(keys.get("network_events"))
        if _mapping(event).get("transaction_id") == transaction
    ]
    operations = {event.get("operation") for event in events}
    if any(e.get("operation") == "connect" and e.get("failure") for e in events):
        return "connect"
    exchanged = "http_transaction_start" in operations
    if "tls_handshake_start" in operations and not exchanged:
        return "tls"
    return "http" if exchanged else None
