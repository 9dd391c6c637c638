"""Collector benchmark: submissions per second over loopback vs. the bare archive.

Builds N distinct measurements from the real OONI samples (each sample with
a different ``input``), then, in one run:

1. stores them with ``Archive.store`` in batches of 256, in this process
   (the baseline: compression, write, fsync and index, no HTTP);
2. starts ``censorscope serve`` as a child process on a free 127.0.0.1 port
   and submits them through the collector protocol (``POST /report/{id}``),
   once one at a time and once with C concurrent requests, each answer
   arriving only after the measurement is durable.

It prints the rates and the ratios HTTP / baseline.

Usage: python bench/bench_collector.py [--count 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from censorscope.archive import Archive, Submission

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(
    os.environ.get("CENSORSCOPE_SHARED_DATA", REPO.parent / "shared" / "data")
)
_BATCH = 256


def load_samples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((SHARED / "ooni-samples").glob("*.json")):
        doc = orjson.loads(path.read_bytes())
        if isinstance(doc, dict) and doc.get("probe_cc") and doc.get("probe_asn"):
            docs.append(doc)
    return docs


def measurements(samples: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [
        {**samples[i % len(samples)], "input": f"https://bench{i}.example/"}
        for i in range(count)
    ]


def bench_archive(docs: list[dict[str, Any]], root: Path) -> float:
    archive = Archive(root)
    start = time.perf_counter()
    for offset in range(0, len(docs), _BATCH):
        archive.store(
            [Submission.prepare(doc) for doc in docs[offset : offset + _BATCH]]
        )
    elapsed = time.perf_counter() - start
    archive.close()
    return len(docs) / elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(archive: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from censorscope.cli import main; main()"]
    arguments = ["serve", "--port", str(port), "--archive", str(archive)]
    process = subprocess.Popen([*command, *arguments])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("censorscope serve did not start")


async def open_reports(
    client: httpx.AsyncClient, docs: list[dict[str, Any]]
) -> list[str]:
    ids: dict[tuple[str, str, str], str] = {}
    for doc in docs:
        key = (doc["probe_cc"], doc["probe_asn"], doc["test_name"])
        if key not in ids:
            request = {"probe_cc": key[0], "probe_asn": key[1], "test_name": key[2]}
            ids[key] = (await client.post("/report", json=request)).json()["report_id"]
    return [ids[(d["probe_cc"], d["probe_asn"], d["test_name"])] for d in docs]


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> int:
    """One keep-alive POST written in a single send; the answer's status."""
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n" + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _worker(port: int, jobs: asyncio.Queue[tuple[str, bytes]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while not jobs.empty():
        report_id, body = jobs.get_nowait()
        status = await _post(reader, writer, f"/report/{report_id}", body)
        if status != 200:
            raise SystemExit(f"submission refused with {status}")
    writer.close()


async def bench_http(port: int, docs: list[dict[str, Any]], concurrency: int) -> float:
    """Submissions/s from ``concurrency`` probes, each on a keep-alive connection.

    A bare asyncio client rather than httpx: httpx costs 1.5-5 ms of client
    CPU per request, which would measure the client, not the collector.
    """
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        report_ids = await open_reports(client, docs)
    jobs: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for doc, rid in zip(docs, report_ids, strict=True):
        envelope = {"format": "json", "content": {**doc, "report_id": rid}}
        jobs.put_nowait((rid, orjson.dumps(envelope)))
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, jobs) for _ in range(concurrency)))
    return len(docs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    options = parser.parse_args()
    samples = load_samples()
    mean_size = sum(len(orjson.dumps(s)) for s in samples) / len(samples)
    print(
        f"{options.count} measurements, {mean_size:.0f} B mean ({len(samples)} samples)"
    )

    with tempfile.TemporaryDirectory() as scratch:
        base = bench_archive(
            measurements(samples, options.count), Path(scratch, "direct")
        )
        print(f"archive in-process (batches of {_BATCH}): {base:8.0f} /s  (baseline)")
        port = free_port()
        server = start_server(Path(scratch, "served"), port)
        try:
            for concurrency, tag in ((1, "a"), (options.concurrency, "b")):
                docs = [
                    {**d, "input": d["input"] + tag}
                    for d in measurements(samples, options.count)
                ]
                rate = asyncio.run(bench_http(port, docs, concurrency))
                print(
                    f"HTTP loopback, {concurrency:3d} in flight:   {rate:8.0f} /s"
                    f"  ratio to baseline {rate / base:.3f}"
                )
        finally:
            server.terminate()
            server.wait(60)


if __name__ == "__main__":
    main()
