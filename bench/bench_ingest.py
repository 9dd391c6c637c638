"""Ingest benchmark: scoring + loading DuckDB against merely parsing the JSON.

Replays the real OONI samples (shared/data/ooni-samples) with fresh
measurement uids, times, report ids and networks into a JSONL file in a
temporary directory, then, in the same run:

1. parses every line of that file with ``orjson.loads`` (the baseline);
2. ingests it with ``censorscope.scoring.ingest`` on one core (one process,
   DuckDB limited to one thread), in a child process so that its peak
   memory (``ru_maxrss``) can be read; this is done at two input sizes to
   show whether memory grows with the input.

It prints the rates, the ratio ingest / parse-only (target: >= 0.25) and the
peak memory at both sizes.  Rates are given per wall-clock second and per
second of CPU time: on a shared machine other work stretches wall times
unevenly between the two measurements, CPU time much less so.

Usage: python bench/bench_ingest.py [--count 200000] [--small 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(
    os.environ.get("CENSORSCOPE_SHARED_DATA", REPO.parent / "shared" / "data")
)
NETWORKS = [
    ("IT", "AS30722", "Vodafone Italia S.p.A."),
    ("IR", "AS197207", "Mobile Communication Company of Iran PLC"),
    ("ID", "AS23693", "PT. Telekomunikasi Selular"),
    ("ML", "AS30985", "Orange Mali SA"),
    ("RU", "AS12389", "Rostelecom"),
    ("CN", "AS4134", "Chinanet"),
    ("US", "AS7922", "Comcast Cable Communications, LLC"),
    ("BR", "AS28573", "Claro NXT Telecomunicacoes Ltda"),
    ("TR", "AS9121", "Turk Telekomunikasyon Anonim Sirketi"),
    ("DE", "AS3320", "Deutsche Telekom AG"),
]


def sample_pool() -> list[dict[str, Any]]:
    """Every real sample measurement (the detector series is not one)."""
    from censorscope.measurement.readers import read_measurements

    samples = sorted(
        p
        for p in (SHARED / "ooni-samples").iterdir()
        if not p.name.startswith("detector_query") and not p.name.endswith(".pretty")
    )
    return [m.doc for m in read_measurements(samples)]


def _uid(received: datetime, cc: str, test_name: str, rng: random.Random) -> str:
    stamp = received.strftime("%Y%m%d%H%M%S.%f")
    compact = test_name.replace("_", "")
    return f"{stamp}_{cc}_{compact}_{rng.getrandbits(64):016x}"


def generate(path: Path, count: int, pool: list[dict[str, Any]]) -> int:
    """Write ``count`` replayed measurements; return the file size."""
    rng = random.Random(20250101)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("wb") as out:
        for index in range(count):
            doc = dict(pool[index % len(pool)])
            cc, asn, name = NETWORKS[rng.randrange(len(NETWORKS))]
            when = start + timedelta(seconds=index * 13 + rng.randrange(13))
            received = when + timedelta(seconds=rng.randrange(1, 120))
            test_name = str(doc.get("test_name"))
            doc.update(
                measurement_uid=_uid(received, cc, test_name, rng),
                measurement_start_time=when.strftime("%Y-%m-%d %H:%M:%S"),
                test_start_time=when.strftime("%Y-%m-%d %H:%M:%S"),
                probe_cc=cc,
                probe_asn=asn,
                probe_network_name=name,
                report_id=f"{when:%Y%m%dT%H%M%SZ}_{test_name.replace('_', '')}_{cc}"
                f"_{asn[2:]}_n1_{rng.getrandbits(64):016x}",
            )
            out.write(orjson.dumps(doc) + b"\n")
    return path.stat().st_size


def parse_only(path: Path) -> tuple[int, float, float]:
    """(measurements, wall seconds, CPU seconds) to parse every line."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open("rb") as source:
        for line in source:
            orjson.loads(line)
            count += 1
    return count, time.perf_counter() - started, time.process_time() - cpu


def child(path: Path, warehouse: Path) -> None:
    """Ingest ``path`` on one core and print rate and peak memory as JSON."""
    from censorscope.scoring.ingest import ScoringSetup, ingest
    from censorscope.warehouse import open_warehouse

    setup = ScoringSetup(SHARED / "fingerprints", SHARED / "test-lists")
    with open_warehouse(warehouse, threads=1) as store:
        cpu = time.process_time()  # counts DuckDB's thread too
        report = ingest([path], store, setup, jobs=1)
        cpu = time.process_time() - cpu
        rows = store.count()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "measurements": report.measurements,
        "rows": rows,
        "rejects": report.rejects,
        "seconds": report.seconds,
        "cpu_seconds": cpu,
        "peak_mib": peak_kib / 1024,
    }
    print(json.dumps(result))


def run_child(path: Path, warehouse: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(path), str(warehouse)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    pool = sample_pool()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        sizes = {}
        for count in (args.small, args.count):
            sizes[count] = generate(root / f"m{count}.jsonl", count, pool)
            print(f"generated {count} measurements, {sizes[count] / 1e6:.0f} MB")
        big = root / f"m{args.count}.jsonl"
        parsed, parse_wall, parse_cpu = parse_only(big)
        results = {
            count: run_child(root / f"m{count}.jsonl", root / f"w{count}.duckdb")
            for count in (args.small, args.count)
        }
    large = results[args.count]
    print(f"load average now: {os.getloadavg()[0]:.1f} (other work skews wall times)")
    print(
        f"parse only (orjson.loads): {parsed / parse_wall:,.0f} measurements/s wall, "
        f"{parsed / parse_cpu:,.0f}/s of CPU time"
    )
    print(
        f"ingest (score + DuckDB, 1 core): "
        f"{large['measurements'] / large['seconds']:,.0f} measurements/s wall, "
        f"{large['measurements'] / large['cpu_seconds']:,.0f}/s of CPU time "
        f"({large['rows']} rows, {large['rejects']} rejects)"
    )
    wall_ratio = (large["measurements"] / large["seconds"]) / (parsed / parse_wall)
    cpu_ratio = (large["measurements"] / large["cpu_seconds"]) / (parsed / parse_cpu)
    print(
        f"ratio ingest / parse-only: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU time "
        "(target >= 0.25)"
    )
    for count, result in results.items():
        print(f"peak memory at {count:,} measurements: {result['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
