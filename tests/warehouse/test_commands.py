"""``censorscope measurements`` and ``censorscope aggregate`` over real samples."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from censorscope.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    result = runner.invoke(
        app,
        [
            "ingest",
            "--warehouse",
            str(path),
            "--fingerprints",
            str(shared_data / "fingerprints"),
            "--jobs",
            "1",
            str(shared_data / "ooni-samples"),
        ],
    )
    assert result.exit_code == 0, result.output
    return path


def _json_rows(output: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_measurements_filters_by_country_and_test(warehouse: Path) -> None:
    result = runner.invoke(
        app,
        ["measurements", "-w", str(warehouse), "--cc", "ir", "--test",
         "web_connectivity", "--json"],
    )  # fmt: skip

    rows = _json_rows(result.output)
    assert result.exit_code == 0, result.output
    assert len(rows) == 3
    assert {row["probe_cc"] for row in rows} == {"IR"}
    assert sum(bool(row["confirmed"]) for row in rows) == 2


def test_measurements_filters_by_network_and_verdict(warehouse: Path) -> None:
    result = runner.invoke(
        app, ["measurements", "-w", str(warehouse), "--asn", "AS23693", "--anomaly",
              "--json"],
    )  # fmt: skip

    (row,) = _json_rows(result.output)
    assert row["input"] == "http://archive.org"
    assert row["confirmed"] is True


def test_measurements_table_shows_the_verdict_columns(warehouse: Path) -> None:
    result = runner.invoke(app, ["measurements", "-w", str(warehouse), "--limit", "3"])

    assert result.exit_code == 0, result.output
    for heading in (
        "time (UTC)",
        "anomaly",
        "confirmed",
        "failure",
        "down",
        "blocking",
    ):
        assert heading in result.output


def test_aggregate_counts_partition_every_measurement(warehouse: Path) -> None:
    result = runner.invoke(
        app, ["aggregate", "-w", str(warehouse), "--by", "test_name", "--json"]
    )

    rows = _json_rows(result.output)
    # 958 samples, 957 rows: report2.json and report2blocked.json are the same
    # bytes, hence the same uid, stored once.
    assert sum(int(row["measurement_count"]) for row in rows) == 957  # type: ignore[call-overload]
    for row in rows:
        parts = ("ok_count", "anomaly_count", "confirmed_count", "failure_count")
        assert sum(int(row[key]) for key in parts) == row["measurement_count"]  # type: ignore[call-overload]


def test_an_unknown_dimension_is_refused_with_its_name(warehouse: Path) -> None:
    result = runner.invoke(app, ["aggregate", "-w", str(warehouse), "--by", "colour"])

    assert result.exit_code == 2
    assert "colour" in result.output


def test_an_empty_selection_says_so(warehouse: Path) -> None:
    result = runner.invoke(
        app, ["measurements", "-w", str(warehouse), "--since", "2031-01-01"]
    )

    assert result.exit_code == 0
    assert "no measurements match" in result.output
