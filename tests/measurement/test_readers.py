"""Reading every layout OONI has published, and writing JSONL back."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import lz4.frame
import orjson
import pytest
import zstandard

from censorscope.measurement import read_measurements, write_jsonl
from censorscope.measurement.readers import ReadStats, RejectedRecord, Rejection
from tests.conftest import shared_data_dir

SAMPLES = sorted(
    path
    for path in (shared_data_dir() / "ooni-samples").glob("*")
    if path.suffix in {".json", ".yaml", ".pretty"}
)
YAML_SAMPLES = [path for path in SAMPLES if path.suffix == ".yaml"]
JSON_SAMPLES = [path for path in SAMPLES if path.suffix == ".json"]


def test_the_real_samples_are_all_there() -> None:
    assert len(JSON_SAMPLES) >= 40 and len(YAML_SAMPLES) == 3


def _read(*paths: Path) -> tuple[list[dict[str, object]], list[Rejection]]:
    rejections: list[Rejection] = []
    docs = [m.doc for m in read_measurements(paths, on_reject=rejections.append)]
    return docs, rejections


def _single_docs(path: Path) -> list[dict[str, object]]:
    docs, rejections = _read(path)
    assert rejections == []
    assert docs, f"{path.name} yielded nothing"
    return docs


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_every_sample_survives_a_read_write_read_round_trip(
    sample: Path, suffix: str, tmp_path: Path
) -> None:
    docs = _single_docs(sample)
    target = tmp_path / f"copy{suffix}"

    assert write_jsonl(target, docs) == len(docs)

    again, rejections = _read(target)
    assert rejections == []
    assert again == docs


@pytest.mark.parametrize("sample", JSON_SAMPLES, ids=lambda p: p.name)
def test_json_samples_load_as_exactly_the_value_in_the_file(sample: Path) -> None:
    original = orjson.loads(sample.read_bytes())
    expected = original if isinstance(original, list) else [original]

    assert _single_docs(sample) == expected


def test_pretty_printed_json_reads_as_the_same_measurement(shared_data: Path) -> None:
    pretty = _single_docs(shared_data / "ooni-samples" / "report1.json.pretty")
    compact = _single_docs(shared_data / "ooni-samples" / "report1.json")

    assert pretty == compact


@pytest.mark.parametrize("sample", YAML_SAMPLES, ids=lambda p: p.name)
def test_yaml_reports_are_normalised_into_todays_json_shape(sample: Path) -> None:
    (doc,) = _single_docs(sample)

    assert doc["data_format_version"] == "0.2.0"
    assert isinstance(doc["test_keys"], dict)
    assert isinstance(doc["report_id"], str) and doc["report_id"]
    for key in ("measurement_start_time", "test_start_time"):
        assert isinstance(doc[key], str) and len(doc[key]) == 19  # YYYY-MM-DD HH:MM:SS
    assert "probe_asn" in doc and "probe_cc" in doc


def test_yaml_binary_values_become_strings_or_base64_objects(shared_data: Path) -> None:
    (doc,) = _single_docs(
        shared_data / "ooni-samples" / "http_invalid_request_line.yaml"
    )
    received = doc["test_keys"]["received"]  # type: ignore[index]

    assert received[0] == ""
    assert received[2] == {
        "format": "base64",
        "data": "ABu62TJ/AADAc+AgQXk5TGwgSHhNN1YKDQ==",
    }


def test_yaml_sets_become_lists(shared_data: Path) -> None:
    (doc,) = _single_docs(shared_data / "ooni-samples" / "binary_city.yaml")

    assert doc["test_keys"]["headers_diff"] == []  # type: ignore[index]
    assert doc["probe_city"] == "Reykjav\udced" or isinstance(doc["probe_city"], dict)


def _tar_bytes(members: dict[str, bytes], compression: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _jsonl(docs: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(doc) + b"\n" for doc in docs)


def test_a_legacy_can_of_json_and_yaml_reports_reads_back_complete(
    tmp_path: Path,
) -> None:
    json_docs = [doc for sample in JSON_SAMPLES[:20] for doc in _single_docs(sample)]
    members = {"2018-07-29/web_connectivity.0.json": _jsonl(json_docs)}
    for sample in YAML_SAMPLES:
        members[f"2018-07-29/{sample.name}"] = sample.read_bytes()
    can = tmp_path / "web_connectivity.0.tar.lz4"
    can.write_bytes(lz4.frame.compress(_tar_bytes(members)))

    docs, rejections = _read(can)

    yaml_docs = [doc for sample in YAML_SAMPLES for doc in _single_docs(sample)]
    assert rejections == []
    assert docs == json_docs + yaml_docs


def test_a_postcan_reads_back_complete_with_uids_from_member_names(
    tmp_path: Path,
) -> None:
    docs = [
        doc
        for sample in JSON_SAMPLES
        if sample.stat().st_size < 100_000
        for doc in _single_docs(sample)
    ]
    folder = "2024030100_IT_webconnectivity"
    members = {
        f"{folder}/20240301000000.{n:06d}_IT_wc_{n:016x}.post": orjson.dumps(
            {"format": "json", "content": doc}
        )
        for n, doc in enumerate(docs)
    }
    postcan = tmp_path / "2024030100_IT_webconnectivity.n1.0.tar.gz"
    postcan.write_bytes(_tar_bytes(members, "gz"))

    measurements = list(read_measurements([postcan]))

    assert [m.doc for m in measurements] == docs
    assert [m.uid for m in measurements] == [
        f"20240301000000.{n:06d}_IT_wc_{n:016x}" for n in range(len(docs))
    ]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, zstandard.ZstdCompressor().compress, lz4.frame.compress, bytes],
    ids=["gzip", "zstd", "lz4", "plain"],
)
def test_format_is_detected_from_content_not_from_the_name(
    compress, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    docs = [doc for sample in JSON_SAMPLES[:5] for doc in _single_docs(sample)]
    misleading = tmp_path / "measurements.txt"
    misleading.write_bytes(compress(_jsonl(docs)))

    assert _read(misleading) == (docs, [])


def test_broken_records_are_reported_with_location_and_neighbours_survive(
    tmp_path: Path,
) -> None:
    good = _single_docs(JSON_SAMPLES[0])[0]
    lines = [
        orjson.dumps(good),
        b'{"test_name": "web_connectivity", "test_keys": [1, 2]}',
        b"{not json",
        b"[1, 2, 3]",
        b'{"input": "http://example.com/"}',
        orjson.dumps(good),
    ]
    path = tmp_path / "mixed.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    stats = ReadStats()
    rejections: list[Rejection] = []

    docs = [
        m.doc
        for m in read_measurements([path], on_reject=rejections.append, stats=stats)
    ]

    assert docs == [good, good]
    assert (stats.read, stats.rejected) == (2, 4)
    assert [r.location for r in rejections] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "test_keys" in rejections[0].reason and "array" in rejections[0].reason
    assert "invalid JSON" in rejections[1].reason
    assert "must be a JSON object" in rejections[2].reason
    assert "test_name" in rejections[3].reason


def test_strict_mode_stops_at_the_first_rejected_record(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"test_name": "x"}\n{oops\n{"test_name": "y"}\n')

    reader = read_measurements([path], strict=True)
    assert next(reader).doc == {"test_name": "x"}
    with pytest.raises(RejectedRecord) as raised:
        next(reader)
    assert raised.value.rejection.location == f"{path}:2"


def test_a_truncated_archive_member_is_reported_by_name(tmp_path: Path) -> None:
    docs = [doc for sample in JSON_SAMPLES[:3] for doc in _single_docs(sample)]
    whole = _tar_bytes({"a.json": _jsonl(docs), "b.json": _jsonl(docs) * 50})
    can = tmp_path / "cut.tar"
    can.write_bytes(whole[: len(whole) // 2])

    got, rejections = _read(can)

    assert got[: len(docs)] == docs
    assert len(rejections) >= 1
    assert rejections[-1].location.endswith(":b.json")


def test_a_missing_file_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    docs, rejections = _read(tmp_path / "nope.jsonl")

    assert docs == []
    assert "cannot open" in rejections[0].reason


def test_a_directory_walk_skips_indexes_and_databases_kept_beside_data(
    tmp_path: Path,
) -> None:
    doc = _single_docs(JSON_SAMPLES[0])[0]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl.gz").write_bytes(gzip.compress(_jsonl([doc])))
    (tmp_path / "index.sqlite3").write_bytes(b"SQLite format 3\x00\xff\xfe")
    (tmp_path / "index.sqlite3-wal").write_bytes(b"\x00\x01")
    (tmp_path / "index.json.gz").write_bytes(gzip.compress(b'{"files": []}'))
    (tmp_path / ".hidden").write_bytes(b"junk")

    assert _read(tmp_path) == ([doc], [])
