"""``censorscope show`` and ``censorscope stats`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from censorscope.cli import app

runner = CliRunner()


def test_show_prints_test_time_network_input_and_key_results(shared_data: Path) -> None:
    sample = shared_data / "ooni-samples" / "whatsapp.json"

    result = runner.invoke(app, ["show", str(sample)])

    assert result.exit_code == 0, result.output
    for text in ("whatsapp", "2022-12-02 12:58:49", "IE AS6830", "whatsapp_web_status"):
        assert text in result.output
    assert "1 measurements read, 0 rejected" in result.output


def test_show_json_prints_the_normalised_document(shared_data: Path) -> None:
    sample = shared_data / "ooni-samples" / "http_invalid_request_line.yaml"

    result = runner.invoke(app, ["show", "--json", str(sample)])

    doc = orjson.loads(result.stdout.splitlines()[0])
    assert doc["test_name"] == "http_invalid_request_line"
    assert doc["data_format_version"] == "0.2.0"


def test_stats_counts_by_test_country_network_and_day(shared_data: Path) -> None:
    result = runner.invoke(app, ["stats", str(shared_data / "ooni-samples")])

    assert result.exit_code == 0, result.output
    assert "web_connectivity" in result.output
    assert "2018-07-26" in result.output
    assert "958 measurements read, 0 rejected" in result.output


def test_rejections_are_listed_and_make_the_command_fail(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"test_name": "a"}\n{broken\n{"test_name": "b"}\n')

    result = runner.invoke(app, ["stats", str(path)])

    assert result.exit_code == 1
    assert f"{path}:2" in result.output
    assert "2 measurements read, 1 rejected" in result.output


def test_strict_stops_at_the_first_rejection(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"test_name": "a"}\n{broken\n{"test_name": "b"}\n')

    result = runner.invoke(app, ["show", "--strict", str(path)])

    assert result.exit_code == 1
    assert "1 measurements read, 1 rejected" in result.output


def test_convert_rewrites_any_layout_as_compressed_jsonl(
    shared_data: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.jsonl.zst"
    samples = shared_data / "ooni-samples"

    result = runner.invoke(app, ["convert", str(samples), "-o", str(target)])

    assert result.exit_code == 0, result.output
    assert "wrote 958 measurements" in result.output
    again = runner.invoke(app, ["stats", str(target)])
    assert "958 measurements read, 0 rejected" in again.output
