"""The classifier names each error once, in a fixed order."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import dns.exception
import h11
import pytest

from censorscope.measurement import failures
from censorscope.netx.errors import NetxError, classify, scrub_addresses


def _cert_error(code: int) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_code = code
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
            failures.CONNECTION_REFUSED,
        ),
        (ConnectionResetError(errno.ECONNRESET, "reset"), failures.CONNECTION_RESET),
        (ConnectionAbortedError(errno.ECONNABORTED, "x"), failures.CONNECTION_ABORTED),
        (OSError(errno.EHOSTUNREACH, "no route"), failures.HOST_UNREACHABLE),
        (OSError(errno.ENETUNREACH, "unreachable"), failures.NETWORK_UNREACHABLE),
        (OSError(errno.ENETDOWN, "down"), failures.NETWORK_DOWN),
        (OSError(errno.ETIMEDOUT, "kernel timeout"), failures.TIMED_OUT),
        (OSError(errno.EADDRNOTAVAIL, "x"), failures.ADDRESS_NOT_AVAILABLE),
        (OSError(errno.EACCES, "x"), failures.PERMISSION_DENIED),
        (TimeoutError(), failures.GENERIC_TIMEOUT_ERROR),
        (dns.exception.Timeout(), failures.GENERIC_TIMEOUT_ERROR),
        (asyncio.CancelledError(), failures.INTERRUPTED),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            failures.DNS_NXDOMAIN_ERROR,
        ),
        (
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure"),
            failures.DNS_TEMPORARY_FAILURE,
        ),
        (
            socket.gaierror(socket.EAI_FAIL, "Non-recoverable"),
            failures.DNS_NON_RECOVERABLE_FAILURE,
        ),
        (socket.gaierror(socket.EAI_NODATA, "No address"), failures.DNS_NO_ANSWER),
        (_cert_error(62), failures.SSL_INVALID_HOSTNAME),
        (_cert_error(20), failures.SSL_UNKNOWN_AUTHORITY),
        (_cert_error(19), failures.SSL_UNKNOWN_AUTHORITY),
        (_cert_error(10), failures.SSL_INVALID_CERTIFICATE),
        (
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
            failures.EOF_ERROR,
        ),
        (
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            failures.SSL_FAILED_HANDSHAKE,
        ),
        (
            h11.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ),
            failures.EOF_ERROR,
        ),
        (NetxError(failures.DNS_SERVFAIL_ERROR), failures.DNS_SERVFAIL_ERROR),
    ],
)
def test_each_error_gets_its_failure_string(
    error: BaseException, expected: str
) -> None:
    assert classify(error) == expected


def test_ssl_error_errno_is_not_mistaken_for_a_syscall_errno() -> None:
    # SSLError.errno is an OpenSSL code (1 == EPERM as an errno).
    assert (
        classify(ssl.SSLError(1, "handshake failure")) == failures.SSL_FAILED_HANDSHAKE
    )


def test_unknown_errors_keep_their_message_with_addresses_scrubbed() -> None:
    failure = classify(ValueError("bad reply from 10.1.2.3 and [2001:db8::1]:443"))
    assert failure == "unknown_failure: bad reply from [scrubbed] and [scrubbed]:443"


def test_scrubbing_leaves_text_without_addresses_alone() -> None:
    assert scrub_addresses("stopped after 10 redirects") == "stopped after 10 redirects"


def test_scrubbing_removes_addresses_but_keeps_times() -> None:
    text = "at 12:34:56 to 2001:db8::1, [::1]:443 and 10.0.0.1"

    assert (
        scrub_addresses(text)
        == "at 12:34:56 to [scrubbed], [scrubbed]:443 and [scrubbed]"
    )
