"""Re-scoring after the fingerprints change: from the source files and the archive."""

from __future__ import annotations

import shutil
from pathlib import Path

from censorscope.archive import Archive, Submission
from censorscope.measurement.readers import read_file
from censorscope.scoring.ingest import ScoringSetup, ingest
from censorscope.scoring.live import make_sink
from censorscope.scoring.rescore import rescore
from censorscope.warehouse import MeasurementFilter, open_warehouse

ID_SAMPLE = "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json"


def fingerprints_without(name: str, source: Path, target: Path) -> Path:
    """A copy of the fingerprint CSVs lacking one fingerprint (an older set)."""
    target.mkdir()
    shutil.copy(source / "fingerprints_dns.csv", target / "fingerprints_dns.csv")
    lines = (source / "fingerprints_http.csv").read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(name + ",")]
    (target / "fingerprints_http.csv").write_text("".join(kept))
    return target


def test_rescore_rereads_source_files_when_fingerprints_change(
    tmp_path: Path, shared_data: Path, setup: ScoringSetup, fingerprints_dir: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(shared_data / "ooni-samples" / ID_SAMPLE, data / ID_SAMPLE)
    shutil.copy(shared_data / "ooni-samples" / "whatsapp.json", data / "whatsapp.json")
    older = fingerprints_without(
        "ooni.id_lamanlabuh_kominfo", fingerprints_dir, tmp_path / "old"
    )
    with open_warehouse(tmp_path / "w.duckdb") as store:
        ingest([data], store, ScoringSetup(older))
        [before] = store.search(MeasurementFilter(domain="archive.org"))
        assert before["confirmed"] is False

        report = rescore(store, setup)
        assert (report.stale, report.from_files.files, report.unavailable) == (2, 2, {})
        row = store.get(before["measurement_uid"])
        assert row is not None
        assert (row["confirmed"], row["anomaly"], row["blocking"]) == (
            True,
            True,
            "http-diff",
        )
        assert row["fingerprints_version"] != before["fingerprints_version"]
        assert store.count() == 2
        assert rescore(store, setup).stale == 0


def test_rescore_fetches_live_measurements_from_the_archive(
    tmp_path: Path, shared_data: Path, setup: ScoringSetup
) -> None:
    [measurement] = read_file(shared_data / "ooni-samples" / ID_SAMPLE)
    archive = Archive(tmp_path / "archive")
    [stored] = archive.store([Submission.prepare(measurement.doc)])
    archive.close()
    sink = make_sink(tmp_path / "w.duckdb", fingerprints_dir=tmp_path / "none")
    sink.submit(stored.measurement_uid, measurement.doc)
    sink.close()

    with open_warehouse(tmp_path / "w.duckdb") as store:
        without_archive = rescore(store, setup)
        assert without_archive.unavailable == {"collector": 1}
        report = rescore(store, setup, archive_dir=tmp_path / "archive")
        assert report.from_archive == 1
        row = store.get(stored.measurement_uid)
    assert row is not None and row["confirmed"] is True


def test_rows_whose_source_file_is_gone_are_reported(
    tmp_path: Path, shared_data: Path, setup: ScoringSetup, fingerprints_dir: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(shared_data / "ooni-samples" / "whatsapp.json", data / "whatsapp.json")
    older = fingerprints_without("ooni.ae_0", fingerprints_dir, tmp_path / "old")
    with open_warehouse(tmp_path / "w.duckdb") as store:
        ingest([data], store, ScoringSetup(older))
        (data / "whatsapp.json").unlink()
        report = rescore(store, setup)
    assert report.unavailable == {str(data / "whatsapp.json"): 1}
