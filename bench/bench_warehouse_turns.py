"""Taking turns on one warehouse: a reader next to a writer that never pauses.

One process upserts prepared 2,000-row batches back to back (a writer-bound
ingest, as on a machine with many scoring cores); another reads one row
every 100 ms, read-only, as ``measurements`` or the read endpoints do.
Prints the reader's latency (median, 95th percentile, max) and the writer's
batches per second with and without the reader.

Usage: python bench/bench_warehouse_turns.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BATCHES = 30
_ROWS = 2000


def writer(path: str, seconds: float) -> None:
    sys.path.insert(0, str(REPO))
    from tests.warehouse.test_duckdb import row

    from censorscope.warehouse import open_warehouse

    store = open_warehouse(path)
    batches = [
        [row(f"w{b}_{n}", start=f"2024-03-01 {n % 24:02d}:00:00") for n in range(_ROWS)]
        for b in range(_BATCHES)
    ]
    print("ready", flush=True)
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        store.upsert_many(batches[done % _BATCHES])
        done += 1
    print(done / seconds, flush=True)


def reader(path: str, seconds: float) -> list[float]:
    from censorscope.warehouse import open_warehouse

    store = open_warehouse(path, read_only=True)
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        store.get("w0_1")
        latencies.append(time.perf_counter() - started)
        time.sleep(0.1)
    return latencies


def run_writer(
    path: str, seconds: float, with_reader: bool
) -> tuple[float, list[float]]:
    command = [sys.executable, __file__, "--writer", path, "--seconds", str(seconds)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("the writer did not start")
    latencies = reader(path, seconds - 1) if with_reader else []
    rate = float(process.stdout.readline())
    process.wait()
    return rate, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--writer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer, args.seconds)
        return
    from censorscope.warehouse import open_warehouse

    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        path = str(Path(tmp) / "w.duckdb")
        open_warehouse(path).close()
        alone, _ = run_writer(path, args.seconds, with_reader=False)
        shared, latencies = run_writer(path, args.seconds, with_reader=True)
    ordered = sorted(latencies)
    print(
        f"reader: {len(ordered)} reads, median "
        f"{statistics.median(ordered) * 1000:.0f} ms, p95 "
        f"{ordered[int(len(ordered) * 0.95)] * 1000:.0f} ms, max "
        f"{ordered[-1] * 1000:.0f} ms"
    )
    print(
        f"writer: {alone:.1f} batches/s alone, {shared:.1f} with the reader "
        f"({_ROWS} rows each)"
    )


if __name__ == "__main__":
    main()
