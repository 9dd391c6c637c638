"""The lab network: an internet namespace and, per ISP, a router and a client.

::

    client (probe) --eth0/down-- router (censor, ISP resolver) --up/ispN-- inet

``Lab`` builds it all, starts the servers and the external services (test
helper, collector), and removes everything again in ``down`` -- which is
called on every exit path when the lab is used as a context manager, and
which never raises, so that a failure in teardown cannot hide the failure
that caused it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from censorscope.lab import addressing as plan
from censorscope.lab import netns
from censorscope.lab.apps import write_endpoints
from censorscope.lab.censor import (
    SUBSCRIBER_LINK,
    UPLINK,
    Censor,
    RouterIdentity,
    install_chains,
)
from censorscope.lab.dnsserver import DnsResponder
from censorscope.lab.geodb import GeoRow, network_row, write_geodb
from censorscope.lab.internet import (
    COLLECTOR_NAME,
    TEST_HELPER_NAME,
    CertKind,
    Host,
    Internet,
    standard_internet,
)
from censorscope.lab.pki import Issued, LabPki
from censorscope.lab.proxy import TransparentProxy
from censorscope.lab.services import Services
from censorscope.lab.web import (
    VirtualHosts,
    bad_request,
    serve_connection,
    silent_connection,
    sni_context,
)
from censorscope.lab.web import tls_context as make_tls_context

logger = logging.getLogger(__name__)
COLLECTOR_PORT = 8080

RESOLV_OPTIONS = "timeout:2 attempts:1"
_SERVICE_START_TIMEOUT = 30.0
REQUIRED_TOOLS = ("ip", "iptables-restore", "conntrack", "tc", "sysctl")


class LabError(RuntimeError):
    """The lab cannot be built on this machine or failed while running."""


@dataclass(frozen=True)
class IspSpec:
    """An ISP as a scenario declares it."""

    name: str
    asn: int
    cc: str
    network_name: str = ""


@dataclass
class Isp:
    """A built ISP: its namespaces, addresses, servers and censor."""

    spec: IspSpec
    addresses: plan.IspAddresses
    router: str
    client: str
    resolver: DnsResponder
    injector: DnsResponder
    proxy: TransparentProxy
    censor: Censor


def missing_requirements() -> list[str]:
    """Why the lab cannot run here (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network namespaces, iptables, tc)")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            problems.append(f"missing command {tool!r}")
    return problems


def cli_argv(*arguments: str) -> list[str]:
    """How to run ``censorscope ARGS`` with this very interpreter and tree."""
    bootstrap = "from censorscope.cli import main; main()"
    return [sys.executable, "-c", bootstrap, *arguments]


@dataclass
class _Processes:
    running: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def stop_all(self) -> None:
        for name, process in reversed(self.running):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            logger.debug("%s exited %s", name, process.returncode)
        self.running.clear()


class Lab:
    """The whole lab network; use as ``with Lab(isps) as lab: ...``."""

    def __init__(
        self,
        isps: Sequence[IspSpec],
        internet: Internet | None = None,
        *,
        run_id: str | None = None,
        start_test_helper: bool = True,
        start_collector: bool = False,
        collector_archive: Path | None = None,
    ) -> None:
        if not 1 <= len(isps) <= plan.MAX_ISPS:
            raise LabError(f"a lab needs 1..{plan.MAX_ISPS} ISPs")
        self.run_id = run_id or secrets.token_hex(3)
        self.internet = internet or standard_internet()
        self.isp_specs = list(isps)
        self.inet = f"{netns.PREFIX}{self.run_id}-inet"
        self.isps: dict[str, Isp] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix=f"censorscope-lab-{self.run_id}-"))
        self.ca_bundle = self.workdir / "lab-ca.pem"
        self.geodb = self.workdir / "ip2asn-v4.tsv"
        # Per-test endpoints for the IM tests (``censorscope run --endpoints``).
        self.endpoints = self.workdir / "endpoints.json"
        self.test_helper_url: str | None = None
        self.collector_url: str | None = None
        self._start_test_helper = start_test_helper
        self._start_collector = start_collector
        # Inside the run's folder (deleted at teardown) unless the caller keeps it.
        self.collector_archive = collector_archive or self.workdir / "collector-archive"
        self._namespaces: list[str] = []
        self._services = Services()
        self._processes = _Processes()
        self._pki = LabPki()

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> None:
        """Build the network, start the servers and the external services."""
        problems = missing_requirements()
        if problems:
            raise LabError("; ".join(problems))
        self._build_internet()
        for index, spec in enumerate(self.isp_specs, start=1):
            self._build_isp(index, spec)
        self._pki.write_bundle(self.ca_bundle)
        write_endpoints(self.endpoints, self._pki.pinned_ca.cert_pem.decode())
        write_geodb(self._geo_rows(), self.geodb)
        self._services.start()
        self._services.call(self._start_servers)
        if self._start_test_helper:
            self._launch_test_helper()
        if self._start_collector:
            self._launch_collector()
        logger.info("lab %s up: %d ISPs", self.run_id, len(self.isps))

    def down(self) -> None:
        """Stop everything and remove every namespace; never raises."""
        steps = (
            self._processes.stop_all,
            self._services.stop,
            self._remove_namespaces,
            lambda: shutil.rmtree(self.workdir, ignore_errors=True),
        )
        for step in steps:
            try:
                step()
            except (OSError, RuntimeError) as error:
                logger.error("lab %s teardown: %s", self.run_id, error)
        logger.info("lab %s down", self.run_id)

    def _remove_namespaces(self) -> None:
        for name in reversed(self._namespaces):
            netns.delete_namespace(name)
        self._namespaces.clear()

    # -- building ------------------------------------------------------------

    def _namespace(self, role: str) -> str:
        name = f"{netns.PREFIX}{self.run_id}-{role}"
        self._namespaces.append(name)
        netns.create_namespace(name)
        return name

    def _build_internet(self) -> None:
        self._namespace("inet")
        for host in self.internet.hosts:
            netns.add_address(self.inet, "lo", f"{host.address}/32")

    def _build_isp(self, index: int, spec: IspSpec) -> None:
        addresses = plan.isp_addresses(index)
        router = self._namespace(f"r{index}")
        client = self._namespace(f"c{index}")
        netns.add_veth(self.inet, f"isp{index}", router, UPLINK)
        netns.add_veth(router, SUBSCRIBER_LINK, client, "eth0")
        netns.add_address(self.inet, f"isp{index}", f"{addresses.inet_side}/24")
        netns.add_address(router, UPLINK, f"{addresses.router_up}/24")
        netns.add_address(router, SUBSCRIBER_LINK, f"{addresses.router_down}/24")
        netns.add_address(client, "eth0", f"{addresses.client}/24")
        for service in addresses.router_services:
            netns.add_address(router, "lo", f"{service}/32")
        netns.add_route(client, "default", addresses.router_down)
        netns.add_route(router, "default", addresses.inet_side)
        netns.add_route(self.inet, addresses.prefix, addresses.router_up)
        netns.sysctl(router, "net.ipv4.ip_forward", "1")
        netns.write_resolv_conf(client, addresses.resolver, RESOLV_OPTIONS)
        install_chains(router)
        self.isps[spec.name] = self._make_isp(spec, addresses, router, client)

    def _make_isp(
        self, spec: IspSpec, addresses: plan.IspAddresses, router: str, client: str
    ) -> Isp:
        zone, resolve = self.internet.zone, self.internet.addresses_of
        operator = spec.network_name or spec.name
        blockpage_url = f"http://{plan.BLOCKPAGE}/"
        proxy = TransparentProxy(
            router, addresses.proxy, operator, blockpage_url, resolve
        )
        resolver = DnsResponder(zone, addresses.resolver)
        injector = DnsResponder(zone, addresses.resolver)
        identity = RouterIdentity(
            router, addresses.injector, addresses.proxy, plan.BLOCKPAGE, plan.BOGON
        )
        censor = Censor(
            identity, resolve, resolver, injector, proxy, on_loop=self._run_on_loop
        )
        return Isp(spec, addresses, router, client, resolver, injector, proxy, censor)

    def _run_on_loop(self, function: Callable[[], None]) -> None:
        async def run() -> None:
            function()

        self._services.call(run)

    def _geo_rows(self) -> list[GeoRow]:
        rows = [
            network_row(isp.addresses.prefix, isp.spec.asn, isp.spec.cc,
                        isp.spec.network_name or isp.spec.name)
            for isp in self.isps.values()
        ]  # fmt: skip
        for host in self.internet.hosts:
            rows.append(network_row(f"{host.address}/24", host.asn, host.cc,
                                    host.as_name))  # fmt: skip
        return _merge_same_network(rows)

    # -- servers -------------------------------------------------------------

    async def _start_servers(self) -> None:
        for host in self.internet.hosts:
            await self._serve_host(host)
        zone = self.internet.zone
        authoritative = DnsResponder(zone, plan.AUTHORITATIVE, authoritative=True)
        await self._services.listen_dns(self.inet, plan.AUTHORITATIVE, authoritative)
        for address in plan.PUBLIC_RESOLVERS:
            public = DnsResponder(zone, address)
            await self._services.listen_dns(self.inet, address, public)
        for isp in self.isps.values():
            await self._serve_isp(isp)

    async def _serve_isp(self, isp: Isp) -> None:
        services, router = self._services, isp.router
        await services.listen_dns(router, isp.addresses.resolver, isp.resolver)
        await services.listen_dns(router, isp.addresses.injector, isp.injector)
        await services.listen_tcp(router, isp.addresses.proxy, 80, isp.proxy.handle)

    async def _serve_host(self, host: Host) -> None:
        apps = {name: site.app for site in host.sites for name in site.names}
        default = host.sites[0].app if len(host.sites) == 1 else bad_request
        hosts = VirtualHosts(apps, default)
        for port in ((80,) if host.http else ()) + host.cleartext_ports:
            await self._services.listen_tcp(
                self.inet, host.address, port,
                lambda r, w: serve_connection(r, w, hosts, "http"),
            )  # fmt: skip
        for port in host.silent_ports:
            await self._services.listen_tcp(
                self.inet, host.address, port, silent_connection
            )
        if host.https:
            await self._services.listen_tcp(
                self.inet, host.address, 443,
                lambda r, w: serve_connection(r, w, hosts, "https"),
                self._host_tls(host),
            )  # fmt: skip

    def _host_tls(self, host: Host) -> ssl.SSLContext:
        contexts = {}
        for number, site in enumerate(host.sites):
            cert, key = self._issue(site.cert, list(site.names)).write(
                self._certs_dir(), f"{host.address}-{number}"
            )
            context = make_tls_context(str(cert), str(key))
            contexts.update({name: context for name in site.names})
        first = host.sites[0].names[0]
        return sni_context(contexts[first], contexts)

    def _issue(self, kind: CertKind, names: list[str]) -> Issued:
        if kind is CertKind.EXPIRED:
            return self._pki.expired(names)
        if kind is CertKind.UNTRUSTED:
            return self._pki.untrusted(names)
        if kind is CertKind.PINNED:
            return self._pki.pinned(names)
        if kind is CertKind.WRONG_NAME:
            return self._pki.valid([name.replace(".", "-", 1) for name in names])
        return self._pki.valid(names)

    def _certs_dir(self) -> Path:
        folder = self.workdir / "certs"
        folder.mkdir(exist_ok=True)
        return folder

    # -- external services ---------------------------------------------------

    def _launch_test_helper(self) -> None:
        if importlib.util.find_spec("censorscope.helper.commands") is None:
            logger.warning("no censorscope.helper yet: the lab runs without a TH")
            return
        cert, key = self._pki.valid([TEST_HELPER_NAME, plan.TEST_HELPER]).write(
            self._certs_dir(), "test-helper"
        )
        argv = cli_argv(
            "helper", "--host", plan.TEST_HELPER, "--port", "443",
            "--tls-cert", str(cert), "--tls-key", str(key),
            "--resolver", f"{plan.PUBLIC_RESOLVERS[0]}:53",
            "--ca-bundle", str(self.ca_bundle), "--allow-private",
        )  # fmt: skip
        self._launch("test-helper", argv)
        self._wait_listening("test-helper", plan.TEST_HELPER, 443)
        self.test_helper_url = f"https://{TEST_HELPER_NAME}/"

    def _launch_collector(self) -> None:
        if importlib.util.find_spec("censorscope.collector.commands") is None:
            logger.warning("no censorscope.collector yet: the lab runs without one")
            return
        # Not port 80 or 443: the censor's keyword rules watch those ports, and
        # a cleartext upload carries the blocked names (in its input and
        # test keys), so it would be reset like the page itself was.
        # Shortcoming: the lab collector speaks cleartext HTTP; OONI's speak
        # HTTPS, which keyword filters cannot read.
        argv = cli_argv(
            "serve", "--host", plan.COLLECTOR, "--port", str(COLLECTOR_PORT),
            "--archive", str(self.collector_archive),
        )  # fmt: skip
        self._launch("collector", argv)
        self._wait_listening("collector", plan.COLLECTOR, COLLECTOR_PORT)
        self.collector_url = f"http://{COLLECTOR_NAME}:{COLLECTOR_PORT}/"

    def _launch(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        environment = dict(os.environ, SSL_CERT_FILE=str(self.ca_bundle))
        process = subprocess.Popen(
            netns.in_namespace(self.inet, argv),
            stdout=log, stderr=subprocess.STDOUT, env=environment,
        )  # fmt: skip
        log.close()
        self._processes.running.append((name, process))

    def _wait_listening(self, name: str, address: str, port: int) -> None:
        deadline = time.monotonic() + _SERVICE_START_TIMEOUT
        process = self._processes.running[-1][1]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")
                raise LabError(f"{name} exited {process.returncode}: {log[-2000:]}")
            with contextlib.closing(netns.socket_in(self.inet)) as sock:
                if sock.connect_ex((address, port)) == 0:
                    return
            time.sleep(0.1)
        raise LabError(f"{name} did not listen on {address}:{port} in time")

    # -- helpers for callers -------------------------------------------------

    def isp(self, name: str) -> Isp:
        try:
            return self.isps[name]
        except KeyError:
            raise LabError(f"no ISP named {name!r} in this lab") from None

    def client_argv(self, isp: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the named ISP's client namespace."""
        return netns.in_namespace(self.isp(isp).client, argv)

    def log_tail(self, name: str, size: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""


def remove_leftover_workdirs(run_id: str = "") -> list[Path]:
    """Delete the temporary folders of lab runs (all runs, or ``run_id``'s)."""
    pattern = f"censorscope-lab-{run_id}-*" if run_id else "censorscope-lab-*"
    removed = sorted(Path(tempfile.gettempdir()).glob(pattern))
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def _merge_same_network(rows: list[GeoRow]) -> list[GeoRow]:
    """Drop duplicate rows (several hosts in one /24 of one AS)."""
    unique: dict[str, GeoRow] = {}
    for row in rows:
        unique.setdefault(row.first, row)
    return list(unique.values())


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the body, SIGTERM raises KeyboardInterrupt so finally blocks run."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
