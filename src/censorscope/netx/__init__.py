"""The instrumented network engine: async operations that record what happened.

Every operation takes a :class:`Trace` and records OONI observations in it
(``queries``, ``tcp_connect``, ``tls_handshakes``, ``requests``,
``network_events``) with times relative to the measurement start and a
transaction id per attempt.  Failures are data: each error is classified once,
here, into an OONI failure string (:func:`classify`), and operations return
results that carry it instead of raising.

Modules: :mod:`~censorscope.netx.trace` (the record), :mod:`.errors`
(classification), :mod:`.tcp`, :mod:`.tls`, :mod:`.dns` and :mod:`.doh`
(resolvers), :mod:`.http` (HTTP/1.1 with h11, redirects) and :mod:`.stun`
(the STUN binding codec).
"""

from censorscope.netx.dns import (
    LookupResult,
    Resolver,
    SystemResolver,
    TCPResolver,
    TLSResolver,
    UDPResolver,
    lookup_host,
)
from censorscope.netx.doh import DoHResolver, make_resolver
from censorscope.netx.errors import NetxError, classify, scrub_addresses
from censorscope.netx.http import (
    DEFAULT_HEADERS,
    Exchange,
    FetchOptions,
    FetchResult,
    Network,
    Request,
    fetch,
    fetch_once,
    round_trip,
)
from censorscope.netx.tcp import (
    ConnectResult,
    TCPConn,
    is_ip_address,
    join_host_port,
    split_host_port,
    tcp_connect,
)
from censorscope.netx.tls import HandshakeResult, TLSConn, client_context, tls_handshake
from censorscope.netx.trace import Span, Trace

__all__ = [
    "DEFAULT_HEADERS",
    "ConnectResult",
    "DoHResolver",
    "Exchange",
    "FetchOptions",
    "FetchResult",
    "HandshakeResult",
    "LookupResult",
    "Network",
    "NetxError",
    "Request",
    "Resolver",
    "Span",
    "SystemResolver",
    "TCPConn",
    "TCPResolver",
    "TLSConn",
    "TLSResolver",
    "Trace",
    "UDPResolver",
    "classify",
    "client_context",
    "fetch",
    "fetch_once",
    "is_ip_address",
    "join_host_port",
    "lookup_host",
    "make_resolver",
    "round_trip",
    "scrub_addresses",
    "split_host_port",
    "tcp_connect",
    "tls_handshake",
]
