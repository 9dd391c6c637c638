"""``censorscope archive get|ls|reindex`` as a user runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from censorscope.archive import Archive, Submission
from censorscope.archive.archive import INDEX_NAME
from censorscope.cli import app

runner = CliRunner()
WHEN = datetime(2024, 3, 1, 10, 15, tzinfo=UTC)


def _archive_of(path: Path, docs: list[dict[str, Any]]) -> list[str]:
    archive = Archive(path)
    outcomes = archive.store([Submission.prepare(doc, WHEN) for doc in docs])
    archive.close()
    return [outcome.measurement_uid for outcome in outcomes]


def test_get_prints_the_stored_line_of_a_uid(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    (uid,) = _archive_of(tmp_path, samples[:1])

    result = runner.invoke(app, ["archive", "get", uid, "--archive", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {**samples[0], "measurement_uid": uid}


def test_get_where_prints_the_file_offset_and_line(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    uids = _archive_of(tmp_path, samples[:2])

    result = runner.invoke(
        app, ["archive", "get", "--where", uids[0], "-a", str(tmp_path)]
    )

    key, offset, line = result.stdout.strip().split("\t")
    assert key.startswith("raw/20240301/10/") and key.endswith(".jsonl.zst")
    assert (offset, line) == ("0", "0")


def test_get_of_an_unknown_uid_says_so_and_fails(tmp_path: Path) -> None:
    _archive_of(tmp_path, [])

    result = runner.invoke(app, ["archive", "get", "nope", "-a", str(tmp_path)])

    assert result.exit_code == 1
    assert "no measurement nope" in result.output


def test_commands_on_a_directory_without_an_archive_fail_clearly(
    tmp_path: Path,
) -> None:
    result = runner.invoke(app, ["archive", "ls", "-a", str(tmp_path / "none")])

    assert result.exit_code == 1
    assert "no archive at" in result.output


def test_ls_lists_files_with_counts_filtered_by_country_and_test(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    _archive_of(tmp_path, samples)

    result = runner.invoke(
        app, ["archive", "ls", "-a", str(tmp_path), "--cc", "it", "--test", "tor"]
    )

    assert result.exit_code == 0, result.output
    assert "raw/20240301/10/IT/tor/2024030110_IT_tor.n1.0.jsonl.zst" in result.stdout
    assert "signal" not in result.stdout
    assert "1 files, 2 measurements" in result.output


def test_reindex_restores_lookups_after_the_index_is_lost(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    uids = _archive_of(tmp_path, samples[:3])
    for path in tmp_path.glob(f"{INDEX_NAME}*"):
        path.unlink()

    result = runner.invoke(app, ["archive", "reindex", "-a", str(tmp_path)])
    found = runner.invoke(app, ["archive", "get", uids[2], "-a", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "3 added to the index, 0 damaged" in result.output
    assert found.exit_code == 0
