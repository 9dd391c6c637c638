"""Fixtures for the scoring tests: the real fingerprints, loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
