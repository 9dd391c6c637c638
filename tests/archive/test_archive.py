"""The raw archive: durable, deduplicated, findable by uid, plain compressed JSONL."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from censorscope.archive import Archive, ArchiveError, GroupCommitWriter, Submission
from censorscope.archive.archive import INDEX_NAME
from censorscope.archive.layout import SegmentName
from censorscope.measurement.ids import MEASUREMENT_UID_RE
from censorscope.measurement.readers import read_measurements

WHEN = datetime(2024, 3, 1, 10, 15, tzinfo=UTC)


def _store_all(
    archive: Archive, docs: list[dict[str, Any]], when: datetime = WHEN
) -> list[str]:
    outcomes = archive.store([Submission.prepare(doc, when) for doc in docs])
    return [outcome.measurement_uid for outcome in outcomes]


def _distinct(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[bytes, dict[str, Any]] = {}
    for doc in docs:
        seen.setdefault(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), doc)
    return list(seen.values())


@pytest.mark.parametrize("compression", ["zst", "gz"])
def test_every_sample_is_found_by_uid_with_the_same_json_value_plus_uid(
    tmp_path: Path, samples: list[dict[str, Any]], compression: str
) -> None:
    archive = Archive(tmp_path, compression=compression)
    docs = _distinct(samples)

    uids = _store_all(archive, docs)

    assert len(set(uids)) == len(docs) == archive.count()
    for doc, uid in zip(docs, uids, strict=True):
        assert MEASUREMENT_UID_RE.match(uid)
        assert archive.get(uid) == {**doc, "measurement_uid": uid}
        assert archive.locate(uid).object_key.endswith(f".jsonl.{compression}")  # type: ignore[union-attr]
    archive.close()


def test_files_are_laid_out_like_oonis_bucket_by_upload_hour_country_and_test(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path, collector_id=3)
    whatsapp = next(doc for doc in samples if doc["test_name"] == "whatsapp")

    (uid,) = _store_all(archive, [whatsapp])

    location = archive.locate(uid)
    assert location is not None
    assert location.object_key == (
        "raw/20240301/10/IE/whatsapp/2024030110_IE_whatsapp.n3.0.jsonl.zst"
    )
    assert uid.startswith("20240301101500.000000_IE_whatsapp_")
    archive.close()


@pytest.mark.parametrize(
    ("suffix", "decompress"),
    [
        ("zst", lambda data: zstandard.ZstdDecompressor().stream_reader(data).read()),
        ("gz", gzip.decompress),
    ],
)
def test_a_file_decompresses_with_standard_tools_to_one_measurement_per_line(
    tmp_path: Path, samples: list[dict[str, Any]], suffix: str, decompress: Any
) -> None:
    archive = Archive(tmp_path, compression=suffix)
    tor = [doc for doc in samples if doc["test_name"] == "tor"]
    uids = _store_all(archive, tor)
    archive.close()

    (path,) = tmp_path.glob(f"raw/**/*.jsonl.{suffix}")
    data = path.read_bytes()
    if suffix == "zst":
        import io

        data = io.BytesIO(data)
    lines = decompress(data).splitlines()

    assert [orjson.loads(line)["measurement_uid"] for line in lines] == uids


def test_the_measurement_readers_read_archive_files_with_their_uids(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path)
    uids = set(_store_all(archive, _distinct(samples)))
    archive.close()

    read = list(read_measurements([tmp_path / "raw"], strict=True))

    assert {measurement.uid for measurement in read} == uids


def test_the_same_content_is_stored_once_even_under_another_report_id(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path)
    original = samples[0]
    resubmitted = {
        **original,
        "report_id": "20240301T101500Z_other_IT_1_n1_abcdefghijklmnop",
    }

    (first,) = archive.store([Submission.prepare(original, WHEN)])
    again, other = archive.store(
        [
            Submission.prepare(original, WHEN + timedelta(minutes=5)),
            Submission.prepare(resubmitted, WHEN + timedelta(hours=2)),
        ]
    )

    assert not first.duplicate
    assert again.duplicate and other.duplicate
    assert again.measurement_uid == other.measurement_uid == first.measurement_uid
    assert other.report_id == original["report_id"]
    assert archive.count() == 1
    archive.close()


def test_duplicates_within_one_batch_are_stored_once(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path)

    outcomes = archive.store([Submission.prepare(samples[1], WHEN)] * 3)

    assert [outcome.duplicate for outcome in outcomes] == [False, True, True]
    assert len({outcome.measurement_uid for outcome in outcomes}) == 1
    assert archive.count() == 1
    archive.close()


def test_files_rotate_when_full_and_every_hour(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path, max_file_bytes=4000)
    web = [doc for doc in samples if doc["test_name"] == "web_connectivity"]
    web = [doc for doc in _distinct(web) if doc["probe_cc"] == "IR"]

    _store_all(archive, web[:2], WHEN)
    _store_all(archive, web[2:], WHEN + timedelta(hours=1))

    keys = [summary.object_key for summary in archive.objects()]
    assert keys == [
        "raw/20240301/10/IR/webconnectivity/2024030110_IR_webconnectivity.n1.0.jsonl.zst",
        "raw/20240301/10/IR/webconnectivity/2024030110_IR_webconnectivity.n1.1.jsonl.zst",
        "raw/20240301/11/IR/webconnectivity/2024030111_IR_webconnectivity.n1.0.jsonl.zst",
    ]
    assert [summary.measurements for summary in archive.objects()] == [1, 1, 1]
    archive.close()


def test_a_reopened_archive_keeps_its_index_and_starts_new_files(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    first, second = _distinct([d for d in samples if d["test_name"] == "signal"])[:2]
    archive = Archive(tmp_path)
    (uid,) = _store_all(archive, [first])
    archive.close()

    reopened = Archive(tmp_path)
    (again,) = reopened.store([Submission.prepare(first, WHEN)])
    (other,) = _store_all(reopened, [{**second, "probe_cc": first["probe_cc"]}])

    assert again.duplicate and again.measurement_uid == uid
    assert reopened.locate(other).object_key.endswith(".n1.1.jsonl.zst")  # type: ignore[union-attr]
    assert reopened.get(uid) == {**first, "measurement_uid": uid}
    reopened.close()


def test_reindex_rebuilds_a_lost_index_from_the_files(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    docs = _distinct(samples)
    archive = Archive(tmp_path, max_file_bytes=10_000)
    uids = _store_all(archive, docs)
    archive.close()
    for path in tmp_path.glob(f"{INDEX_NAME}*"):
        path.unlink()

    rebuilt = Archive(tmp_path)
    report = rebuilt.reindex()
    second = rebuilt.reindex()

    assert (report.frames, report.added, report.damaged) == (len(docs), len(docs), [])
    assert second.added == 0
    for doc, uid in zip(docs, uids, strict=True):
        assert rebuilt.get(uid) == {**doc, "measurement_uid": uid}
    (duplicate,) = rebuilt.store([Submission.prepare(docs[0], WHEN)])
    assert duplicate.duplicate
    rebuilt.close()


def test_reindex_reports_a_frame_cut_short_by_a_crash_and_keeps_the_rest(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    tor = _distinct([doc for doc in samples if doc["test_name"] == "tor"])
    archive = Archive(tmp_path)
    uids = _store_all(archive, tor)
    archive.close()
    (path,) = tmp_path.glob("raw/**/*.zst")
    path.write_bytes(path.read_bytes()[:-20])
    for index in tmp_path.glob(f"{INDEX_NAME}*"):
        index.unlink()

    rebuilt = Archive(tmp_path)
    report = rebuilt.reindex()

    assert report.added == len(tor) - 1
    assert len(report.damaged) == 1 and "incomplete frame" in report.damaged[0]
    assert rebuilt.get(uids[0]) is not None
    assert rebuilt.get(uids[-1]) is None
    rebuilt.close()


def test_reading_a_measurement_whose_file_was_damaged_raises_archive_error(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path)
    (uid,) = _store_all(archive, samples[:1])
    (path,) = tmp_path.glob("raw/**/*.zst")
    path.write_bytes(path.read_bytes()[:10])

    with pytest.raises(ArchiveError, match="shorter than its index says"):
        archive.get(uid)
    archive.close()


def test_opening_a_missing_archive_read_only_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no archive"):
        Archive(tmp_path / "nothing", read_only=True)
    assert not (tmp_path / "nothing").exists()


def test_the_group_commit_writer_stores_concurrent_submissions_in_few_batches(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path)
    writer = GroupCommitWriter(archive)
    writer.start()
    docs = [
        {**samples[i % len(samples)], "input": f"http://{i}.example/"}
        for i in range(200)
    ]
    futures = []

    def submit(part: list[dict[str, Any]]) -> None:
        futures.extend(writer.submit(Submission.prepare(doc)) for doc in part)

    threads = [threading.Thread(target=submit, args=(docs[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uids = {future.result(timeout=60).measurement_uid for future in futures}
    writer.close()

    assert len(uids) == 200 == archive.count()
    assert writer.batches < 200
    for uid in list(uids)[:20]:
        assert archive.get(uid) is not None
    archive.close()


def test_segment_names_parse_back_to_their_parts() -> None:
    name = SegmentName(WHEN.replace(minute=0), "ML", "webconnectivity", 2, 7, "gz")

    assert SegmentName.parse(name.key) == name
    assert SegmentName.parse("raw/20240301/10/ML/x/other.jsonl.gz") is None


def test_past_the_open_file_bound_the_least_recent_file_ends_and_all_stay_readable(
    tmp_path: Path, samples: list[dict[str, Any]]
) -> None:
    archive = Archive(tmp_path, max_open_files=2)
    signal = _distinct([doc for doc in samples if doc["test_name"] == "signal"])
    first, second, third = signal[:3]

    uids = _store_all(archive, [first, second, third])
    (again,) = _store_all(archive, [{**first, "input": "again"}])

    keys = {archive.locate(uid).object_key for uid in [*uids, again]}  # type: ignore[union-attr]
    assert len(keys) == 4
    assert all(archive.get(uid) for uid in [*uids, again])
    archive.close()
