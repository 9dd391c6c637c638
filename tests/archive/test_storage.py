"""The filesystem backend behind the archive, and the path rules for odd names."""

from __future__ import annotations

from pathlib import Path

import pytest

from censorscope.archive.layout import path_country, path_test_name
from censorscope.archive.storage import FilesystemStorage, StoredObject


def test_appends_return_offsets_and_ranges_read_them_back(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)

    first = storage.append("raw/a/b.bin", b"hello ")
    second = storage.append("raw/a/b.bin", b"world")
    storage.sync()

    assert (first, second) == (0, 6)
    assert storage.get_range("raw/a/b.bin", second, 5) == b"world"
    assert storage.get_range("raw/a/b.bin") == b"hello world"
    storage.close()


def test_put_replaces_an_object_whole_and_listing_filters_by_prefix(
    tmp_path: Path,
) -> None:
    storage = FilesystemStorage(tmp_path)
    storage.put("raw/1/x.gz", b"old")
    storage.put("raw/1/x.gz", b"new!")
    storage.put("raw/2/y.gz", b"y")
    storage.put("other/z", b"z")

    assert storage.get_range("raw/1/x.gz") == b"new!"
    assert list(storage.list("raw/")) == [
        StoredObject("raw/1/x.gz", 4),
        StoredObject("raw/2/y.gz", 1),
    ]
    assert list(storage.list("raw/1")) == [StoredObject("raw/1/x.gz", 4)]
    assert list(storage.list("missing/")) == []


def test_sealing_closes_an_object_and_a_later_append_continues_it(
    tmp_path: Path,
) -> None:
    storage = FilesystemStorage(tmp_path)
    storage.append("k/v", b"12")
    storage.seal("k/v")

    assert storage.append("k/v", b"34") == 2
    storage.close()
    assert (tmp_path / "k" / "v").read_bytes() == b"1234"


@pytest.mark.parametrize("key", ["../escape", "/absolute", "raw/./x", ""])
def test_keys_that_would_leave_the_root_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        FilesystemStorage(tmp_path).append(key, b"x")


@pytest.mark.parametrize(
    ("probe_cc", "expected"), [("it", "IT"), (None, "ZZ"), ("ITA", "ZZ"), ("../", "ZZ")]
)
def test_odd_countries_are_filed_under_zz(probe_cc: str | None, expected: str) -> None:
    assert path_country(probe_cc) == expected


@pytest.mark.parametrize(
    ("test_name", "expected"),
    [("web_connectivity", "webconnectivity"), ("../x", "x"), (None, "unknown")],
)
def test_test_names_in_paths_keep_only_lower_case_letters_and_digits(
    test_name: str | None, expected: str
) -> None:
    assert path_test_name(test_name) == expected
