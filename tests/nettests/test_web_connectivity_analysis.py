"""The classic analysis re-derives OONI's verdicts from stored test keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from censorscope.nettests.web_connectivity_analysis import (
    analyze,
    body_length_check,
    dns_consistency,
    headers_match,
    status_code_match,
    title_match,
)

KEYS = (
    "dns_consistency",
    "body_length_match",
    "body_proportion",
    "status_code_match",
    "headers_match",
    "title_match",
    "blocking",
    "accessible",
    "x_status",
)


def _classic_samples(shared_data: Path) -> list[dict[str, Any]]:
    samples = []
    for path in sorted((shared_data / "ooni-samples").glob("*.json")):
        doc = orjson.loads(path.read_bytes())
        if (
            isinstance(doc, dict)
            and doc.get("test_name") == "web_connectivity"
            and str(doc.get("test_version", "")).startswith("0.4.")
            and doc.get("test_keys")
        ):
            samples.append(doc)
    return samples


def test_real_classic_measurements_get_the_same_verdict_back(shared_data: Path) -> None:
    samples = _classic_samples(shared_data)
    assert len(samples) >= 4
    for doc in samples:
        stored = doc["test_keys"]
        derived = analyze(stored, doc["input"])
        assert {k: stored.get(k) for k in KEYS if k in stored} == {
            k: derived[k] for k in KEYS if k in stored
        }, doc["input"]


def _request(
    code: int,
    body: str = "",
    headers: dict[str, str] | None = None,
    truncated: bool = False,
    url: str = "http://x/",
) -> dict[str, Any]:
    return {
        "failure": None,
        "request": {"url": url},
        "response": {
            "code": code,
            "body": body,
            "headers": headers or {},
            "body_is_truncated": truncated,
        },
    }


def _control(
    code: int = 200,
    length: int = 0,
    title: str = "",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "http_request": {
            "status_code": code,
            "body_length": length,
            "title": title,
            "headers": headers or {},
            "failure": None,
        }
    }


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        (200, 200, True),
        (200, 403, False),
        (403, 503, None),
        (0, 200, None),
    ],
)
def test_status_codes_match_unless_the_control_got_a_server_error(
    ours: int, theirs: int, expected: bool | None
) -> None:
    assert status_code_match(_request(ours), _control(theirs)) is expected


def test_body_proportion_is_strictly_above_seventy_percent() -> None:
    match, proportion = body_length_check(_request(200, "x" * 70), _control(length=100))
    assert (match, proportion) == (False, 0.7)
    assert body_length_check(_request(200, "x" * 71), _control(length=100))[0] is True
    truncated = _request(200, "x" * 100, truncated=True)
    assert body_length_check(truncated, _control(length=100)) == (None, 0.0)


def test_headers_match_on_an_uncommon_name_in_common() -> None:
    ours = _request(200, headers={"Server": "a", "X-Cache": "1"})
    assert headers_match(ours, _control(headers={"X-Cache": "2", "Date": "x"})) is True
    assert (
        headers_match(ours, _control(headers={"Server": "b", "X-Other": "1"})) is False
    )
    same = _request(200, headers={"Server": "a"})
    assert headers_match(same, _control(headers={"server": "b"})) is True


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        ("Example Domain", "Example Domain", True),
        ("Access Denied", "Example Domain", False),
        ("Example Domain Home", "Example Domain", True),  # "Home" is short
        ("Example Domains", "Example Domain", False),
    ],
)
def test_titles_match_when_every_long_word_is_shared(
    ours: str, theirs: str, expected: bool
) -> None:
    page = f"<html><TITLE>{ours}</TITLE></html>"
    assert title_match(_request(200, page), _control(title=theirs)) is expected


def test_nxdomain_on_both_sides_is_consistent() -> None:
    keys = {
        "control_failure": None,
        "dns_experiment_failure": "dns_nxdomain_error",
        "control": {"dns": {"failure": "dns_name_error", "addrs": []}},
    }
    assert dns_consistency(keys, "http://gone.example/") == "consistent"
    keys["dns_experiment_failure"] = "generic_timeout_error"
    assert dns_consistency(keys, "http://gone.example/") == "inconsistent"


def test_answers_in_the_same_as_are_consistent_only_with_asn_data() -> None:
    keys = {
        "control_failure": None,
        "dns_experiment_failure": None,
        "queries": [{"hostname": "a.example", "answers": [{"ipv4": "192.0.2.1"}]}],
        "control": {"dns": {"failure": None, "addrs": ["192.0.2.2"]}},
    }
    assert dns_consistency(keys, "http://a.example/") == "inconsistent"
    same_as = dns_consistency(keys, "http://a.example/", lambda ip: (64500, "X"))
    assert same_as == "consistent"
    assert dns_consistency(keys, "http://192.0.2.9/") == "consistent"


def test_a_successful_https_fetch_is_accessible_whatever_else() -> None:
    keys = {
        "control_failure": "connection_reset",
        "requests": [_request(200, url="https://x/")],
    }
    out = analyze(keys, "https://x/")
    assert (out["blocking"], out["accessible"], out["x_status"]) == (False, True, 1)


def test_keys_missing_from_old_data_do_not_break_the_analysis() -> None:
    out = analyze(
        {"requests": None, "control": None, "queries": [{"answers": None}]}, "http://x/"
    )
    assert out["blocking"] is None
