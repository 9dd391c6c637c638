"""Helpers shared by the network test tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from censorscope.measurement.model import check_measurement, new_measurement
from censorscope.nettests.base import NetTest, TestResult


def loads_back(test: NetTest, result: TestResult, input: str | None) -> dict[str, Any]:
    """Wrap the result in a measurement, round-trip it through JSON and check it."""
    now = datetime.now(UTC)
    doc = new_measurement(
        test_name=test.name,
        test_version=test.version,
        input=input,
        test_start_time=now,
        measurement_start_time=now,
    )
    doc["test_keys"] = result.test_keys
    doc["test_helpers"] = result.test_helpers
    doc["extensions"] = result.extensions
    return check_measurement(orjson.loads(orjson.dumps(doc)))
