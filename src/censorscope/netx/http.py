"""HTTP/1.1 over our own measured connections, with h11.

:func:`round_trip` performs one exchange on a connection and records it as a
``requests`` entry (df-001, with ``headers_list`` and a capped body).
:func:`fetch` resolves, connects, handshakes and follows redirects (bounded),
one fresh connection per hop, recording every step in the trace.  Entries are
appended in time order; web_connectivity reverses them, as OONI does.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import h11

from censorscope.measurement import failures
from censorscope.measurement.binary import encode_maybe_binary
from censorscope.netx.dns import Resolver, lookup_host
from censorscope.netx.errors import NetxError, classify
from censorscope.netx.tcp import Conn, TCPConn, join_host_port, tcp_connect
from censorscope.netx.tls import tls_handshake
from censorscope.netx.trace import Span, Trace

logger = logging.getLogger(__name__)

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("User-Agent", USER_AGENT),
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
TOO_MANY_REDIRECTS = failures.unknown("stopped after too many redirects")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a request target (already-encoded URLs stay).
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"
_NO_TOR = {"exit_ip": None, "exit_name": None, "is_tor": False}


@dataclass(frozen=True)
class Request:
    """One HTTP request to send (the Host header is added from the URL)."""

    url: str
    method: str = "GET"
    headers: Sequence[tuple[str, str]] = DEFAULT_HEADERS
    body: bytes = b""


@dataclass
class Exchange:
    """What one request/response produced; ``status`` is 0 without a response."""

    request: Request
    failure: str | None
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    body_is_truncated: bool = False
    entry: dict[str, Any] = field(default_factory=dict)
    failed_operation: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _latin1(raw: bytes) -> str:
    # Header bytes are kept one-to-one (latin-1), never dropped.
    return raw.decode("latin-1")


def request_headers(request: Request) -> list[tuple[str, str]]:
    """The headers actually sent: Host first, then the request's own."""
    parts = urlsplit(request.url)
    host = _idna(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    own = [(k, v) for k, v in request.headers if k.lower() != "host"]
    if request.body or request.method in ("POST", "PUT"):
        own.append(("Content-Length", str(len(request.body))))
    return [("Host", host), *own]


def _target(url: str) -> str:
    """The request target, with anything outside ASCII percent-encoded."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE)
    return f"{path}?{query}" if query else path


def headers_map(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """OONI's ``headers`` map: the first value of each name."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, encode_maybe_binary(value.encode("latin-1")))
    return out


def headers_list(pairs: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """OONI's ``headers_list``: every pair, in order."""
    return [[k, encode_maybe_binary(v.encode("latin-1"))] for k, v in pairs]


def request_entry(
    request: Request,
    sent: list[tuple[str, str]],
    *,
    address: str,
    alpn: str,
    failure: str | None,
    t0: float,
    t: float,
    tid: int,
    tags: list[str],
    response: Exchange | None = None,
) -> dict[str, Any]:
    """One ``requests`` entry in OONI's shape."""
    return {
        "address": address,
        "alpn": alpn,
        "failure": failure,
        "network": "tcp",
        "request": {
            "body": encode_maybe_binary(request.body),
            "body_is_truncated": False,
            "headers": headers_map(sent),
            "headers_list": headers_list(sent),
            "method": request.method,
            "tor": dict(_NO_TOR),
            "url": request.url,
            "x_transport": "tcp",
        },
        "response": _response_entry(response),
        "t0": t0,
        "t": t,
        "tags": list(tags),
        "transaction_id": tid,
    }


def _response_entry(exchange: Exchange | None) -> dict[str, Any]:
    if exchange is None or exchange.status == 0:
        return {
            "body": "",
            "body_is_truncated": False,
            "code": 0,
            "headers": {},
            "headers_list": [],
        }
    return {
        "body": encode_maybe_binary(exchange.body),
        "body_is_truncated": exchange.body_is_truncated,
        "code": exchange.status,
        "headers": headers_map(exchange.headers),
        "headers_list": headers_list(exchange.headers),
    }


async def _send(
    conn: Conn, machine: h11.Connection, request: Request, sent: list[tuple[str, str]]
) -> None:
    head = h11.Request(method=request.method, target=_target(request.url), headers=sent)
    data = machine.send(head) or b""
    if request.body:
        data += machine.send(h11.Data(data=request.body)) or b""
    data += machine.send(h11.EndOfMessage()) or b""
    await conn.write(data)


async def _receive(
    conn: Conn, machine: h11.Connection, exchange: Exchange, max_body: int
) -> None:
    """Read the response into ``exchange`` until its end or the body cap."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = machine.next_event()
        if event is h11.NEED_DATA:
            data = await conn.read()
            if not data and exchange.status == 0:
                raise NetxError(failures.EOF_ERROR)
            machine.receive_data(data)
        elif isinstance(event, h11.Response):
            exchange.status = event.status_code
            exchange.headers = [
                (_latin1(k), _latin1(v)) for k, v in event.headers.raw_items()
            ]
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
            size += len(event.data)
            if size > max_body:
                exchange.body_is_truncated = True
                break
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    exchange.body = b"".join(chunks)[:max_body]


async def round_trip(
    conn: Conn,
    request: Request,
    *,
    max_body: int,
    timeout: float,
    alpn: str = "",
) -> Exchange:
    """Send ``request`` on ``conn``, read the response; record a ``requests`` entry.

    Never raises for network or protocol errors: they are in
    ``Exchange.failure``.  Bytes beyond ``max_body`` are not read
    (``body_is_truncated``).
    """
    trace, tid, tags = conn.trace, conn.transaction_id, conn.tags
    sent = request_headers(request)
    exchange = Exchange(request, None)
    span, t0 = Span("http_round_trip", f"{request.method} {request.url}"), trace.now()
    trace.marker("http_transaction_start", tid, tags)
    machine = h11.Connection(h11.CLIENT)
    try:
        async with asyncio.timeout(timeout):
            await _send(conn, machine, request, sent)
            await _receive(conn, machine, exchange, max_body)
    except (OSError, ssl.SSLError, h11.ProtocolError, NetxError, UnicodeError) as error:
        exchange.failure = classify(error)
        exchange.failed_operation = "http_round_trip"
    trace.marker("http_transaction_done", tid, tags)
    exchange.entry = request_entry(
        request,
        sent,
        address=conn.address,
        alpn=alpn,
        failure=exchange.failure,
        t0=t0,
        t=trace.now(),
        tid=tid,
        tags=tags,
        response=exchange,
    )
    trace.requests.append(exchange.entry)
    span.done(exchange.failure)
    return exchange


# --- fetch: resolve, connect, handshake, exchange, follow redirects -------------


@dataclass(frozen=True)
class FetchOptions:
    """Limits and timeouts of :func:`fetch`."""

    max_body: int = 1 << 17
    max_redirects: int = 10
    follow_redirects: bool = True
    resolve_timeout: float = 10.0
    connect_timeout: float = 10.0
    tls_timeout: float = 10.0
    http_timeout: float = 10.0
    # Shortcoming: HTTP/1.1 only (no h2, no h3) and one connection per
    # request; sites that require HTTP/2 are measured as HTTP/1.1 clients.
    alpn: tuple[str, ...] = ("http/1.1",)


@dataclass
class Network:
    """How :func:`fetch` reaches hosts.

    ``known_addresses`` seeds the lookup of some hosts (web_connectivity
    passes the addresses its DNS step found for the input's host).
    """

    resolver: Resolver
    ssl_context: ssl.SSLContext
    known_addresses: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass
class FetchResult:
    """Every exchange of a fetch (in time order) and the fetch's failure."""

    exchanges: list[Exchange]
    failure: str | None
    failed_operation: str | None = None

    @property
    def final(self) -> Exchange | None:
        """The last exchange of the redirect chain."""
        return self.exchanges[-1] if self.exchanges else None


@dataclass
class _Hop:
    """State of one hop: where it goes and what has been recorded so far."""

    request: Request
    scheme: str
    host: str
    port: int
    tid: int
    tags: list[str]
    address: str = ""


def _hop(trace: Trace, request: Request, tags: Sequence[str]) -> _Hop | str:
    parts = urlsplit(request.url)
    if parts.scheme not in _DEFAULT_PORTS:
        return failures.unknown(f"unsupported URL scheme {parts.scheme!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return failures.unknown("invalid port in URL")
    if not parts.hostname:
        return failures.HTTP_INVALID_REDIRECT_LOCATION_HOST
    return _Hop(
        request,
        parts.scheme,
        parts.hostname,
        port,
        trace.next_transaction_id(),
        list(tags),
    )


def _fail_hop(trace: Trace, hop: _Hop, failure: str, t0: float) -> Exchange:
    """Record a request that failed before any byte of HTTP was sent."""
    exchange = Exchange(hop.request, failure)
    exchange.entry = request_entry(
        hop.request,
        request_headers(hop.request),
        address=hop.address,
        alpn="",
        failure=failure,
        t0=t0,
        t=trace.now(),
        tid=hop.tid,
        tags=hop.tags,
    )
    trace.requests.append(exchange.entry)
    return exchange


async def _addresses(
    trace: Trace, network: Network, hop: _Hop, options: FetchOptions
) -> list[str] | str:
    known = network.known_addresses.get(hop.host)
    if known:
        return list(known)
    result = await lookup_host(
        network.resolver,
        trace,
        _idna(hop.host),
        timeout=options.resolve_timeout,
        tags=hop.tags,
    )
    return result.addresses if result.addresses else (result.failure or "")


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


async def _connect_any(
    trace: Trace, hop: _Hop, addresses: list[str], options: FetchOptions
) -> TCPConn | str:
    """Try the addresses in order; the first failure explains total failure."""
    first_failure = ""
    for ip in addresses:
        hop.address = join_host_port(ip, hop.port)
        result = await tcp_connect(
            trace,
            ip,
            hop.port,
            timeout=options.connect_timeout,
            transaction_id=hop.tid,
            tags=hop.tags,
        )
        if result.conn is not None:
            return result.conn
        first_failure = first_failure or (result.failure or "")
    return first_failure


@dataclass
class _OpenFailed:
    """Why a hop got no connection: the failure and the operation that failed."""

    failure: str
    operation: str


async def _open(
    trace: Trace, network: Network, hop: _Hop, options: FetchOptions
) -> tuple[Conn, str] | _OpenFailed:
    """Resolve, connect and (for https) handshake: a connection or a failure."""
    addresses = await _addresses(trace, network, hop, options)
    if isinstance(addresses, str):
        return _OpenFailed(addresses or failures.DNS_NO_ANSWER, "resolve")
    conn = await _connect_any(trace, hop, addresses, options)
    if isinstance(conn, str):
        return _OpenFailed(conn, "connect")
    if hop.scheme != "https":
        return conn, ""
    shaken = await tls_handshake(
        conn, _idna(hop.host), network.ssl_context, timeout=options.tls_timeout
    )
    if shaken.conn is None:
        failure = shaken.failure or failures.SSL_FAILED_HANDSHAKE
        return _OpenFailed(failure, "tls_handshake")
    return shaken.conn, shaken.negotiated_protocol


async def fetch_once(
    trace: Trace,
    network: Network,
    request: Request,
    options: FetchOptions,
    tags: Sequence[str] = (),
) -> Exchange:
    """One request (no redirect), on a fresh connection."""
    t0 = trace.now()
    hop = _hop(trace, request, tags)
    if isinstance(hop, str):
        return Exchange(request, hop, failed_operation="top_level")
    opened = await _open(trace, network, hop, options)
    if isinstance(opened, _OpenFailed):
        exchange = _fail_hop(trace, hop, opened.failure, t0)
        exchange.failed_operation = opened.operation
        return exchange
    conn, alpn = opened
    try:
        return await round_trip(
            conn,
            request,
            max_body=options.max_body,
            timeout=options.http_timeout,
            alpn=alpn,
        )
    finally:
        conn.close()


def _next_request(
    exchange: Exchange, cookies: dict[str, dict[str, str]]
) -> Request | str | None:
    """The request a redirect asks for, a failure for a broken one, or None."""
    location = exchange.header("Location")
    if exchange.status not in REDIRECT_CODES or location is None:
        return None
    parts = urlsplit(location)
    if parts.scheme and not parts.hostname:
        # urljoin would treat "http://" as relative; Go rejects it (no host).
        return failures.HTTP_INVALID_REDIRECT_LOCATION_HOST
    previous = exchange.request
    method, body = previous.method, previous.body
    if exchange.status == 303 or (exchange.status in (301, 302) and method == "POST"):
        method, body = "GET", b""
    url = urljoin(previous.url, location)
    headers = _with_cookies(previous.headers, cookies, urlsplit(url).hostname or "")
    return Request(url, method, headers, body)


def _remember_cookies(exchange: Exchange, cookies: dict[str, dict[str, str]]) -> None:
    # Shortcoming: a host-keyed name=value jar; no Path, Domain or expiry rules.
    host = urlsplit(exchange.request.url).hostname or ""
    for key, value in exchange.headers:
        if key.lower() == "set-cookie" and "=" in value:
            name, _, rest = value.partition("=")
            cookies.setdefault(host, {})[name.strip()] = rest.split(";")[0].strip()


def _with_cookies(
    headers: Sequence[tuple[str, str]], cookies: dict[str, dict[str, str]], host: str
) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in headers if k.lower() != "cookie"]
    jar = cookies.get(host)
    if jar:
        kept.append(("Cookie", "; ".join(f"{k}={v}" for k, v in jar.items())))
    return kept


async def fetch(
    trace: Trace,
    network: Network,
    request: Request,
    options: FetchOptions | None = None,
    tags: Sequence[str] = (),
) -> FetchResult:
    """Fetch ``request``, following at most ``max_redirects`` redirects.

    The result's failure is the failing hop's failure, ``unknown_failure:
    stopped after too many redirects``, or ``http_invalid_redirect_location_host``.
    """
    options = options or FetchOptions()
    cookies: dict[str, dict[str, str]] = {}
    exchanges: list[Exchange] = []
    current: Request | None = request
    while current is not None:
        if len(exchanges) > options.max_redirects:
            return FetchResult(exchanges, TOO_MANY_REDIRECTS, "http_round_trip")
        exchange = await fetch_once(trace, network, current, options, tags)
        exchanges.append(exchange)
        if exchange.failure is not None or not options.follow_redirects:
            return FetchResult(exchanges, exchange.failure, exchange.failed_operation)
        _remember_cookies(exchange, cookies)
        following = _next_request(exchange, cookies)
        if isinstance(following, str):
            return FetchResult(exchanges, following, "http_round_trip")
        current = following
    return FetchResult(exchanges, None)


def with_headers(request: Request, headers: Sequence[tuple[str, str]]) -> Request:
    """A copy of ``request`` with other headers."""
    return replace(request, headers=tuple(headers))
