"""Real samples replayed as fresh measurements, for tests that need volume."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson


def write_replay(
    path: Path, count: int, docs: list[dict[str, Any]], offset: int = 0
) -> Path:
    """``count`` real samples with fresh uids and times, as JSONL."""
    start = datetime(2025, 1, 1)
    with path.open("wb") as out:
        for index in range(offset, offset + count):
            doc = dict(docs[index % len(docs)])
            when = start + timedelta(seconds=7 * index)
            received = when + timedelta(seconds=30)
            doc["measurement_start_time"] = when.strftime("%Y-%m-%d %H:%M:%S")
            country = doc.get("probe_cc") or "ZZ"
            doc["measurement_uid"] = (
                f"{received:%Y%m%d%H%M%S.%f}_{country}_x_{index:016x}"
            )
            out.write(orjson.dumps(doc) + b"\n")
    return path
