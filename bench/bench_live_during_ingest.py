"""Live rows while an ingest runs on the same warehouse file.

Starts ``censorscope serve --warehouse W`` (subprocess, 127.0.0.1), then:

1. submits measurements one at a time over HTTP and times how long after
   the collector's answer each becomes visible through
   ``/api/v1/measurement_meta`` (polled every 20 ms), with nothing else on W;
2. does the same while ``censorscope ingest --warehouse W`` loads replayed
   real OONI samples (bench_ingest's generator) into W;
3. ingests the same file into a fresh warehouse with no collector, for the
   ingest rate without competition.

Prints the latencies (median, 95th percentile, max), the time a
measurement_meta read of a loaded row takes, and both ingest rates.
Wall-clock figures: serve, ingest and this script share the machine's cores.

Usage: python bench/bench_live_during_ingest.py [--count 20000] [--jobs 1]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import SHARED, generate, sample_pool

CLI = [sys.executable, "-c", "from censorscope.cli import main; main()"]
_POLL_S = 0.02
_PACE_S = 0.1
_RATE_RE = re.compile(r"([\d,]+) measurements from .* in ([\d.]+) s")


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_serve(root: Path, warehouse: Path) -> tuple[subprocess.Popen[bytes], str]:
    data = root / "data"
    data.mkdir(exist_ok=True)
    (data / "fingerprints").symlink_to(SHARED / "fingerprints")
    port = _port()
    command = [*CLI, "serve", "--archive", str(root / "archive")]
    command += ["--warehouse", str(warehouse), "--port", str(port)]
    env = {**os.environ, "CENSORSCOPE_DATA_DIR": str(data)}
    log = (root / "serve.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/api/v1/raw_measurement?measurement_uid=x")
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("serve did not start")


def submittable(pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        doc
        for doc in pool
        if isinstance(doc.get("probe_cc"), str)
        and re.fullmatch(r"[A-Z]{2}", doc["probe_cc"])
        and isinstance(doc.get("probe_asn"), str)
        and re.fullmatch(r"AS\d+", doc["probe_asn"])
    ]


class Prober:
    """Submits one measurement at a time and times until it is readable."""

    def __init__(self, client: httpx.Client, docs: list[dict[str, Any]]) -> None:
        self.client = client
        self.docs = docs
        self.sent = 0
        self.reads: list[float] = []

    def one(self) -> float:
        doc = dict(self.docs[self.sent % len(self.docs)])
        self.sent += 1
        report = {
            "data_format_version": "0.2.0", "format": "json",
            "probe_asn": doc["probe_asn"], "probe_cc": doc["probe_cc"],
            "software_name": "bench", "software_version": "1.0",
            "test_name": doc["test_name"], "test_version": "0.1.0",
            "test_start_time": "2025-01-01 00:00:00",
        }  # fmt: skip
        report_id = self.client.post("/report", json=report).json()["report_id"]
        doc.update(report_id=report_id, input=f"http://{self.sent}.bench.test/")
        answer = self.client.post(
            f"/report/{report_id}", json={"format": "json", "content": doc}
        )
        uid = answer.json()["measurement_uid"]
        answered = time.perf_counter()
        while not self.meta(uid):
            time.sleep(_POLL_S)
        visible = time.perf_counter() - answered
        started = time.perf_counter()
        self.meta(uid)  # a loaded row, read again: the cost of one read
        self.reads.append(time.perf_counter() - started)
        return visible

    def meta(self, uid: str) -> dict[str, Any]:
        response = self.client.get(
            "/api/v1/measurement_meta", params={"measurement_uid": uid}
        )
        if response.status_code != 200:
            raise SystemExit(f"measurement_meta answered {response.status_code}")
        answer: dict[str, Any] = response.json()
        return answer


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name}: n={len(values)} median {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


def ingest(source: Path, warehouse: Path, jobs: int) -> subprocess.Popen[bytes]:
    command = [*CLI, "ingest", "--warehouse", str(warehouse), "--jobs", str(jobs)]
    command += ["--fingerprints", str(SHARED / "fingerprints"), str(source)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def rate(process: subprocess.Popen[bytes]) -> float:
    output = process.communicate()[0].decode()
    match = _RATE_RE.search(output)
    if process.returncode != 0 or match is None:
        raise SystemExit(f"ingest failed:\n{output[-2000:]}")
    return int(match.group(1).replace(",", "")) / float(match.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--idle", type=int, default=50)
    args = parser.parse_args()
    pool = sample_pool()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp)
        source = root / "replay.jsonl"
        generate(source, args.count, pool)
        serve, url = start_serve(root, root / "w.duckdb")
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                prober = Prober(client, submittable(pool))
                idle = [prober.one() for _ in range(args.idle)]
                idle_reads, prober.reads = prober.reads, []
                running = ingest(source, root / "w.duckdb", args.jobs)
                busy = []
                while running.poll() is None:
                    busy.append(prober.one())
                    time.sleep(_PACE_S)
                shared_rate = rate(running)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(60)
        alone_rate = rate(ingest(source, root / "alone.duckdb", args.jobs))
    print(f"{args.count} measurements ingested with --jobs {args.jobs}")
    print(summary("live row visible after the answer, idle", idle))
    print(summary("live row visible after the answer, during ingest", busy))
    print(summary("measurement_meta read, idle", idle_reads))
    print(summary("measurement_meta read, during ingest", prober.reads))
    print(
        f"ingest rate: {alone_rate:,.0f}/s alone, {shared_rate:,.0f}/s next to serve "
        f"and {len(busy)} live submissions"
    )


if __name__ == "__main__":
    main()
