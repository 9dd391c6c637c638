"""Web Connectivity's classic (v0.4.x) analysis, as pure functions of test keys.

The probe runs :func:`analyze` on the keys it just measured; the scoring
pipeline runs it on stored measurements to re-derive verdicts.  Inputs are
the test keys (``queries``, ``dns_experiment_failure``, ``tcp_connect``,
``requests`` in reverse time order, ``control``, ``control_failure``) and the
input URL.  The steps follow probe-cli's classic implementation:

* :func:`dns_consistency`: do the probe's and the control's answers share an
  ASN or an address (NXDOMAIN on both sides is consistent);
* :func:`http_comparison`: body length proportion (> 0.7), status code,
  uncommon header names, long title words;
* :func:`decide`: the ordered decision tree giving ``blocking`` (``dns``,
  ``tcp_ip``, ``http-failure``, ``http-diff``, ``false`` or null),
  ``accessible`` and the ``x_status`` bits.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from censorscope.measurement import failures
from censorscope.measurement.binary import BinaryDecodeError, decode_maybe_binary

AsnLookup = Callable[[str], tuple[int, str]]

CONSISTENT: Final = "consistent"
INCONSISTENT: Final = "inconsistent"
BODY_PROPORTION_FACTOR: Final = 0.7
MIN_TITLE_WORD: Final = 5
TITLE_RE: Final = re.compile(r"<title>([^<]{1,512})</title>", re.IGNORECASE)

# Header names too common to tell two servers apart (probe-cli httpanalysis.go).
COMMON_HEADERS: Final = frozenset(
    {
        "date",
        "content-type",
        "server",
        "cache-control",
        "vary",
        "set-cookie",
        "location",
        "expires",
        "x-powered-by",
        "content-encoding",
        "last-modified",
        "accept-ranges",
        "pragma",
        "x-frame-options",
        "etag",
        "x-content-type-options",
        "age",
        "via",
        "p3p",
        "x-xss-protection",
        "content-language",
        "cf-ray",
        "strict-transport-security",
        "link",
        "x-varnish",
    }
)

# x_status bits (probe-cli summary.go).
SUCCESS_SECURE: Final = 1
SUCCESS_CLEARTEXT: Final = 2
SUCCESS_NXDOMAIN: Final = 4
ANOMALY_CONTROL_UNREACHABLE: Final = 8
ANOMALY_CONTROL_FAILURE: Final = 16
ANOMALY_DNS: Final = 32
ANOMALY_HTTP_DIFF: Final = 64
ANOMALY_CONNECT: Final = 128
ANOMALY_READ_WRITE: Final = 256
ANOMALY_UNKNOWN: Final = 512
ANOMALY_TLS_HANDSHAKE: Final = 1024
EXPERIMENT_DNS: Final = 2048
EXPERIMENT_CONNECT: Final = 4096
EXPERIMENT_HTTP: Final = 8192
BUG_NO_REQUESTS: Final = 16384

# How a failed final request is read: (blocking reason, x_status bit).
_HTTP_FAILURE_REASONS: Final[dict[str, tuple[str, int]]] = {
    failures.CONNECTION_REFUSED: ("http-failure", ANOMALY_CONNECT),
    failures.CONNECTION_RESET: ("http-failure", ANOMALY_READ_WRITE),
    failures.DNS_NXDOMAIN_ERROR: ("dns", ANOMALY_DNS),
    failures.EOF_ERROR: ("http-failure", ANOMALY_READ_WRITE),
    failures.GENERIC_TIMEOUT_ERROR: ("http-failure", ANOMALY_UNKNOWN),
    failures.SSL_INVALID_HOSTNAME: ("http-failure", ANOMALY_TLS_HANDSHAKE),
    failures.SSL_INVALID_CERTIFICATE: ("http-failure", ANOMALY_TLS_HANDSHAKE),
    failures.SSL_UNKNOWN_AUTHORITY: ("http-failure", ANOMALY_TLS_HANDSHAKE),
    # Not in classic v0.4.3's map; LTE (and OONI's QA case 27) call a redirect
    # whose Location has no usable host, sent to the probe only, http-failure.
    failures.HTTP_INVALID_REDIRECT_LOCATION_HOST: ("http-failure", ANOMALY_UNKNOWN),
}


# --- reading stored keys defensively (data from every era) ---


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _host(input_url: str) -> str:
    try:
        return urlsplit(input_url).hostname or ""
    except ValueError:
        return ""


def is_ip_literal(host: str) -> bool:
    """Tell whether ``host`` is an IPv4/IPv6 literal."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def control_http(control: Mapping[str, Any]) -> Mapping[str, Any]:
    """The control's ``http_request`` object ({} when missing)."""
    return _mapping(control.get("http_request"))


def control_addresses(control: Mapping[str, Any]) -> list[str]:
    """The control's resolved addresses (``addrs``; 2016 helpers said ``ips``)."""
    dns = _mapping(control.get("dns"))
    found = dns.get("addrs", dns.get("ips"))
    return [a for a in _list(found) if isinstance(a, str)]


# --- DNS ---


def probe_answers(test_keys: Mapping[str, Any], hostname: str) -> dict[str, int]:
    """Addresses the probe's DNS step returned for ``hostname``, with their ASN."""
    out: dict[str, int] = {}
    for raw_query in _list(test_keys.get("queries")):
        query = _mapping(raw_query)
        if query.get("hostname") not in (hostname, None):
            continue
        for raw_answer in _list(query.get("answers")):
            answer = _mapping(raw_answer)
            ip = answer.get("ipv4") or answer.get("ipv6")
            if isinstance(ip, str):
                out.setdefault(ip, _int(answer.get("asn")))
    return out


def _control_asns(
    control: Mapping[str, Any], addresses: Iterable[str], asn_lookup: AsnLookup | None
) -> set[int]:
    ip_info = _mapping(control.get("ip_info"))
    asns = set()
    for ip in addresses:
        asn = _int(_mapping(ip_info.get(ip)).get("asn"))
        if asn == 0 and asn_lookup is not None:
            asn = asn_lookup(ip)[0]
        asns.add(asn)
    return asns


def dns_consistency(
    test_keys: Mapping[str, Any], input_url: str, asn_lookup: AsnLookup | None = None
) -> str | None:
    """``consistent``/``inconsistent``, or None when the control failed."""
    if test_keys.get("control_failure") is not None:
        return None
    hostname = _host(input_url)
    if is_ip_literal(hostname):
        return CONSISTENT
    control = _mapping(test_keys.get("control"))
    probe_failure = test_keys.get("dns_experiment_failure")
    control_failure = _mapping(control.get("dns")).get("failure")
    if probe_failure is not None and control_failure is not None:
        both_nxdomain = (
            control_failure == failures.LEGACY_DNS_NAME_ERROR
            and probe_failure in failures.NXDOMAIN_LIKE
        )
        return CONSISTENT if both_nxdomain else INCONSISTENT
    return _compare_answers(test_keys, hostname, control, asn_lookup)


def _compare_answers(
    test_keys: Mapping[str, Any],
    hostname: str,
    control: Mapping[str, Any],
    asn_lookup: AsnLookup | None,
) -> str:
    probe = probe_answers(test_keys, hostname)
    if asn_lookup is not None:
        probe = {ip: asn or asn_lookup(ip)[0] for ip, asn in probe.items()}
    theirs = control_addresses(control)
    shared_asns = {a for a in probe.values() if a} & _control_asns(
        control, theirs, asn_lookup
    )
    if shared_asns or set(probe) & set(theirs):
        return CONSISTENT
    return INCONSISTENT


# --- HTTP comparison ---


def final_request(test_keys: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``requests[0]``: the last request of the redirect chain."""
    requests = _list(test_keys.get("requests"))
    return _mapping(requests[0]) if requests else None


def _response(request: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(request.get("response"))


def _body(response: Mapping[str, Any]) -> bytes:
    try:
        return decode_maybe_binary(response.get("body")) or b""
    except (BinaryDecodeError, TypeError):
        return b""


def _header_names(response: Mapping[str, Any]) -> set[str]:
    names = {str(k).lower() for k in _mapping(response.get("headers"))}
    if not names:
        names = {str(p[0]).lower() for p in _list(response.get("headers_list")) if p}
    return names


def page_title(body: bytes) -> str:
    """The page ``<title>`` (first match, at most 512 characters) or ""."""
    match = TITLE_RE.search(body.decode("utf-8", "replace"))
    return match.group(1) if match else ""


def body_length_check(
    request: Mapping[str, Any] | None, control: Mapping[str, Any]
) -> tuple[bool | None, float]:
    """``(body_length_match, body_proportion)``; (None, 0) when not comparable."""
    theirs = _int(control_http(control).get("body_length"))
    if theirs <= 0 or request is None:
        return None, 0.0
    response = _response(request)
    if response.get("body_is_truncated") is True:
        return None, 0.0
    ours = len(_body(response))
    if ours <= 0:
        return None, 0.0
    proportion = min(ours, theirs) / max(ours, theirs)
    return proportion > BODY_PROPORTION_FACTOR, proportion


def status_code_match(
    request: Mapping[str, Any] | None, control: Mapping[str, Any]
) -> bool | None:
    """Equal status codes; None when not comparable or the control got a 5xx."""
    if request is None:
        return None
    ours = _int(_response(request).get("code"))
    theirs = _int(control_http(control).get("status_code"))
    if ours <= 0 or theirs <= 0:
        return None
    if ours == theirs:
        return True
    return None if theirs // 100 == 5 else False


def headers_match(
    request: Mapping[str, Any] | None, control: Mapping[str, Any]
) -> bool | None:
    """Same header names, or at least one uncommon name in common."""
    if request is None:
        return None
    response = _response(request)
    theirs_http = control_http(control)
    if _int(response.get("code")) <= 0 or _int(theirs_http.get("status_code")) <= 0:
        return None
    ours = _header_names(response)
    theirs = {str(k).lower() for k in _mapping(theirs_http.get("headers"))}
    if ours == theirs:
        return True
    return bool((ours - COMMON_HEADERS) & (theirs - COMMON_HEADERS))


def _long_words(title: str) -> set[str]:
    return {w.lower() for w in title.split(" ") if len(w.encode()) >= MIN_TITLE_WORD}


def title_match(
    request: Mapping[str, Any] | None, control: Mapping[str, Any]
) -> bool | None:
    """Every long (5+ byte) title word appears on both sides."""
    if request is None:
        return None
    response = _response(request)
    theirs_http = control_http(control)
    if _int(response.get("code")) <= 0 or response.get("body_is_truncated") is True:
        return None
    if _int(theirs_http.get("status_code")) <= 0:
        return None
    ours = page_title(_body(response))
    if not ours:
        return None
    theirs = theirs_http.get("title")
    return _long_words(ours) == _long_words(theirs if isinstance(theirs, str) else "")


def http_comparison(test_keys: Mapping[str, Any]) -> dict[str, Any]:
    """The five HTTP comparison keys of the classic test."""
    request = final_request(test_keys)
    control = _mapping(test_keys.get("control"))
    length_match, proportion = body_length_check(request, control)
    return {
        "body_length_match": length_match,
        "body_proportion": proportion,
        "status_code_match": status_code_match(request, control),
        "headers_match": headers_match(request, control),
        "title_match": title_match(request, control),
    }


# --- decision tree ---


def _connect_counts(test_keys: Mapping[str, Any]) -> tuple[int, int]:
    entries = [_mapping(e) for e in _list(test_keys.get("tcp_connect"))]
    successes = sum(
        1 for e in entries if _mapping(e.get("status")).get("success") is True
    )
    return len(entries), successes


def _verdict(
    reason: str | None, accessible: bool | None, status: int
) -> dict[str, Any]:
    return {"reason": reason, "accessible": accessible, "x_status": status}


def _decide_dns_and_connect(keys: Mapping[str, Any]) -> dict[str, Any] | None:
    """Rules 2-5: control unreachable, NXDOMAIN, every connect failed."""
    consistency = keys.get("dns_consistency")
    dns_failure = keys.get("dns_experiment_failure")
    if keys.get("control_failure") is not None:
        return _verdict(None, None, ANOMALY_CONTROL_UNREACHABLE)
    if dns_failure in failures.NXDOMAIN_LIKE and consistency == CONSISTENT:
        return _verdict(None, True, SUCCESS_NXDOMAIN | EXPERIMENT_DNS)
    if dns_failure == failures.DNS_NXDOMAIN_ERROR:
        return _verdict("dns", False, ANOMALY_DNS | EXPERIMENT_DNS)
    attempts, successes = _connect_counts(keys)
    if attempts > 0 and successes <= 0 and consistency is not None:
        status = ANOMALY_CONNECT | EXPERIMENT_CONNECT
        if consistency == CONSISTENT:
            return _verdict("tcp_ip", False, status)
        if consistency == INCONSISTENT:
            return _verdict("dns", False, status | ANOMALY_DNS)
        return _verdict(None, None, status | ANOMALY_UNKNOWN)
    return None


def _decide_http_failure(keys: Mapping[str, Any], failure: str) -> dict[str, Any]:
    """Rule 8: the final request failed; name the failure, maybe blame DNS."""
    status = EXPERIMENT_HTTP
    reason, bit = _HTTP_FAILURE_REASONS.get(failure, (None, 0))
    status |= bit
    single_request = len(_list(keys.get("requests"))) == 1
    if reason and single_request and keys.get("dns_consistency") == INCONSISTENT:
        reason, status = "dns", status | ANOMALY_DNS
    return _verdict(reason, False if reason else None, status)


def _decide_http_diff(keys: Mapping[str, Any]) -> dict[str, Any]:
    """Rules 9-10: does the page match the control's."""
    if keys.get("status_code_match") is True and (
        keys.get("body_length_match") is True
        or keys.get("headers_match") is True
        or keys.get("title_match") is True
    ):
        return _verdict(None, True, SUCCESS_CLEARTEXT)
    if keys.get("dns_consistency") == INCONSISTENT:
        return _verdict("dns", False, ANOMALY_HTTP_DIFF | ANOMALY_DNS)
    return _verdict("http-diff", False, ANOMALY_HTTP_DIFF)


def decide(keys: Mapping[str, Any]) -> dict[str, Any]:
    """The classic decision tree over keys that include the comparison keys.

    Returns ``blocking`` (false when accessible, else the reason or None),
    ``accessible`` and ``x_status``.
    """
    verdict = _decide(keys)
    accessible = verdict["accessible"]
    blocking: str | bool | None = False if accessible is True else verdict["reason"]
    return {
        "blocking": blocking,
        "accessible": accessible,
        "x_status": verdict["x_status"],
    }


def _decide(keys: Mapping[str, Any]) -> dict[str, Any]:
    request = final_request(keys)
    if request is not None and request.get("failure") is None:
        url = _mapping(request.get("request")).get("url")
        if isinstance(url, str) and url.startswith("https://"):
            return _verdict(None, True, SUCCESS_SECURE)
    early = _decide_dns_and_connect(keys)
    if early is not None:
        return early
    if control_http(_mapping(keys.get("control"))).get("failure") is not None:
        return _verdict(None, None, ANOMALY_CONTROL_FAILURE)
    if request is None:
        return _verdict(None, None, BUG_NO_REQUESTS)
    # A failure while following a redirect (no usable Location, too many hops)
    # belongs to no round trip: requests[0] succeeded, the experiment did not.
    failure = request.get("failure") or keys.get("http_experiment_failure")
    if isinstance(failure, str):
        return _decide_http_failure(keys, failure)
    return _decide_http_diff(keys)


def analyze(
    test_keys: Mapping[str, Any], input_url: str, asn_lookup: AsnLookup | None = None
) -> dict[str, Any]:
    """Re-derive the classic analysis keys from stored test keys.

    Returns ``dns_consistency``, ``body_length_match``, ``body_proportion``,
    ``status_code_match``, ``headers_match``, ``title_match``, ``blocking``,
    ``accessible`` and ``x_status``.  ``asn_lookup`` (IP -> (asn, org)) fills
    ASNs the stored answers or the control's ``ip_info`` lack; without it
    DNS answers are compared by ASN where stored and otherwise by address.
    """
    out: dict[str, Any] = {
        "dns_consistency": dns_consistency(test_keys, input_url, asn_lookup)
    }
    out.update(http_comparison(test_keys))
    out.update(decide({**test_keys, **out}))
    return out
