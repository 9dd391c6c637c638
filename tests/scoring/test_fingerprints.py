"""Fingerprint loading, matching by pattern type, confirmation and versions."""

from __future__ import annotations

import base64

import pytest

from censorscope.scoring.fingerprints import (
    DNS_CSV,
    HTTP_CSV,
    FingerprintDB,
    expected_countries,
    regex_trigger,
)

HEADER = (
    "name,scope,other_names,location_found,pattern_type,pattern,"
    "confidence_no_fp,expected_countries,source,exp_url,notes\n"
)
DNS_ROWS = (
    "t.dns_1,nat,,dns,full,10.10.34.36,10,IR,t,,\n"
    "t.dns_2,isp,,dns,full,blocked.example,5,,t,,\n"
)
HTTP_ROWS = (
    "t.body_contains,nat,,body,contains,Access Denied by Order,5,XY,t,,\n"
    "t.body_prefix,isp,,body,prefix,<html><!-- block,5,XY,t,,\n"
    "t.body_full,prod,,body,full,<HTML></HTML>,5,XY,t,,\n"
    't.body_regexp,fp,,body,regexp,"URL .* is forbidden",5,,t,,\n'
    "t.loc_prefix,nat,,header.location,prefix,http://block.example,5,XY,t,,\n"
    "t.loc_contains,isp,,header.location,contains,warning.example/ban,5,XY,t,,\n"
    "t.server_full,inst,,header.server,full,FilterBox,5,XY,t,,\n"
)


@pytest.fixture
def db() -> FingerprintDB:
    return FingerprintDB.from_csv_bytes(
        {DNS_CSV: (HEADER + DNS_ROWS).encode(), HTTP_CSV: (HEADER + HTTP_ROWS).encode()}
    )


def names(found: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(fingerprint.name for fingerprint in found)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"ipv4": "10.10.34.36", "answer_type": "A"}, ["t.dns_1"]),
        ({"hostname": "blocked.example", "answer_type": "CNAME"}, ["t.dns_2"]),
        ({"ipv4": "10.10.34.37"}, []),
        ({"ipv6": "::1"}, []),
    ],
)
def test_dns_answers_match_by_exact_equality(
    db: FingerprintDB, answer: dict[str, str], expected: list[str]
) -> None:
    assert names(db.match_dns_answer(answer)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>Access Denied by Order of the court</p>", ["t.body_contains"]),
        ("<html><!-- block page --></html>", ["t.body_prefix"]),
        ("x<html><!-- block page --></html>", []),
        ("<HTML></HTML>", ["t.body_full"]),
        ("<HTML></HTML> ", []),
        ("the URL http://x/ is forbidden here", ["t.body_regexp"]),
        ("the URL is not forbidden", []),
        ("nothing to see", []),
    ],
)
def test_body_patterns_follow_their_pattern_type(
    db: FingerprintDB, body: str, expected: list[str]
) -> None:
    assert names(db.match_body(body)) == expected


def test_base64_bodies_are_decoded_before_matching(db: FingerprintDB) -> None:
    raw = b"\xff\xfe Access Denied by Order"
    body = {"format": "base64", "data": base64.b64encode(raw).decode()}
    assert names(db.match_body(body)) == ["t.body_contains"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Location": "http://block.example/?u=x"}, ["t.loc_prefix"]),
        ({"location": "https://warning.example/ban?x"}, ["t.loc_contains"]),
        ({"Server": "FilterBox"}, ["t.server_full"]),
        ({"Server": "FilterBox 2"}, []),
        ({"Location": "https://example.org/http://block.example"}, []),
        (
            {
                "Location": {
                    "format": "base64",
                    "data": base64.b64encode(b"http://block.example/").decode(),
                }
            },
            ["t.loc_prefix"],
        ),
    ],
)
def test_header_patterns_follow_their_pattern_type(
    db: FingerprintDB, headers: dict[str, object], expected: list[str]
) -> None:
    assert names(db.match_headers(headers)) == expected


@pytest.mark.parametrize(
    ("name", "probe_cc", "confirms"),
    [
        ("t.body_contains", "XY", True),  # expected country
        ("t.body_contains", "ZZ", True),  # nat scope confirms anywhere
        ("t.body_full", "XY", True),  # prod scope, expected country
        ("t.body_full", "IT", False),  # prod scope elsewhere
        ("t.body_regexp", "IT", False),  # known false positive
    ],
)
def test_confirmation_follows_oonis_rule(
    db: FingerprintDB, name: str, probe_cc: str, confirms: bool
) -> None:
    [fingerprint] = [fp for fp in db.fingerprints if fp.name == name]
    assert fingerprint.confirms(probe_cc) is confirms


def test_expected_countries_are_normalised_without_zz() -> None:
    assert expected_countries(" au,DE, fr ,ZZ,") == ("AU", "DE", "FR")


@pytest.mark.parametrize(
    ("pattern", "trigger"),
    [
        (r"URL .* Sp.*er Gate", "URL "),
        (r"You don.t have", "You don"),
        (
            r"<p>The document has moved <a href=.*here</a>\.</p>",
            "<p>The document has moved <a href=",
        ),
        (r"\d+ blocked", ""),
        (r"abc?d", "ab"),
    ],
)
def test_regexp_trigger_is_the_literal_prefix(pattern: str, trigger: str) -> None:
    assert regex_trigger(pattern) == trigger


def test_the_real_fingerprints_load_with_a_content_version(
    fingerprints: FingerprintDB,
) -> None:
    assert len(fingerprints) > 1500
    assert fingerprints.version.startswith("fp-")
    changed = FingerprintDB.from_csv_bytes(
        {DNS_CSV: HEADER.encode(), HTTP_CSV: HEADER.encode()}
    )
    assert changed.version != fingerprints.version


def test_the_real_indonesian_redirect_matches_its_prefix_fingerprint(
    fingerprints: FingerprintDB,
) -> None:
    found = fingerprints.match_headers(
        {"Location": "http://lamanlabuh.aduankonten.id/"}
    )
    assert names(found) == ["ooni.id_lamanlabuh_kominfo"]
