"""The live sink the collector feeds: scored and queryable without a batch."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from censorscope.measurement.readers import read_file
from censorscope.scoring.live import make_sink
from censorscope.warehouse import open_warehouse

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
