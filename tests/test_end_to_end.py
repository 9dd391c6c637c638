"""The live path as a user runs it: probe -> collector -> archive and warehouse -> HTTP.

Three real processes talk over 127.0.0.0/8: ``censorscope serve --archive
--warehouse`` (the collector, scoring each measurement into DuckDB as it
arrives), ``censorscope helper --allow-private`` (the web_connectivity test
helper) and ``censorscope run web_connectivity --collector``.  The sites
are served by this test process:

* ``good.test``: a page over HTTP and HTTPS (certificate from a test CA);
* ``reset.test``: the helper's DNS sends it to the real site, the probe's
  ("censored") DNS to a server that resets every connection after the
  first bytes (HTTP: ``http-failure``; HTTPS: during TLS, so ``tls``);
* ``refused.test``: the probe's DNS sends it to a closed port (``tcp_ip``).

The geolocation database puts all of 127/8 in one AS, so the probe counts
the divergent DNS answers as consistent and blames the connection.

While the probe runs, a watcher tails its ``uploads.jsonl`` (one line per
measurement the collector accepted) and polls ``measurement_meta`` for each
new uid until the warehouse answers: the time from the upload record to the
first non-empty answer is the submission-to-visibility latency.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from censorscope.warehouse import open_warehouse
from tests.netx.localnet import (
    PAGE,
    PAGE_HEADERS,
    DNSServer,
    LocalCA,
    RawServer,
    free_port,
    server_context,
    start_web,
    static_handler,
)
from tests.probe.conftest import FAKE_PROBE_IP, GEOIP_LINES
from tests.probe.servers import Route, web_server

SITE_IP = "127.0.0.1"
RESET_IP = "127.0.0.3"
REFUSED_IP = "127.0.0.8"
HOSTS = ("good.test", "reset.test", "refused.test")
CENSORED_ZONE = {
    "good.test": [SITE_IP],
    "reset.test": [RESET_IP],
    "refused.test": [REFUSED_IP],
}
# (scheme, host) -> (anomaly, blocking) the warehouse must hold.
EXPECTED = {
    ("http", "good.test"): (False, None),
    ("https", "good.test"): (False, None),
    ("http", "reset.test"): (True, "http-failure"),
    ("https", "reset.test"): (True, "tls"),
    ("http", "refused.test"): (True, "tcp_ip"),
}
MAX_LATENCY_S = 1.0
_STARTUP_LIMIT_S = 30.0
_RUN_LIMIT_S = 60.0
_POLL_S = 0.002
_CLI_SCRIPT = Path(sys.executable).with_name("censorscope")
CLI = (
    [str(_CLI_SCRIPT)]
    if _CLI_SCRIPT.exists()
    else [sys.executable, "-c", "from censorscope.cli import main; main()"]
)

T = TypeVar("T")


# --- the sites, in an event loop of their own ------------------------------------


class LoopThread:
    """An asyncio loop running in a daemon thread, for the test's servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


@dataclass
class Sites:
    """Where the test's sites and DNS servers listen."""

    http_port: int
    https_port: int
    clean_dns: str = ""
    censored_dns: str = ""
    closers: list[Any] = field(default_factory=list)

    def url(self, scheme: str, host: str) -> str:
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://{host}:{port}/"

    async def start(self, ca: LocalCA) -> Sites:
        page = static_handler(PAGE, PAGE_HEADERS)
        tls = server_context(*ca.issue("sites", list(HOSTS)))
        for port, context in ((self.http_port, None), (self.https_port, tls)):
            self.closers.append((await start_web(SITE_IP, port, page, context)).close)
            self.closers.append((await RawServer("reset").start(RESET_IP, port)).close)
        clean = await DNSServer({host: [SITE_IP] for host in HOSTS}).start()
        censored = await DNSServer(CENSORED_ZONE).start()
        self.closers += [clean.close, censored.close]
        self.clean_dns, self.censored_dns = clean.address, censored.address
        return self

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


# --- the censorscope processes --------------------------------------------------


def _stderr_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited:\n{_stderr_tail(log)}")
        try:
            socket.create_connection((SITE_IP, port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise AssertionError(f"nothing listens on {port}:\n{_stderr_tail(log)}")


@dataclass
class Service:
    """A censorscope subprocess listening on ``port``; stderr in ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, args: list[str], port: int, log: Path) -> Service:
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [*CLI, *args], stdout=subprocess.DEVNULL, stderr=stderr
            )
        service = cls(process, port, log)
        try:
            _wait_listening(port, process, log)
        except AssertionError:
            service.stop()
            raise
        return service

    @property
    def url(self) -> str:
        return f"http://{SITE_IP}:{self.port}"

    def stop(self) -> int:
        """Ask the process to shut down cleanly (SIGINT); kill it if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# --- watching the probe's uploads -----------------------------------------------


class UploadWatcher(threading.Thread):
    """Tails the probe's uploads and times how soon each uid is queryable."""

    def __init__(self, home: Path, collector_url: str) -> None:
        super().__init__(daemon=True)
        self._home = home
        self._url = collector_url
        self._offsets: dict[Path, int] = {}
        self._finishing = threading.Event()
        self._deadline = float("inf")
        self.seen: dict[str, float] = {}
        self.visible: dict[str, float] = {}
        self.polls: dict[str, int] = {}

    def finish(self, grace: float = 5.0) -> None:
        """The probe exited: resolve the uids seen, then stop (within ``grace``)."""
        self._deadline = time.monotonic() + grace
        self._finishing.set()
        self.join()

    def latencies(self) -> dict[str, float]:
        return {uid: self.visible[uid] - self.seen[uid] for uid in self.visible}

    def run(self) -> None:
        with httpx.Client(base_url=self._url, trust_env=False) as client:
            # Connect before the first upload: the first poll must not pay for it.
            self._is_visible(client, "warm-up")
            while True:
                finishing = self._finishing.is_set()
                self._scan()
                for uid in [u for u in self.seen if u not in self.visible]:
                    self.polls[uid] = self.polls.get(uid, 0) + 1
                    if self._is_visible(client, uid):
                        self.visible[uid] = time.monotonic()
                done = len(self.visible) == len(self.seen)
                if finishing and (done or time.monotonic() > self._deadline):
                    return
                time.sleep(_POLL_S)

    def _scan(self) -> None:
        for path in self._home.glob("results/*/uploads.jsonl"):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(offset)
                data = stream.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            for line in complete.splitlines():
                uid = orjson.loads(line)["measurement_uid"]
                self.seen.setdefault(uid, time.monotonic())

    @staticmethod
    def _is_visible(client: httpx.Client, uid: str) -> bool:
        response = client.get(
            "/api/v1/measurement_meta", params={"measurement_uid": uid}
        )
        return response.status_code == 200 and response.json() != {}


# --- one run, observed end to end -----------------------------------------------


@dataclass
class LiveRun:
    """What the probe stored locally and what the collector answered about it."""

    local: dict[str, dict[str, Any]]  # uid -> measurement as `results show --json`
    url_of: dict[str, str]  # uid -> input
    metas: dict[str, dict[str, Any]]  # uid -> measurement_meta?full=true
    raws: dict[str, Any]  # uid -> raw_measurement
    latencies: dict[str, float]
    polls: dict[str, int]  # uid -> measurement_meta requests until visible
    probe_output: str
    persisted: dict[str, tuple[bool, str | None]]  # uid -> warehouse after stop
    serve_exit: int


def _probe_args(
    sites: Sites, collector: str, helper: str, tmp: Path, ca_path: Path
) -> list[str]:
    inputs = [arg for key in EXPECTED for arg in ("-i", sites.url(*key))]
    geoip = tmp / "ip2asn-v4.tsv"
    geoip.write_text("\n".join(GEOIP_LINES) + "\n")
    return [
        "run",
        "web_connectivity",
        *inputs,
        *("--collector", collector, "--test-helper", helper),
        *("--ca-bundle", str(ca_path)),
        *("--resolver", sites.censored_dns, "--geoip-db", str(geoip)),
        *("--resolver-lookup", "localhost", "--home", str(tmp / "home")),
        *("--timeout", "5", "--upload-backoff", "0.01", "--quiet"),
    ]


def _run_probe(args: list[str], watcher: UploadWatcher) -> str:
    watcher.start()
    try:
        done = subprocess.run(
            [*CLI, *args], capture_output=True, timeout=_RUN_LIMIT_S, check=False
        )
    finally:
        watcher.finish()
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    return output


def _results_show(home: Path) -> list[dict[str, Any]]:
    [run_dir] = (home / "results").iterdir()
    shown = subprocess.run(
        [*CLI, "results", "show", run_dir.name, "--json", "--home", str(home)],
        capture_output=True,
        timeout=_RUN_LIMIT_S,
        check=True,
    )
    return [orjson.loads(line) for line in shown.stdout.splitlines()]


def _read_back(url: str, uids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    metas, raws = {}, {}
    with httpx.Client(base_url=url, trust_env=False) as client:
        for uid in uids:
            query = {"measurement_uid": uid}
            meta = client.get("/api/v1/measurement_meta", params=query | {"full": "1"})
            raw = client.get("/api/v1/raw_measurement", params=query)
            metas[uid], raws[uid] = meta.json(), raw.json()
    return metas, raws


def _persisted(path: Path, uids: list[str]) -> dict[str, tuple[bool, str | None]]:
    warehouse = open_warehouse(path, read_only=True)
    try:
        rows = {uid: warehouse.get(uid) for uid in uids}
    finally:
        warehouse.close()
    return {uid: (row["anomaly"], row["blocking"]) for uid, row in rows.items() if row}


def _start_services(
    tmp: Path, sites: Sites, ca_path: Path, stack: ExitStack
) -> tuple[Service, Service]:
    """``censorscope serve`` (with a warehouse) and ``censorscope helper``."""
    port = free_port([SITE_IP])
    serve_args = ["serve", "--archive", str(tmp / "archive"), "--port", str(port)]
    serve_args += ["--warehouse", str(tmp / "warehouse.duckdb")]
    serve = Service.start(serve_args, port, tmp / "serve.log")
    stack.callback(serve.stop)
    port = free_port([SITE_IP])
    helper_args = ["helper", "--port", str(port), "--allow-private"]
    helper_args += ["--resolver", sites.clean_dns, "--ca-bundle", str(ca_path)]
    helper = Service.start(helper_args, port, tmp / "helper.log")
    stack.callback(helper.stop)
    return serve, helper


def _observe(tmp: Path, sites: Sites, ca_path: Path) -> LiveRun:
    with ExitStack() as stack:
        serve, helper = _start_services(tmp, sites, ca_path, stack)
        discovery = stack.enter_context(web_server())
        trace = f"fl=1\nip={FAKE_PROBE_IP}\nts=1700000000.1\n".encode()
        args = _probe_args(sites, serve.url, helper.url + "/", tmp, ca_path)
        args += ["--ip-discovery", discovery.route("/cdn-cgi/trace", Route(trace))]
        watcher = UploadWatcher(tmp / "home", serve.url)
        output = _run_probe(args, watcher)
        shown = _results_show(tmp / "home")
        local = {doc["measurement_uid"]: doc for doc in shown}
        metas, raws = _read_back(serve.url, list(local))
        helper.stop()
        serve_exit = serve.stop()
    return LiveRun(
        local=local,
        url_of={uid: doc["input"] for uid, doc in local.items()},
        metas=metas,
        raws=raws,
        latencies=watcher.latencies(),
        polls=watcher.polls,
        probe_output=output,
        persisted=_persisted(tmp / "warehouse.duckdb", list(local)),
        serve_exit=serve_exit,
    )


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    tmp = tmp_path_factory.mktemp("e2e")
    (tmp / "ca").mkdir()
    ca = LocalCA.create(tmp / "ca", "censorscope test CA")
    # One port free on every address, so each site has its impostor beside it.
    http_port = https_port = free_port([SITE_IP, RESET_IP, REFUSED_IP])
    while https_port == http_port:
        https_port = free_port([SITE_IP, RESET_IP, REFUSED_IP])
    with LoopThread() as loop:
        sites = loop.run(Sites(http_port, https_port).start(ca))
        try:
            yield _observe(tmp, sites, ca.cert_path)
        finally:
            loop.run(sites.close())


# --- what must hold -----------------------------------------------------------------


def _site(url: str) -> tuple[str, str]:
    scheme, rest = url.split("://")
    return scheme, rest.split(":")[0]


def test_every_input_was_measured_and_uploaded(live_run: LiveRun) -> None:
    sites = sorted(_site(url) for url in live_run.url_of.values())

    assert None not in live_run.local, "a measurement was not uploaded"
    assert sites == sorted(EXPECTED), live_run.probe_output


def test_the_archive_serves_each_measurement_as_the_probe_stored_it(
    live_run: LiveRun,
) -> None:
    for uid, doc in live_run.local.items():
        assert live_run.raws[uid] == doc
        assert orjson.loads(live_run.metas[uid]["raw_measurement"]) == doc
        assert FAKE_PROBE_IP not in live_run.metas[uid]["raw_measurement"]


def test_the_warehouse_gives_each_site_its_verdict(live_run: LiveRun) -> None:
    verdicts, others = {}, {}
    for uid, meta in live_run.metas.items():
        site = _site(live_run.url_of[uid])
        verdicts[site] = (meta["anomaly"], meta["blocking"])
        # Every site is up for the control and nothing here is fingerprinted.
        others[site] = (meta["failure"], meta["down"], meta["confirmed"])
        assert (meta["probe_cc"], meta["probe_asn"]) == ("ML", 64500)

    assert verdicts == EXPECTED
    assert others == dict.fromkeys(EXPECTED, (False, False, False))


def test_the_verdicts_survive_the_collector_shutting_down(live_run: LiveRun) -> None:
    assert live_run.serve_exit == 0
    assert live_run.persisted == {
        uid: (meta["anomaly"], meta["blocking"]) for uid, meta in live_run.metas.items()
    }


def test_each_measurement_is_queryable_within_a_second_of_its_upload(
    live_run: LiveRun,
) -> None:
    latencies = live_run.latencies
    at_first = sum(1 for count in live_run.polls.values() if count == 1)
    # An upper bound: it includes the polls' own round trips (serial).
    print(
        f"\nupload -> measurement_meta latency over {len(latencies)}:"
        f" median {statistics.median(latencies.values()) * 1000:.1f} ms,"
        f" max {max(latencies.values()) * 1000:.1f} ms;"
        f" {at_first} already visible at the first poll"
    )

    assert set(latencies) == set(live_run.local)
    assert max(latencies.values()) < MAX_LATENCY_S
