"""The probe against censorscope's own collector (``censorscope serve``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import zstandard

from censorscope.measurement.ids import MEASUREMENT_UID_RE, REPORT_ID_RE
from censorscope.probe.results import ResultsStore
from tests.probe.conftest import FAKE_PROBE_IP, Probe
from tests.probe.servers import Route, WebServer

collector = pytest.importorskip("censorscope.collector")


@pytest.fixture
def real_collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The collector app served by uvicorn on 127.0.0.1, and its archive dir."""
    archive = tmp_path / "archive"
    app = collector.create_app(collector.CollectorSettings(archive_dir=archive))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", archive
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
        app.state.collector.close()


def test_measurements_reach_the_real_collector_scrubbed(
    probe: Probe, web: WebServer, real_collector: tuple[str, Path]
) -> None:
    url, archive = real_collector
    page = web.route("/me", Route(f"you are {FAKE_PROBE_IP}".encode()))

    result = probe.run(
        "tests.probe.local_nettests:HttpBodyTest", "-i", page, "--collector", url
    )

    assert result.exit_code == 0, result.output
    [run] = ResultsStore(probe.home).runs()
    [upload] = run.uploads().values()
    assert REPORT_ID_RE.match(upload["report_id"])
    assert MEASUREMENT_UID_RE.match(upload["measurement_uid"])
    archived = b"".join(decompressed(p) for p in archive.rglob("*.jsonl.zst"))
    assert b"[scrubbed]" in archived
    assert FAKE_PROBE_IP.encode() not in archived


def decompressed(path: Path) -> bytes:
    with path.open("rb") as stream:
        reader = zstandard.ZstdDecompressor().stream_reader(
            stream, read_across_frames=True
        )
        return reader.read()
