"""Identifiers, binary encoding and the measurement model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from censorscope.measurement import failures
from censorscope.measurement.binary import (
    BinaryDecodeError,
    decode_maybe_binary,
    encode_maybe_binary,
)
from censorscope.measurement.ids import (
    LEGACY_REPORT_ID_RE,
    MEASUREMENT_UID_RE,
    REPORT_ID_RE,
    TRIVIAL_UID_RE,
    asn_number,
    new_legacy_report_id,
    new_measurement_uid,
    new_report_id,
    report_id_test_name,
    trivial_uid,
)
from censorscope.measurement.model import (
    Measurement,
    MeasurementError,
    check_measurement,
    new_measurement,
)

WHEN = datetime(2018, 7, 29, 17, 43, 58, 123456, tzinfo=UTC)


def test_report_ids_follow_the_current_collector_format() -> None:
    report_id = new_report_id("web_connectivity", "ml", "AS30985", when=WHEN)

    assert REPORT_ID_RE.match(report_id)
    assert report_id.startswith("20180729T174358Z_webconnectivity_ML_30985_n1_")
    assert report_id_test_name(report_id) == "webconnectivity"


def test_legacy_report_ids_follow_the_2016_2020_format() -> None:
    report_id = new_legacy_report_id("AS30985", when=WHEN)

    assert LEGACY_REPORT_ID_RE.match(report_id)
    assert report_id.startswith("20180729T174358Z_AS30985_")


def test_measurement_uids_hash_the_body_and_sort_by_receive_time() -> None:
    uid = new_measurement_uid(b"{}", "ML", "web_connectivity", received=WHEN)

    assert MEASUREMENT_UID_RE.match(uid)
    assert uid.startswith("20180729174358.123456_ML_webconnectivity_")
    assert uid == new_measurement_uid(b"{}", "ML", "web_connectivity", received=WHEN)
    assert uid != new_measurement_uid(b"{ }", "ML", "web_connectivity", received=WHEN)


def test_trivial_uids_are_deterministic_and_carry_the_measurement_day() -> None:
    uid = trivial_uid(b'{"a": 1}', "2018-07-29 17:43:58")

    assert TRIVIAL_UID_RE.match(uid)
    assert uid.startswith("0120180729")
    assert uid == trivial_uid(b'{"a": 1}', "2018-07-29 17:43:58")
    assert trivial_uid(b"x", None).startswith("0100000000")


@pytest.mark.parametrize(
    ("value", "number"),
    [("AS30985", 30985), ("as7", 7), ("AS", 0), (None, 0), ("X1", 0)],
)
def test_asn_numbers_are_parsed_leniently(value: str | None, number: int) -> None:
    assert asn_number(value) == number


def test_utf8_stays_a_string_and_other_bytes_use_the_base64_object() -> None:
    assert encode_maybe_binary("Bamako é".encode()) == "Bamako é"
    encoded = encode_maybe_binary(b"\xff\x00\xfe")
    assert encoded == {"format": "base64", "data": "/wD+"}
    assert decode_maybe_binary(encoded) == b"\xff\x00\xfe"


def test_broken_base64_is_a_typed_error() -> None:
    with pytest.raises(BinaryDecodeError):
        decode_maybe_binary({"format": "base64", "data": "abc"})


def test_failure_strings_have_a_meaning() -> None:
    assert "reset" in failures.meaning(failures.CONNECTION_RESET)
    assert failures.is_unknown(failures.unknown("boom"))
    assert (
        failures.meaning("unknown_failure: boom")
        == failures.MEANINGS["unknown_failure"]
    )


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"test_keys": {}}, "test_name"),
        ({"test_name": "x", "test_keys": []}, "test_keys"),
        ({"test_name": "x", "probe_cc": 12}, "probe_cc"),
        ({"test_name": "x", "input": 3}, "input"),
    ],
)
def test_wrong_types_are_named(doc: dict[str, object], field: str) -> None:
    with pytest.raises(MeasurementError) as raised:
        check_measurement(doc)
    assert raised.value.field == field
    assert field in str(raised.value)


def test_unknown_fields_are_kept_verbatim() -> None:
    measurement = Measurement.from_json(b'{"test_name": "x", "x_new": {"deep": [1]}}')

    assert measurement.to_json() == b'{"test_name":"x","x_new":{"deep":[1]}}'


def test_a_fresh_measurement_is_valid_and_never_holds_the_probe_ip() -> None:
    doc = new_measurement(
        test_name="whatsapp",
        test_version="0.11.0",
        input=None,
        test_start_time=WHEN,
        measurement_start_time=WHEN,
    )
    measurement = Measurement(check_measurement(doc))

    assert measurement.doc["probe_ip"] == "127.0.0.1"
    assert measurement.measurement_start_time == "2018-07-29 17:43:58"
    assert measurement.start_time == WHEN.replace(microsecond=0)
    assert (measurement.probe_asn, measurement.probe_cc) == ("AS0", "ZZ")
