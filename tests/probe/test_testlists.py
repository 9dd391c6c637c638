"""Citizen Lab test lists: reading, filtering, fetching into a cache."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from censorscope.probe.testlists import TestListError, fetch_test_lists, load_test_lists
from tests.probe.servers import Route, WebServer

HEADER = "url,category_code,category_description,date_added,source,notes\n"


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as stream:
        return sum(1 for _ in csv.DictReader(stream))


def test_the_country_list_comes_first_then_the_global_list(shared_data: Path) -> None:
    lists = shared_data / "test-lists"

    entries = load_test_lists(lists, "ML")

    mali = count_rows(lists / "ml.csv")
    assert {e.country_code for e in entries[:mali]} == {"ML"}
    assert {e.country_code for e in entries[mali:]} == {"XX"}
    assert len({e.url for e in entries}) == len(entries)


def test_categories_filter_the_lists(shared_data: Path) -> None:
    entries = load_test_lists(shared_data / "test-lists", "ML", ["news", "HUMR"])

    assert entries
    assert {e.category_code for e in entries} == {"NEWS", "HUMR"}


def test_duplicates_and_rows_without_urls_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "global.csv").write_text(
        HEADER + "https://a.example/,NEWS,News,,,\nnot-a-url,NEWS,News,,,\n"
    )
    (tmp_path / "sn.csv").write_text(HEADER + "https://a.example/,POLR,Politics,,,\n")

    entries = load_test_lists(tmp_path, "SN")

    assert [(e.url, e.category_code, e.country_code) for e in entries] == [
        ("https://a.example/", "POLR", "SN")
    ]


def test_a_directory_without_a_global_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TestListError):
        load_test_lists(tmp_path, "ML")


async def test_lists_are_fetched_cached_and_reused_when_upstream_fails(
    web: WebServer, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "test-lists"
    web.route("/lists/global.csv", Route((source / "global.csv").read_bytes()))
    web.route("/lists/ml.csv", Route((source / "ml.csv").read_bytes()))
    cache = tmp_path / "cache"

    await fetch_test_lists(cache, "ML", web.url("/lists/"))
    web.route("/lists/global.csv", Route(b"down", status=503))
    await fetch_test_lists(cache, "ML", web.url("/lists"), max_age=0)

    assert (cache / "global.csv").read_bytes() == (source / "global.csv").read_bytes()
    assert load_test_lists(cache, "ML") == load_test_lists(source, "ML")


async def test_a_country_without_a_list_measures_the_global_one(
    web: WebServer, tmp_path: Path
) -> None:
    web.route(
        "/lists/global.csv", Route((HEADER + "https://g.example/,NEWS,N,,,\n").encode())
    )

    cache = await fetch_test_lists(tmp_path, "TV", web.url("/lists/"))

    assert [e.url for e in load_test_lists(cache, "TV")] == ["https://g.example/"]


async def test_no_global_list_anywhere_is_an_error(
    web: WebServer, tmp_path: Path
) -> None:
    with pytest.raises(TestListError):
        await fetch_test_lists(tmp_path, "ML", web.url("/missing/"))
