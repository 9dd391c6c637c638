"""The DuckDB warehouse: upserts by uid, queries with bound filters, bookkeeping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from censorscope.warehouse import (
    COLUMN_NAMES,
    FileState,
    MeasurementFilter,
    WarehouseError,
    open_warehouse,
)
from censorscope.warehouse.duckdb_store import DuckDBWarehouse
from censorscope.warehouse.schema import Row


def row(uid: str, start: str | None = "2024-03-01 10:00:00", **values: object) -> Row:
    base: dict[str, object] = dict.fromkeys(COLUMN_NAMES)
    base.update(
        measurement_uid=uid,
        measurement_start_time=start,
        probe_cc="ML",
        test_name="web_connectivity",
        probe_asn=30985,
        input="https://example.org/",
        domain="example.org",
        anomaly=False,
        confirmed=False,
        failure=False,
        down=False,
        scores="{}",
        evidence='{"rules":[]}',
        rules_version="rules-a",
        fingerprints_version="fp-a",
        source="/data/a.jsonl",
    )
    base.update(values)
    return tuple(base[name] for name in COLUMN_NAMES)


@pytest.fixture
def store(tmp_path: Path) -> DuckDBWarehouse:
    warehouse = open_warehouse(tmp_path / "w.duckdb")
    yield warehouse  # type: ignore[misc]
    warehouse.close()


def test_upserting_the_same_uid_replaces_the_row(store: DuckDBWarehouse) -> None:
    store.upsert_many([row("u1"), row("u2")])
    store.upsert_many([row("u1", anomaly=True, blocking="dns")])
    assert store.count() == 2
    got = store.get("u1")
    assert got is not None
    assert (got["anomaly"], got["blocking"]) == (True, "dns")


def test_rows_without_start_time_are_replaced_too(store: DuckDBWarehouse) -> None:
    store.upsert_many([row("u1", start=None)])
    store.upsert_many([row("u1", start=None, failure=True)])
    assert store.count() == 1
    assert store.get("u1")["failure"] is True  # type: ignore[index]


def test_duplicates_inside_one_batch_keep_the_last(store: DuckDBWarehouse) -> None:
    store.upsert_many([row("u1", blocking="dns"), row("u1", blocking="tls")])
    assert store.count() == 1
    assert store.get("u1")["blocking"] == "tls"  # type: ignore[index]


def test_filters_are_bound_parameters(store: DuckDBWarehouse) -> None:
    store.upsert_many(
        [
            row("u1", probe_cc="ML", anomaly=True),
            row("u2", probe_cc="IR", start="2024-03-02 10:00:00"),
            row("u3", probe_cc="ML' OR '1'='1"),
        ]
    )
    assert store.count(MeasurementFilter(probe_cc="ML")) == 1
    assert store.count(MeasurementFilter(probe_cc="ML' OR '1'='1")) == 1
    since = MeasurementFilter(since=datetime(2024, 3, 2))
    assert [r["measurement_uid"] for r in store.search(since)] == ["u2"]


def test_search_orders_by_time_and_pages(store: DuckDBWarehouse) -> None:
    store.upsert_many(
        [row(f"u{i}", start=f"2024-03-0{i} 00:00:00") for i in range(1, 6)]
    )
    first = store.search(limit=2)
    second = store.search(limit=2, offset=2)
    assert [r["measurement_uid"] for r in first + second] == ["u5", "u4", "u3", "u2"]


def test_aggregate_counts_like_oonis_api(store: DuckDBWarehouse) -> None:
    store.upsert_many(
        [
            row("a", anomaly=True),
            row("b", anomaly=True, confirmed=True),
            row("c", failure=True),
            row("d"),
            row("e", probe_cc="IR"),
        ]
    )
    [ml] = store.aggregate(["probe_cc"], MeasurementFilter(probe_cc="ML"))
    assert ml == {
        "probe_cc": "ML",
        "measurement_count": 4,
        "anomaly_count": 1,
        "confirmed_count": 1,
        "failure_count": 1,
        "ok_count": 1,
    }
    by_day = store.aggregate(["day", "probe_cc"])
    assert [(r["probe_cc"], r["measurement_count"]) for r in by_day] == [
        ("IR", 1),
        ("ML", 4),
    ]


def test_grouping_by_an_unknown_dimension_is_refused(store: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError):
        store.aggregate(["probe_ip"])


def test_file_progress_is_committed_with_the_rows(store: DuckDBWarehouse) -> None:
    state = FileState("/data/a.jsonl", 10, 20, 2, 0, False, "rules-a", "fp-a")
    store.upsert_many([row("u1"), row("u2")], [state])
    assert store.file_state("/data/a.jsonl") == state
    assert store.file_state("/data/b.jsonl") is None


def test_stale_sources_and_uids_follow_the_versions(store: DuckDBWarehouse) -> None:
    store.upsert_many(
        [
            row("u1"),
            row("u2", rules_version="rules-old"),
            row("u3", source="collector", fingerprints_version="fp-old"),
        ]
    )
    assert store.stale_sources("rules-a", "fp-a") == {
        "/data/a.jsonl": 1,
        "collector": 1,
    }
    assert list(store.stale_uids("collector", "rules-a", "fp-a")) == ["u3"]


def test_compaction_keeps_every_row(store: DuckDBWarehouse) -> None:
    store.upsert_many(
        [row(f"u{i}", start=f"2024-03-0{9 - i} 00:00:00") for i in range(5)]
    )
    before = store.table_digest()
    store.compact()
    assert store.table_digest() == before
    store.upsert_many([row("u1", start="2024-03-08 00:00:00", anomaly=True)])
    assert store.count() == 5


def test_a_corrupt_warehouse_is_reported_as_a_warehouse_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(path).close()
    path.write_bytes(b"not a duckdb file at all" * 100)
    with pytest.raises(WarehouseError):
        open_warehouse(path)
