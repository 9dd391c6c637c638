"""OONI failure strings (df-007): the one place where their spelling lives.

A measurement's ``failure`` field is ``None`` on success and otherwise one of
these strings.  The network engine classifies every error into one of them at
the network boundary; the scoring pipeline reads them back.  Strings that only
older probes or the web-connectivity test helper emit are kept too, so that
data from every era can be interpreted.
"""

from __future__ import annotations

from typing import Final

# Modern probe failures (probe-cli / df-007).
ANDROID_DNS_CACHE_NO_DATA: Final = "android_dns_cache_no_data"
CONNECTION_ABORTED: Final = "connection_aborted"
CONNECTION_ALREADY_CLOSED: Final = "connection_already_closed"
CONNECTION_REFUSED: Final = "connection_refused"
CONNECTION_RESET: Final = "connection_reset"
DNS_BOGON_ERROR: Final = "dns_bogon_error"
DNS_NO_ANSWER: Final = "dns_no_answer"
DNS_NON_RECOVERABLE_FAILURE: Final = "dns_non_recoverable_failure"
DNS_NXDOMAIN_ERROR: Final = "dns_nxdomain_error"
DNS_REFUSED_ERROR: Final = "dns_refused_error"
DNS_REPLY_WITH_WRONG_QUERY_ID: Final = "dns_reply_with_wrong_query_id"
DNS_SERVER_MISBEHAVING: Final = "dns_server_misbehaving"
DNS_SERVFAIL_ERROR: Final = "dns_servfail_error"
DNS_TEMPORARY_FAILURE: Final = "dns_temporary_failure"
EOF_ERROR: Final = "eof_error"
GENERIC_TIMEOUT_ERROR: Final = "generic_timeout_error"
HOST_UNREACHABLE: Final = "host_unreachable"
HTTP_INVALID_REDIRECT_LOCATION_HOST: Final = "http_invalid_redirect_location_host"
HTTP_REQUEST_FAILED: Final = "http_request_failed"
HTTP_UNEXPECTED_REDIRECT_URL: Final = "http_unexpected_redirect_url"
HTTP_UNEXPECTED_STATUS_CODE: Final = "http_unexpected_status_code"
INTERRUPTED: Final = "interrupted"
JSON_PARSE_ERROR: Final = "json_parse_error"
NETWORK_DOWN: Final = "network_down"
NETWORK_RESET: Final = "network_reset"
NETWORK_UNREACHABLE: Final = "network_unreachable"
QUIC_INCOMPATIBLE_VERSION: Final = "quic_incompatible_version"
SSL_FAILED_HANDSHAKE: Final = "ssl_failed_handshake"
SSL_INVALID_HOSTNAME: Final = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY: Final = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE: Final = "ssl_invalid_certificate"
UNKNOWN_FAILURE: Final = "unknown_failure"

# Extra errno-derived strings probe-cli can emit.
ADDRESS_FAMILY_NOT_SUPPORTED: Final = "address_family_not_supported"
ADDRESS_IN_USE: Final = "address_in_use"
ADDRESS_NOT_AVAILABLE: Final = "address_not_available"
NOT_CONNECTED: Final = "not_connected"
PERMISSION_DENIED: Final = "permission_denied"
TIMED_OUT: Final = "timed_out"

# Legacy strings: ooniprobe 2.x (2016-2019) and the web-connectivity test helper.
LEGACY_CONNECT_ERROR: Final = "connect_error"
LEGACY_CONNECTION_REFUSED_ERROR: Final = "connection_refused_error"
LEGACY_CONNECTION_LOST_ERROR: Final = "connection_lost_error"
LEGACY_DNS_LOOKUP_ERROR: Final = "dns_lookup_error"
LEGACY_DNS_NAME_ERROR: Final = "dns_name_error"
LEGACY_DNS_SERVER_FAILURE: Final = "dns_server_failure"
LEGACY_RESPONSE_NEVER_RECEIVED: Final = "response_never_received"
LEGACY_TCP_TIMED_OUT_ERROR: Final = "tcp_timed_out_error"
LEGACY_UNKNOWN_ERROR: Final = "unknown_error"
LEGACY_DEFERRED_TIMEOUT_ERROR: Final = "deferred_timeout_error"
LEGACY_TASK_TIMED_OUT: Final = "task_timed_out"

MEANINGS: Final[dict[str, str]] = {
    ANDROID_DNS_CACHE_NO_DATA: "Android getaddrinfo returned EAI_NODATA with no reason",
    CONNECTION_ABORTED: "the connection was aborted (ECONNABORTED)",
    CONNECTION_ALREADY_CLOSED: "I/O on a socket already closed locally",
    CONNECTION_REFUSED: "the peer refused the connection (ECONNREFUSED)",
    CONNECTION_RESET: "the connection was reset (ECONNRESET), e.g. an injected RST",
    DNS_BOGON_ERROR: "the DNS reply contained a bogon (private or reserved) address",
    DNS_NO_ANSWER: "the DNS query succeeded but returned no record of that type",
    DNS_NON_RECOVERABLE_FAILURE: "non-recoverable lookup failure",
    DNS_NXDOMAIN_ERROR: "the name does not exist (NXDOMAIN)",
    DNS_REFUSED_ERROR: "the resolver answered REFUSED",
    DNS_REPLY_WITH_WRONG_QUERY_ID: "the DNS reply carried the wrong query id",
    DNS_SERVER_MISBEHAVING: "generic DNS failure",
    DNS_SERVFAIL_ERROR: "the resolver answered SERVFAIL",
    DNS_TEMPORARY_FAILURE: "temporary lookup failure",
    EOF_ERROR: "the peer closed the connection unexpectedly (EOF)",
    GENERIC_TIMEOUT_ERROR: "an operation timed out",
    HOST_UNREACHABLE: "no route to host (EHOSTUNREACH)",
    HTTP_INVALID_REDIRECT_LOCATION_HOST: "a redirect Location had no valid host",
    HTTP_REQUEST_FAILED: "the HTTP status was not a success where one was required",
    HTTP_UNEXPECTED_REDIRECT_URL: "redirect to an unexpected URL",
    HTTP_UNEXPECTED_STATUS_CODE: "unexpected HTTP status code",
    INTERRUPTED: "the user interrupted the operation",
    JSON_PARSE_ERROR: "a JSON document could not be parsed",
    NETWORK_DOWN: "the network is down (ENETDOWN)",
    NETWORK_RESET: "the network dropped the connection (ENETRESET)",
    NETWORK_UNREACHABLE: "the network is unreachable (ENETUNREACH)",
    QUIC_INCOMPATIBLE_VERSION: "QUIC version negotiation failed",
    SSL_FAILED_HANDSHAKE: "the TLS handshake failed for another reason",
    SSL_INVALID_HOSTNAME: "the certificate is not valid for the requested name",
    SSL_UNKNOWN_AUTHORITY: "the certificate was signed by an unknown authority",
    SSL_INVALID_CERTIFICATE: "the certificate is invalid (e.g. expired)",
    UNKNOWN_FAILURE: "an error that has no more specific string; details follow",
    ADDRESS_FAMILY_NOT_SUPPORTED: "address family not supported (EAFNOSUPPORT)",
    ADDRESS_IN_USE: "address already in use (EADDRINUSE)",
    ADDRESS_NOT_AVAILABLE: "cannot assign the requested address (EADDRNOTAVAIL)",
    NOT_CONNECTED: "the socket is not connected (ENOTCONN)",
    PERMISSION_DENIED: "permission denied (EACCES / EPERM)",
    TIMED_OUT: "the kernel reported a timeout (ETIMEDOUT)",
    LEGACY_CONNECT_ERROR: "legacy: generic TCP connect failure",
    LEGACY_CONNECTION_REFUSED_ERROR: "legacy: connection refused",
    LEGACY_CONNECTION_LOST_ERROR: "legacy: connection lost",
    LEGACY_DNS_LOOKUP_ERROR: "legacy / test helper: DNS lookup failed",
    LEGACY_DNS_NAME_ERROR: "legacy / test helper: NXDOMAIN",
    LEGACY_DNS_SERVER_FAILURE: "test helper: the resolver failed",
    LEGACY_RESPONSE_NEVER_RECEIVED: "legacy: no response arrived",
    LEGACY_TCP_TIMED_OUT_ERROR: "legacy: TCP connect timed out",
    LEGACY_UNKNOWN_ERROR: "legacy / test helper: unclassified error",
    LEGACY_DEFERRED_TIMEOUT_ERROR: "legacy: timeout",
    LEGACY_TASK_TIMED_OUT: "legacy: the task timed out",
}

DNS_FAILURES: Final = frozenset(
    {
        ANDROID_DNS_CACHE_NO_DATA,
        DNS_BOGON_ERROR,
        DNS_NO_ANSWER,
        DNS_NON_RECOVERABLE_FAILURE,
        DNS_NXDOMAIN_ERROR,
        DNS_REFUSED_ERROR,
        DNS_REPLY_WITH_WRONG_QUERY_ID,
        DNS_SERVER_MISBEHAVING,
        DNS_SERVFAIL_ERROR,
        DNS_TEMPORARY_FAILURE,
        LEGACY_DNS_LOOKUP_ERROR,
        LEGACY_DNS_NAME_ERROR,
        LEGACY_DNS_SERVER_FAILURE,
    }
)

NXDOMAIN_LIKE: Final = frozenset({DNS_NXDOMAIN_ERROR, ANDROID_DNS_CACHE_NO_DATA})

TLS_CERTIFICATE_FAILURES: Final = frozenset(
    {SSL_INVALID_HOSTNAME, SSL_UNKNOWN_AUTHORITY, SSL_INVALID_CERTIFICATE}
)

TIMEOUT_FAILURES: Final = frozenset(
    {
        GENERIC_TIMEOUT_ERROR,
        TIMED_OUT,
        LEGACY_TCP_TIMED_OUT_ERROR,
        LEGACY_DEFERRED_TIMEOUT_ERROR,
        LEGACY_TASK_TIMED_OUT,
    }
)


def is_unknown(failure: str | None) -> bool:
    """Tell whether a failure is the catch-all ``unknown_failure: ...`` form."""
    return failure is not None and failure.startswith(UNKNOWN_FAILURE)


def unknown(details: str) -> str:
    """Build the catch-all failure string for an error with no specific name."""
    return f"{UNKNOWN_FAILURE}: {details}"


def meaning(failure: str) -> str:
    """Explain a failure string in words, for humans reading a measurement."""
    if failure in MEANINGS:
        return MEANINGS[failure]
    if is_unknown(failure):
        return MEANINGS[UNKNOWN_FAILURE]
    return "unrecognised failure string"
