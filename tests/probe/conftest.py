"""Fixtures for the probe tests: local servers, a geoip file, a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from censorscope.probe.commands import register
from tests.probe.servers import Collector, Route, WebServer, collector, web_server

# The "public" address the local discovery endpoint reports (TEST-NET-3).
FAKE_PROBE_IP = "203.0.113.7"
GEOIP_LINES = (
    "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET",
    "127.0.0.0\t127.255.255.255\t64501\tZZ\tLAB-RESOLVER",
    "203.0.113.0\t203.0.113.255\t64500\tML\tLAB-ISP-ML",
)


@pytest.fixture
def web() -> Iterator[WebServer]:
    """A local web server that also answers IP discovery (Cloudflare format)."""
    with web_server() as server:
        trace = f"fl=1f1\nh=www.example\nip={FAKE_PROBE_IP}\nts=1700000000.1\n"
        server.route("/cdn-cgi/trace", Route(trace.encode()))
        yield server


@pytest.fixture
def collector_server() -> Iterator[Collector]:
    with collector() as server:
        yield server


@pytest.fixture
def geoip_db(tmp_path: Path) -> Path:
    path = tmp_path / "ip2asn-v4.tsv"
    path.write_text("\n".join(GEOIP_LINES) + "\n")
    return path


@dataclass
class Probe:
    """Invokes ``censorscope run|results`` in-process with lab-like defaults."""

    app: typer.Typer
    home: Path
    base: list[str]

    def run(self, *args: str) -> Result:
        return self.invoke("run", *args, *self.base)

    def results(self, *args: str) -> Result:
        return self.invoke("results", *args, "--home", str(self.home))

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(self.app, list(args), catch_exceptions=False)


@pytest.fixture
def probe(tmp_path: Path, web: WebServer, geoip_db: Path) -> Probe:
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    home = tmp_path / "home"
    base = [
        "--home",
        str(home),
        "--ip-discovery",
        web.url("/cdn-cgi/trace"),
        "--geoip-db",
        str(geoip_db),
        "--resolver-lookup",
        "localhost",
        "--quiet",
        "--upload-backoff",
        "0.01",
    ]
    return Probe(app, home, base)
