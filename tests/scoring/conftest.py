"""Fixtures for the scoring tests: the real fingerprints, loaded once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from censorscope.measurement.readers import read_measurements
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.ingest import ScoringSetup


@pytest.fixture(scope="session")
def fingerprints_dir(shared_data: Path) -> Path:
    return shared_data / "fingerprints"


@pytest.fixture(scope="session")
def fingerprints(fingerprints_dir: Path) -> FingerprintDB:
    return FingerprintDB.load(fingerprints_dir)


@pytest.fixture(scope="session")
def setup(fingerprints_dir: Path, shared_data: Path) -> ScoringSetup:
    return ScoringSetup(fingerprints_dir, shared_data / "test-lists")


@pytest.fixture(scope="session")
def sample_docs(shared_data: Path) -> list[dict[str, Any]]:
    """The real samples small enough to replay by thousands (< 60 KB each)."""
    paths = [
        path
        for path in sorted((shared_data / "ooni-samples").iterdir())
        if path.stat().st_size < 60_000 and not path.name.startswith("detector_query")
    ]
    return [measurement.doc for measurement in read_measurements(paths)]


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
