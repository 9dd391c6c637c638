"""A collector per test: in-process (ASGI) or on a real socket, plus probe helpers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from censorscope.collector import CollectorSettings, create_app
from censorscope.collector.service import Collector
from censorscope.collector.validation import ASN_RE, CC_RE

_STARTUP_LIMIT_S = 20.0


def usable_samples(shared_data: Path) -> list[dict[str, Any]]:
    """Real samples a probe could submit as they are (known country and ASN)."""
    docs = []
    for path in sorted((shared_data / "ooni-samples").glob("*.json")):
        doc = orjson.loads(path.read_bytes())
        if isinstance(doc, dict) and _submittable(doc):
            docs.append(doc)
    return docs


def _submittable(doc: dict[str, Any]) -> bool:
    cc, asn = doc.get("probe_cc"), doc.get("probe_asn")
    return (
        isinstance(cc, str)
        and bool(CC_RE.match(cc))
        and isinstance(asn, str)
        and bool(ASN_RE.match(asn))
    )


def report_request(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /report`` body a probe sends before submitting ``doc``."""
    return {
        "data_format_version": "0.2.0",
        "format": "json",
        "probe_asn": doc["probe_asn"],
        "probe_cc": doc["probe_cc"],
        "software_name": doc.get("software_name") or "ooniprobe",
        "software_version": doc.get("software_version") or "3.0.0",
        "test_name": doc["test_name"],
        "test_start_time": doc.get("test_start_time") or "2024-03-01 10:00:00",
        "test_version": doc.get("test_version") or "0.1.0",
    }


@dataclass
class Probe:
    """What a probe does, over any httpx client."""

    client: httpx.AsyncClient

    async def open_report(self, doc: dict[str, Any]) -> str:
        response = await self.client.post("/report", json=report_request(doc))
        assert response.status_code == 200, response.text
        report_id: str = response.json()["report_id"]
        return report_id

    async def submit(self, report_id: str, doc: dict[str, Any]) -> httpx.Response:
        return await self.client.post(
            f"/report/{report_id}", json={"format": "json", "content": doc}
        )


@pytest.fixture(scope="session")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    return usable_samples(shared_data)


@pytest.fixture
def settings(tmp_path: Path) -> CollectorSettings:
    return CollectorSettings(archive_dir=tmp_path / "archive")


@pytest.fixture
def app(settings: CollectorSettings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    collector_of(app).close()


def collector_of(app: FastAPI) -> Collector:
    collector: Collector = app.state.collector
    return collector


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as c:
        yield c


@pytest.fixture
def probe(client: httpx.AsyncClient) -> Probe:
    return Probe(client)


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread, on a free port."""

    def __init__(self, app: FastAPI) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted
        # connections only then; without it Nagle + delayed ACK add 40 ms.
        self._socket = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_LIMIT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join()
        self._socket.close()


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
