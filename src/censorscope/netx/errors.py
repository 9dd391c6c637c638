"""Classifying errors into OONI failure strings, once, at the network boundary.

Every operation in :mod:`censorscope.netx` catches what the OS, ``ssl``, h11 or
dnspython raised and turns it into a failure string (df-007) with
:func:`classify`.  The order is fixed, so the same error always gets the same
name:

1. :class:`NetxError` (an error we raised ourselves, already named);
2. ``getaddrinfo`` errors (``socket.gaierror``), by their EAI code;
3. TLS errors: certificate verification by OpenSSL's verify code, EOF during
   the handshake, anything else is ``ssl_failed_handshake``;
4. syscall errors, by errno;
5. timeouts and cancellation;
6. known messages from libraries that do not raise typed errors;
7. ``unknown_failure: <message>`` with IP addresses scrubbed.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
import ssl
from typing import Final

import dns.exception

from censorscope.measurement import failures

# Syscall errors probe-cli names (netxlite errno tables, df-007).
_ERRNO: Final[dict[int, str]] = {
    errno.ECONNREFUSED: failures.CONNECTION_REFUSED,
    errno.ECONNRESET: failures.CONNECTION_RESET,
    errno.ECONNABORTED: failures.CONNECTION_ABORTED,
    errno.EHOSTUNREACH: failures.HOST_UNREACHABLE,
    errno.ENETUNREACH: failures.NETWORK_UNREACHABLE,
    errno.ENETDOWN: failures.NETWORK_DOWN,
    errno.ENETRESET: failures.NETWORK_RESET,
    errno.ETIMEDOUT: failures.TIMED_OUT,
    errno.EADDRINUSE: failures.ADDRESS_IN_USE,
    errno.EADDRNOTAVAIL: failures.ADDRESS_NOT_AVAILABLE,
    errno.EAFNOSUPPORT: failures.ADDRESS_FAMILY_NOT_SUPPORTED,
    errno.EACCES: failures.PERMISSION_DENIED,
    errno.EPERM: failures.PERMISSION_DENIED,
    errno.ENOTCONN: failures.NOT_CONNECTED,
    errno.EINTR: failures.INTERRUPTED,
}

# getaddrinfo's EAI codes (netxlite getaddrinfo_cgo.go).
_GAI: Final[dict[int, str]] = {
    socket.EAI_NONAME: failures.DNS_NXDOMAIN_ERROR,
    socket.EAI_AGAIN: failures.DNS_TEMPORARY_FAILURE,
    socket.EAI_FAIL: failures.DNS_NON_RECOVERABLE_FAILURE,
}
_EAI_NODATA: Final = getattr(socket, "EAI_NODATA", None)
if _EAI_NODATA is not None:
    _GAI[_EAI_NODATA] = failures.DNS_NO_ANSWER

# OpenSSL X509_V_ERR_* codes meaning "I do not know who signed this".
_UNKNOWN_AUTHORITY_CODES: Final = frozenset({2, 18, 19, 20, 21, 27})
_HOSTNAME_MISMATCH_CODES: Final = frozenset({62, 64})

# Messages of libraries that raise untyped errors, matched by substring.
_KNOWN_MESSAGES: Final = (
    ("peer closed connection", failures.EOF_ERROR),
    ("unexpectedly closed connection", failures.EOF_ERROR),
    ("connection lost", failures.EOF_ERROR),
    ("unexpected eof", failures.EOF_ERROR),
    ("connection reset", failures.CONNECTION_RESET),
    ("connection refused", failures.CONNECTION_REFUSED),
)

_IPV4: Final = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# Candidates only: a match is replaced if it parses as an IPv6 address.
_IPV6: Final = re.compile(
    r"\[?(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}\]?"
)
SCRUBBED: Final = "[scrubbed]"


class NetxError(Exception):
    """An error netx raises itself, already named with its failure string."""

    def __init__(self, failure: str, detail: str = "") -> None:
        super().__init__(detail or failure)
        self.failure = failure


def _scrub_ipv6(match: re.Match[str]) -> str:
    """Replace a candidate only if it parses: ``12:34:56`` is a time, not an IP."""
    try:
        ipaddress.IPv6Address(match.group().strip("[]"))
    except ValueError:
        return match.group()
    return SCRUBBED


def scrub_addresses(text: str) -> str:
    """Replace IPv4 and IPv6 literals, so error text never leaks an address."""
    return _IPV6.sub(_scrub_ipv6, _IPV4.sub(SCRUBBED, text))


def _classify_gai(error: socket.gaierror) -> str | None:
    if error.errno is None:
        return None
    return _GAI.get(error.errno)


def _classify_tls(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in _HOSTNAME_MISMATCH_CODES:
            return failures.SSL_INVALID_HOSTNAME
        if code in _UNKNOWN_AUTHORITY_CODES:
            return failures.SSL_UNKNOWN_AUTHORITY
        return failures.SSL_INVALID_CERTIFICATE
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return failures.EOF_ERROR
    return failures.SSL_FAILED_HANDSHAKE


def _classify_typed(error: BaseException) -> str | None:
    """Steps 1-5 of the fixed order: everything decided by the error's type."""
    if isinstance(error, NetxError):
        return error.failure
    if isinstance(error, socket.gaierror):
        return _classify_gai(error)
    if isinstance(error, ssl.SSLError):
        return _classify_tls(error)
    if isinstance(error, OSError) and error.errno in _ERRNO:
        return _ERRNO[error.errno]
    if isinstance(error, TimeoutError | dns.exception.Timeout):
        return failures.GENERIC_TIMEOUT_ERROR
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        return failures.INTERRUPTED
    return None


def _classify_message(error: BaseException) -> str | None:
    text = str(error).lower()
    for needle, failure in _KNOWN_MESSAGES:
        if needle in text:
            return failure
    return None


def classify(error: BaseException) -> str:
    """Name ``error`` with an OONI failure string (see the module docstring)."""
    failure = _classify_typed(error)
    if failure is None:
        failure = _classify_message(error)
    if failure is not None:
        return failure
    detail = str(error) or type(error).__name__
    return failures.unknown(scrub_addresses(detail))
