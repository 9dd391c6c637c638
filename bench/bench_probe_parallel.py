"""Probe concurrency benchmark: ``--parallel 1`` against ``--parallel 20``.

Serves 200 URLs from a local HTTP server that sleeps 50 ms before every
response (a slow network), measures all of them twice in this process, once
one at a time and once twenty at a time, prints both wall times and their
ratio, and asserts that every input got the same verdict in both runs.

The test is ``web_connectivity`` from the registry when it exists, with a
local test helper started through ``censorscope helper`` when that command
exists; otherwise a small HTTP fetch test defined here stands in, and the
bench says what was missing.  One URL in twenty points at a closed port and
one in twenty answers 500, so that verdicts differ between inputs.

Usage: python bench/bench_probe_parallel.py [--urls N] [--latency S]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.probe.catalog import Catalog, load_catalog
from censorscope.probe.geolocation import GeolocationSettings
from censorscope.probe.inputs import InputSources
from censorscope.probe.progress import QuietObserver
from censorscope.probe.session import RunRequest, prepare_run

FAKE_PROBE_IP = "203.0.113.7"


class LocalFetchTest(NetTest):
    """Stand-in when web_connectivity is not registered: GET and check 200."""

    name: ClassVar[str] = "local_fetch"
    version: ClassVar[str] = "0.1.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        parts = urlsplit(input or "")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, parts.port), context.timeout
            )
            writer.write(
                f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode()
            )
            raw = await asyncio.wait_for(reader.read(), context.timeout)
            writer.close()
        except (OSError, TimeoutError) as error:
            return TestResult(
                test_keys={"failure": type(error).__name__, "status": None}
            )
        status = int(raw.split(b" ", 2)[1])
        return TestResult(test_keys={"failure": None, "status": status})

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        keys = dict(test_keys)
        return Summary(anomaly=keys.get("status") != 200, detail=keys)


async def _slow_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    path = head.split(b" ", 2)[1].decode()
    if path == "/cdn-cgi/trace":
        status, body = 200, f"ip={FAKE_PROBE_IP}\n".encode()
    else:
        await asyncio.sleep(latency)
        status = 500 if path.startswith("/error/") else 200
        body = f"<html><title>page {path}</title>{'x' * 2000}</html>".encode()
    reason = b"OK" if status == 200 else b"Internal Server Error"
    headers = (
        f"Content-Length: {len(body)}\r\nContent-Type: text/html\r\nConnection: close"
    )
    writer.write(
        b"HTTP/1.1 %d %s\r\n%s\r\n\r\n" % (status, reason, headers.encode()) + body
    )
    await writer.drain()
    writer.close()


@contextmanager
def slow_server(latency: float) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 in its own thread and loop; yields its port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        server = await asyncio.start_server(
            lambda r, w: _slow_handler(r, w, latency), "127.0.0.1", 0, backlog=512
        )
        state["server"] = server
        state["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever())
    )
    thread.start()
    ready.wait()
    try:
        yield int(state["port"])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_urls(count: int, port: int, refused_port: int) -> list[str]:
    urls = []
    for number in range(count):
        if number % 20 == 0:
            urls.append(f"http://127.0.0.1:{refused_port}/page/{number}")
        elif number % 20 == 1:
            urls.append(f"http://127.0.0.1:{port}/error/{number}")
        else:
            urls.append(f"http://127.0.0.1:{port}/page/{number}")
    return urls


@contextmanager
def test_helper() -> Iterator[str | None]:
    """A local web connectivity test helper via ``censorscope helper``, if any."""
    if importlib.util.find_spec("censorscope.helper.commands") is None:
        print("missing: censorscope.helper.commands (no local test helper)")
        yield None
        return
    port = closed_port()
    argv = [sys.executable, "-c", "from censorscope.cli import main; main()"]
    argv += ["helper", "--host", "127.0.0.1", "--port", str(port), "--allow-private"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_listening(port, process):
            print("missing: 'censorscope helper' did not start listening")
            yield None
        else:
            yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


WEB_CONNECTIVITY_CLASS = "censorscope.nettests.web_connectivity:WebConnectivity"


def choose_test(catalog: Catalog, helper: str | None) -> tuple[str, Catalog]:
    """web_connectivity (registered, else its module) with a TH; else the stand-in."""
    if "web_connectivity" in catalog.registry and helper is not None:
        return "web_connectivity", catalog
    if "web_connectivity" not in catalog.registry:
        print("missing: web_connectivity in censorscope.nettests.REGISTRY")
        module = importlib.util.find_spec("censorscope.nettests.web_connectivity")
        if module is not None and helper is not None:
            print(f"using {WEB_CONNECTIVITY_CLASS} directly")
            return WEB_CONNECTIVITY_CLASS, catalog
    print("using the stand-in test local_fetch")
    return "local_fetch", Catalog(registry={"local_fetch": LocalFetchTest})


def verdicts(home: Path) -> dict[str, tuple[Any, ...]]:
    from censorscope.probe.results import ResultsStore

    [run] = ResultsStore(home).runs()
    found = {}
    for stored in run.measurements():
        keys = stored.doc["test_keys"]
        found[stored.doc["input"]] = (
            stored.anomaly,
            keys.get("blocking"),
            keys.get("accessible"),
            keys.get("failure"),
            keys.get("status"),
        )
    return found


@dataclass(frozen=True)
class Setup:
    """What both runs share."""

    urls: list[str]
    target: str
    catalog: Catalog
    helper: str | None
    port: int


async def measure(setup: Setup, parallel: int, home: Path) -> float:
    """Wall time of measuring every URL with ``parallel`` workers."""
    helpers = (setup.helper,) if setup.helper else ("http://127.0.0.1:1/",)
    discovery = f"http://127.0.0.1:{setup.port}/cdn-cgi/trace"
    request = RunRequest(
        target=setup.target,
        home=home,
        sources=InputSources(tuple(setup.urls)),
        parallel=parallel,
        context=TestContext(test_helpers=helpers),
        geolocation=GeolocationSettings(
            discovery_urls=(discovery,), resolver_whoami=""
        ),
    )
    prepared = await prepare_run(request, setup.catalog)
    started = time.perf_counter()
    await prepared.execute(QuietObserver())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    options = parser.parse_args()

    with slow_server(options.latency) as port, test_helper() as helper:
        target, catalog = choose_test(load_catalog(), helper)
        urls = make_urls(options.urls, port, closed_port())
        setup = Setup(urls, target, catalog, helper, port)
        results = {}
        with tempfile.TemporaryDirectory() as scratch:
            for parallel in (1, 20):
                home = Path(scratch) / f"p{parallel}"
                elapsed = asyncio.run(measure(setup, parallel, home))
                results[parallel] = (elapsed, verdicts(home))

    (serial, serial_verdicts), (concurrent, concurrent_verdicts) = (
        results[1],
        results[20],
    )
    assert serial_verdicts == concurrent_verdicts, "verdicts differ between runs"
    assert len(serial_verdicts) == len(urls)
    anomalies = sum(1 for v in serial_verdicts.values() if v[0])
    latency_ms = options.latency * 1000
    print(f"test: {target}; {len(urls)} URLs, {latency_ms:.0f} ms per response")
    print(f"--parallel 1 : {serial:7.2f} s")
    print(f"--parallel 20: {concurrent:7.2f} s")
    ratio = serial / concurrent
    print(f"speed-up: {ratio:.1f}x; verdicts identical ({anomalies} anomalies)")


if __name__ == "__main__":
    main()
