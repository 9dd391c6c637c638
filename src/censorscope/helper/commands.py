"""``censorscope helper``: run the test helpers a probe measures against."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from censorscope.helper.control import ControlConfig
from censorscope.helper.servers import (
    HeaderEchoServer,
    TCPEchoServer,
    start_control_server,
)
from censorscope.netx import make_resolver
from censorscope.probe.ipdb import IpAsnDatabase


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def _serve(
    config: ControlConfig,
    *,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    max_in_flight: int,
    header_echo_port: int | None,
    tcp_echo_port: int | None,
) -> None:
    console = Console(stderr=True, highlight=False)
    servers: list[Any] = []
    control = await start_control_server(
        config, host, port, ssl_context=tls, max_in_flight=max_in_flight
    )
    servers.append(control)
    scheme = "https" if tls else "http"
    console.print(f"web_connectivity helper on {scheme}://{host}:{control.port}/")
    for kind, echo_port in (
        ("header echo", header_echo_port),
        ("tcp echo", tcp_echo_port),
    ):
        if echo_port is None:
            continue
        echo = HeaderEchoServer() if kind == "header echo" else TCPEchoServer()
        await echo.start(host, echo_port)
        servers.append(echo)
        console.print(f"{kind} helper on {host}:{echo.port}")
    try:
        await asyncio.gather(*(server.serve_forever() for server in servers))
    finally:
        for server in servers:
            await server.close()


HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port of the web_connectivity helper.")]
CertOption = Annotated[
    Path | None, typer.Option(help="Certificate (PEM) to serve HTTPS.")
]
KeyOption = Annotated[Path | None, typer.Option(help="Key of --tls-cert.")]
ResolverOption = Annotated[
    str, typer.Option(help="DNS the helper uses: system, IP[:PORT], tcp://, https://.")
]
BundleOption = Annotated[
    Path | None, typer.Option(help="CA bundle to verify sites (default: system).")
]
PrivateOption = Annotated[
    bool, typer.Option(help="Measure private and loopback addresses (lab, tests).")
]
InFlightOption = Annotated[
    int, typer.Option(help="Requests handled at once before answering 503.")
]
HeaderEchoOption = Annotated[
    int | None,
    typer.Option(help="Also run the header-echo helper (hhfm) on this port."),
]
TCPEchoOption = Annotated[
    int | None, typer.Option(help="Also run the TCP echo helper (hirl) on this port.")
]


GeoipOption = Annotated[
    Path | None,
    typer.Option(help="iptoasn ip2asn TSV (.gz) for the ASNs in ip_info (else 0)."),
]


def _config(
    resolver: str, ca_bundle: Path | None, allow_private: bool, geoip_db: Path | None
) -> ControlConfig:
    bundle = str(ca_bundle) if ca_bundle else None
    database = IpAsnDatabase.load(geoip_db) if geoip_db else None
    return ControlConfig(
        make_resolver(resolver, ca_bundle=bundle),
        ca_bundle=bundle,
        allow_private=allow_private,
        asn_lookup=database.asn_lookup if database else None,
    )


def helper(
    *,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    resolver: ResolverOption = "system",
    ca_bundle: BundleOption = None,
    allow_private: PrivateOption = False,
    max_in_flight: InFlightOption = 25,
    header_echo_port: HeaderEchoOption = None,
    tcp_echo_port: TCPEchoOption = None,
    geoip_db: GeoipOption = None,
) -> None:
    """Run the web_connectivity test helper (and optionally the echo helpers)."""
    try:
        config = _config(resolver, ca_bundle, allow_private, geoip_db)
        tls = _tls_context(tls_cert, tls_key)
    except (ValueError, OSError, ssl.SSLError) as error:
        Console(stderr=True).print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    serving = _serve(
        config,
        host=host,
        port=port,
        tls=tls,
        max_in_flight=max_in_flight,
        header_echo_port=header_echo_port,
        tcp_echo_port=tcp_echo_port,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serving)


def register(app: typer.Typer) -> None:
    """Add ``censorscope helper``."""
    app.command("helper")(helper)
