"""Real OONI samples as archive submissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest


def load_samples(shared_data: Path) -> list[dict[str, Any]]:
    """Every JSON sample that is one measurement object."""
    docs = []
    for path in sorted((shared_data / "ooni-samples").glob("*.json")):
        doc = orjson.loads(path.read_bytes())
        if isinstance(doc, dict):
            docs.append(doc)
    return docs


@pytest.fixture(scope="session")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    return load_samples(shared_data)
