"""Local servers for the probe tests: a tiny web server and a collector.

Both run on 127.0.0.1 in a background thread.  The collector implements the
three OONI collector endpoints and keeps what it received; it can be told to
fail (503) to exercise retries and deferred uploads.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """A canned answer: status, body, content type and an optional delay."""

    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    delay: float = 0.0


class _WebHandler(BaseHTTPRequestHandler):
    server: _WebServer

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)
        if route is None:
            route = Route(b"not found", status=404)
        if route.delay:
            time.sleep(route.delay)
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]


@dataclass
class WebServer:
    """A handle on a running web server."""

    server: _WebServer

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, route: Route) -> str:
        self.server.routes[path] = route
        return self.url(path)


@contextmanager
def web_server() -> Iterator[WebServer]:
    server = _WebServer(("127.0.0.1", 0), _WebHandler)
    server.routes = {}
    with _serving(server):
        yield WebServer(server)


@contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class CollectorState:
    """What the collector received; ``failing`` makes every request a 503."""

    failing: bool = False
    templates: list[dict[str, Any]] = field(default_factory=list)
    measurements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def all_measurements(self) -> list[dict[str, Any]]:
        return [m for ms in self.measurements.values() for m in ms]


class _CollectorHandler(BaseHTTPRequestHandler):
    server: _CollectorServer

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with state.lock:
            state.requests += 1
            if state.failing:
                self._reply(503, {"error": "collector failing on purpose"})
                return
            self._dispatch(state, body)

    def _dispatch(self, state: CollectorState, body: dict[str, Any]) -> None:
        parts = self.path.strip("/").split("/")
        if parts == ["report"]:
            report_id = f"20240101T000000Z_{body['test_name'].replace('_', '')}_" + (
                f"{body['probe_cc']}_{body['probe_asn'][2:]}_n9_{secrets.token_hex(8)}"
            )
            state.templates.append(body)
            state.measurements[report_id] = []
            self._reply(200, {"report_id": report_id, "supported_formats": ["json"]})
        elif len(parts) == 2 and parts[1] in state.measurements:
            if body.get("content", {}).get("report_id") != parts[1]:
                self._reply(400, {"error": "report_id mismatch"})
                return
            state.measurements[parts[1]].append(body["content"])
            self._reply(200, {"measurement_uid": f"uid-{secrets.token_hex(8)}"})
        elif len(parts) == 3 and parts[2] == "close":
            state.closed.append(parts[1])
            self._reply(200, {"status": "success"})
        else:
            self._reply(404, {"error": "no such report"})

    def _reply(self, status: int, value: dict[str, Any]) -> None:
        payload = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    state: CollectorState


@dataclass
class Collector:
    url: str
    state: CollectorState


@contextmanager
def collector() -> Iterator[Collector]:
    server = _CollectorServer(("127.0.0.1", 0), _CollectorHandler)
    server.state = CollectorState()
    host, port = server.server_address[:2]
    with _serving(server):
        yield Collector(f"http://{host!s}:{port}", server.state)
