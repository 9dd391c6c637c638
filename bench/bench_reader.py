"""Reader benchmark: our JSONL reader against ``json.loads`` line by line.

Builds a JSONL file of at least 50,000 measurements by replaying the real OONI
samples in ../shared/data/ooni-samples with fresh report ids and uids, then
reads it end to end with ``censorscope.measurement.read_measurements`` (parse,
validate, wrap) and, in the same process, with the standard library's
``json.loads`` on each line (parse only).  Runs alternate and the medians are
compared, since the machine is shared and noisy.

Usage: python bench/bench_reader.py [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from censorscope.measurement import read_measurements
from censorscope.measurement.ids import new_measurement_uid, new_report_id

REPO = Path(__file__).resolve().parent.parent
SAMPLES = (
    Path(os.environ.get("CENSORSCOPE_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "ooni-samples"
)
MAX_SAMPLE_BYTES = 100_000  # leave out the one 570 KB outlier: typical sizes only


def load_samples() -> list[dict[str, object]]:
    docs = []
    for path in sorted(SAMPLES.glob("*")):
        if path.stat().st_size > MAX_SAMPLE_BYTES or path.name.startswith("detector"):
            continue
        docs.extend(m.doc for m in read_measurements([path]))
    return docs


def build_corpus(path: Path, count: int) -> int:
    samples = load_samples()
    with path.open("wb") as out:
        for number in range(count):
            doc = dict(samples[number % len(samples)])
            cc = str(doc.get("probe_cc") or "ZZ")
            doc["report_id"] = new_report_id(doc["test_name"], cc, "AS0")  # type: ignore[arg-type]
            body = orjson.dumps(doc)
            doc["measurement_uid"] = new_measurement_uid(
                body, cc, str(doc["test_name"])
            )
            out.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
    return len(samples)


def ours(path: Path) -> int:
    return sum(1 for _ in read_measurements([path]))


def stdlib(path: Path) -> int:
    count = 0
    with path.open("rb") as lines:
        for line in lines:
            json.loads(line)
            count += 1
    return count


def timed(function: Callable[[Path], int], path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = function(path)
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.jsonl"
        kinds = build_corpus(corpus, args.count)
        megabytes = corpus.stat().st_size / 1e6
        print(
            f"corpus: {args.count:,} measurements from {kinds} real samples, "
            f"{megabytes:,.1f} MB"
        )

        times: dict[str, list[float]] = {"censorscope": [], "json.loads": []}
        for _ in range(args.rounds):
            for name, function in (("censorscope", ours), ("json.loads", stdlib)):
                seconds, count = timed(function, corpus)
                if count != args.count:
                    raise SystemExit(f"{name} read {count}, expected {args.count}")
                times[name].append(seconds)

        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, seconds in medians.items():
            print(
                f"{name:>12}: {args.count / seconds:>10,.0f} measurements/s "
                f"{megabytes / seconds:>8,.1f} MB/s  (median of {args.rounds})"
            )
        ratio = medians["json.loads"] / medians["censorscope"]
        print(f"ratio: censorscope reader is {ratio:.2f}x the speed of json.loads")


if __name__ == "__main__":
    main()
