"""The live sink the collector feeds: scored and queryable without a batch."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from censorscope.measurement.readers import read_file
from censorscope.scoring.live import LiveSinkFullError, make_sink
from censorscope.warehouse import open_warehouse
from tests.warehouse.lockholder import held

ID_SAMPLE = "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json"
UID = "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3"


def test_a_submitted_measurement_appears_scored_without_a_flush(
    tmp_path: Path, shared_data: Path, fingerprints_dir: Path
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / ID_SAMPLE)
    sink = make_sink(tmp_path / "w.duckdb", fingerprints_dir=fingerprints_dir)
    try:
        sink.submit(UID, measurement.doc)
        reader = open_warehouse(tmp_path / "w.duckdb")  # same process: shared database
        deadline = time.monotonic() + 10
        row = None
        while row is None and time.monotonic() < deadline:
            row = reader.get(UID)
            time.sleep(0.01)
        assert row is not None, "the sink never wrote the measurement"
        assert (row["confirmed"], row["blocking"], row["source"]) == (
            True,
            "http-diff",
            "collector",
        )
    finally:
        sink.close()


def test_submissions_from_many_threads_are_all_loaded(
    tmp_path: Path, shared_data: Path, fingerprints_dir: Path
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "whatsapp.json")
    sink = make_sink(
        tmp_path / "w.duckdb", fingerprints_dir=fingerprints_dir, max_batch=7
    )

    def submit_many(thread: int) -> None:
        for index in range(50):
            sink.submit(
                f"20221203000000.000000_IE_whatsapp_{thread:08x}{index:08x}",
                measurement.doc,
            )

    threads = [threading.Thread(target=submit_many, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    with open_warehouse(tmp_path / "w.duckdb") as store:
        assert store.count() == 200
        assert store.aggregate(["test_name"])[0]["ok_count"] == 200


def test_without_fingerprints_the_sink_still_scores_and_marks_the_version(
    tmp_path: Path, shared_data: Path
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / ID_SAMPLE)
    sink = make_sink(tmp_path / "w.duckdb", fingerprints_dir=tmp_path / "none")
    sink.submit(UID, measurement.doc)
    sink.close()
    with open_warehouse(tmp_path / "w.duckdb") as store:
        row = store.get(UID)
    assert row is not None
    assert (row["confirmed"], row["fingerprints_version"]) == (False, "none")


def test_the_sink_keeps_measurements_while_another_process_holds_the_warehouse(
    tmp_path: Path, shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "whatsapp.json")
    path = tmp_path / "w.duckdb"
    sink = make_sink(path, fingerprints_dir=tmp_path / "none")
    caplog.set_level(logging.DEBUG, logger="censorscope.warehouse.locking")
    uids = [f"20221203000000.000000_IE_whatsapp_{n:016x}" for n in range(5)]

    with held(path) as holder:
        for uid in uids:
            sink.submit(uid, measurement.doc)
        time.sleep(0.3)  # let the sink meet the lock (not asserted on)
    sink.flush()
    sink.close()

    assert f"PID {holder.pid}" in caplog.text  # it met the lock, and waited
    with open_warehouse(path, read_only=True) as store:
        assert sorted(row["measurement_uid"] for row in store.search(limit=10)) == uids


def test_a_full_sink_refuses_at_once_instead_of_blocking(
    tmp_path: Path, shared_data: Path
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "whatsapp.json")
    path = tmp_path / "w.duckdb"
    sink = make_sink(
        path, fingerprints_dir=tmp_path / "none", max_batch=1, max_pending=2
    )
    accepted = []

    with held(path), pytest.raises(LiveSinkFullError):
        # One batch in hand, two queued: the fourth cannot be taken.
        for n in range(4):
            uid = f"20221203000000.000000_IE_whatsapp_{n:016x}"
            sink.submit(uid, measurement.doc)
            accepted.append(uid)
    assert sink.close() == []

    with open_warehouse(path, read_only=True) as store:
        assert store.count() == len(accepted) >= 2


def test_closing_while_the_warehouse_stays_locked_returns_what_was_not_loaded(
    tmp_path: Path, shared_data: Path
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / "whatsapp.json")
    path = tmp_path / "w.duckdb"
    sink = make_sink(path, fingerprints_dir=tmp_path / "none")
    uids = [f"20221203000000.000000_IE_whatsapp_{n:016x}" for n in range(3)]

    with held(path):
        for uid in uids:
            sink.submit(uid, measurement.doc)
        unloaded = sink.close(timeout=0.5)

    assert sorted(unloaded) == uids
    with open_warehouse(path, read_only=True) as store:
        assert store.count() == 0
