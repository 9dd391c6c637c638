"""Bulk ingestion: idempotent, resumable after SIGKILL, parallel, loud about rejects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from censorscope.scoring.ingest import ScoringSetup, ingest
from censorscope.warehouse import open_warehouse
from tests.scoring.replay import write_replay

CLI = [sys.executable, "-c", "from censorscope.cli import main; main()"]


def cli_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def digest(path: Path) -> list[tuple[Any, ...]]:
    with open_warehouse(path, read_only=True) as store:
        return store.table_digest()


@pytest.fixture
def dataset(tmp_path: Path, sample_docs: list[dict[str, Any]]) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    for part in range(3):
        write_replay(
            directory / f"part{part}.jsonl", 1500, sample_docs, offset=1500 * part
        )
    return directory


def test_ingesting_the_same_files_twice_leaves_the_warehouse_unchanged(
    dataset: Path, tmp_path: Path, setup: ScoringSetup
) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as store:
        first = ingest([dataset], store, setup)
        assert (first.files, first.measurements, first.rejects) == (3, 4500, 0)
    once = digest(path)
    with open_warehouse(path) as store:
        again = ingest([dataset], store, setup)
        assert (again.skipped_files, again.measurements) == (3, 0)
        forced = ingest([dataset], store, setup, force=True)
        assert forced.measurements == 4500
    assert digest(path) == once
    assert len(once) == 4500


def test_parallel_workers_load_the_same_warehouse_as_one_process(
    dataset: Path, tmp_path: Path, setup: ScoringSetup
) -> None:
    for jobs in (1, 2):
        with open_warehouse(tmp_path / f"w{jobs}.duckdb") as store:
            report = ingest([dataset], store, setup, jobs=jobs)
            assert report.measurements == 4500
    assert digest(tmp_path / "w1.duckdb") == digest(tmp_path / "w2.duckdb")


def run_ingest(
    dataset: Path, warehouse: Path, setup: ScoringSetup, *extra: str
) -> list[str]:
    assert setup.fingerprints_dir is not None
    return [
        *CLI, "-v", "ingest", str(dataset), "--warehouse", str(warehouse),
        "--fingerprints", str(setup.fingerprints_dir), "--jobs", "1", *extra,
    ]  # fmt: skip


def test_an_ingest_killed_half_way_resumes_to_the_same_warehouse_as_a_clean_run(
    dataset: Path, tmp_path: Path, setup: ScoringSetup
) -> None:
    clean, resumed = tmp_path / "clean.duckdb", tmp_path / "resumed.duckdb"
    subprocess.run(
        run_ingest(dataset, clean, setup),
        check=True,
        env=cli_env(),
        capture_output=True,
    )

    batches = ("--batch-size", "500")
    process = subprocess.Popen(
        run_ingest(dataset, resumed, setup, *batches),
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    committed = 0
    for line in process.stderr:
        committed += "committed" in line
        if committed == 4:  # part0 done, part1 committed through record 500
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    partial = len(digest(resumed))
    assert 0 < partial < 4500

    second = subprocess.run(
        run_ingest(dataset, resumed, setup, *batches),
        check=False,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert second.returncode == 0, second.stderr
    assert "1 already ingested" in second.stderr
    assert "part1.jsonl after record" in second.stderr
    assert digest(resumed) == digest(clean)


def test_rejected_records_are_reported_with_location_and_make_a_nonzero_exit(
    tmp_path: Path, sample_docs: list[dict[str, Any]], setup: ScoringSetup
) -> None:
    data = write_replay(tmp_path / "bad.jsonl", 5, sample_docs)
    with data.open("ab") as out:
        out.write(b'{"broken json\n[1, 2]\n')
    command = [*run_ingest(data, tmp_path / "w.duckdb", setup)]
    command.remove("-v")
    result = subprocess.run(
        command, check=False, env=cli_env(), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"rejected {data}:6: invalid JSON" in result.stderr
    assert f"rejected {data}:7:" in result.stderr
    assert "5 measurements from 1 files" in result.stderr
    assert "2 rejected" in result.stderr
    assert len(digest(tmp_path / "w.duckdb")) == 5


def test_ingest_without_fingerprints_explains_how_to_get_them(tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    data.write_bytes(b"")
    command = [
        *CLI,
        "ingest",
        str(data),
        "-w",
        str(tmp_path / "w.duckdb"),
        "--fingerprints",
        str(tmp_path),
    ]
    result = subprocess.run(
        command, check=False, env=cli_env(), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "censorscope fingerprints update" in result.stderr
