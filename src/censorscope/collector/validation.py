"""What the collector accepts: report requests, envelopes and measurements.

Formats follow OONI's collector spec (bk-003) and backend: ASN
``AS<digits>`` without leading zeros, country two upper-case letters, test
names lower-case, names and versions ``[0-9A-Za-z_.+-]``.  A measurement's
``report_id``, ``probe_cc``, ``probe_asn`` and ``test_name`` must agree with
the report id it is submitted under.  Every refusal is a 400
:class:`CollectorError` whose detail names the field at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from censorscope.collector.errors import CollectorError, bad_request
from censorscope.measurement.ids import REPORT_ID_RE, asn_number, compact_test_name
from censorscope.measurement.model import MeasurementError, check_measurement

ASN_RE: Final = re.compile(r"^AS(0|[1-9][0-9]{0,9})$")
CC_RE: Final = re.compile(r"^[A-Z]{2}$")
TEST_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
TOKEN_RE: Final = re.compile(r"^[0-9A-Za-z_.+-]{1,100}$")
SUPPORTED_FORMATS: Final = ("json",)
_OPTIONAL_TOKENS: Final = ("software_name", "software_version", "test_version")
_OPTIONAL_TEXTS: Final = ("data_format_version", "test_start_time")


@dataclass(frozen=True)
class ReportMeta:
    """What a probe declares when it opens a report."""

    probe_cc: str
    probe_asn: str
    test_name: str
    software_name: str | None = None
    software_version: str | None = None
    test_version: str | None = None
    test_start_time: str | None = None


@dataclass(frozen=True)
class ReportIdParts:
    """The fields a current-format report id encodes."""

    test_name: str
    probe_cc: str
    asn: int


_JSON_TYPES: Final = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("invalid_request", f"{what} must be a JSON object")
    return value


def _text(doc: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = doc.get(field)
    if value is None and not required:
        return None
    if value is None:
        raise bad_request("bad_metadata", f"missing field '{field}'", field)
    if not isinstance(value, str):
        detail = f"field '{field}' must be a string, got {_json_type(value)}"
        raise bad_request("bad_metadata", detail, field)
    return value


def _matching(value: str, pattern: re.Pattern[str], field: str, rule: str) -> str:
    if not pattern.match(value):
        raise bad_request("bad_metadata", f"{field} {value!r} is not {rule}", field)
    return value


def check_probe_cc(value: str) -> str:
    return _matching(value, CC_RE, "probe_cc", "two upper-case letters")


def check_probe_asn(value: str) -> str:
    return _matching(value, ASN_RE, "probe_asn", "'AS' and a number")


def check_test_name(value: str) -> str:
    return _matching(value, TEST_NAME_RE, "test_name", "a lower-case test name")


def parse_open_request(doc: Any) -> ReportMeta:
    """The metadata of ``POST /report``; formats checked, test name lower-cased."""
    doc = _require_object(doc, "the report request")
    requested = _text(doc, "format", required=False) or "json"
    if requested not in SUPPORTED_FORMATS:
        raise bad_request(
            "unsupported_format", f"format {requested!r} (only json)", "format"
        )
    tokens = {f: _text(doc, f, required=False) for f in _OPTIONAL_TOKENS}
    for field, value in tokens.items():
        if value is not None:
            _matching(value, TOKEN_RE, field, "made of [0-9A-Za-z_.+-]")
    for field in _OPTIONAL_TEXTS:
        _text(doc, field, required=False)
    return ReportMeta(
        probe_cc=check_probe_cc(str(_text(doc, "probe_cc", required=True))),
        probe_asn=check_probe_asn(str(_text(doc, "probe_asn", required=True))),
        test_name=check_test_name(str(_text(doc, "test_name", required=True)).lower()),
        test_start_time=_text(doc, "test_start_time", required=False),
        **tokens,
    )


def parse_report_id(report_id: str) -> ReportIdParts:
    """The parts of a report id this collector could have issued (else 400)."""
    if not REPORT_ID_RE.match(report_id):
        detail = f"report id {report_id!r} is not in this collector's format"
        raise bad_request("bad_report_id", detail, "report_id")
    _, test_name, probe_cc, asn, _, _ = report_id.split("_")
    return ReportIdParts(test_name, probe_cc, int(asn))


def _check_format(envelope: dict[str, Any]) -> None:
    requested = envelope.get("format")
    if requested not in SUPPORTED_FORMATS:
        detail = f"format {requested!r} (only 'json' is accepted)"
        raise bad_request("unsupported_format", detail, "format")


def content_of_envelope(envelope: Any) -> dict[str, Any]:
    """The measurement inside ``{"format": "json", "content": {...}}``."""
    envelope = _require_object(envelope, "the submission")
    _check_format(envelope)
    if "content" not in envelope:
        raise bad_request("invalid_request", "missing field 'content'", "content")
    return check_content(envelope["content"])


def content_of_string_envelope(envelope: Any) -> dict[str, Any]:
    """The measurement of ``submit_measurement``: ``content`` a JSON string.

    A content object is accepted as well: it is the same measurement.
    """
    envelope = _require_object(envelope, "the submission")
    _check_format(envelope)
    content = envelope.get("content")
    if isinstance(content, str):
        try:
            content = orjson.loads(content)
        except orjson.JSONDecodeError as error:
            detail = f"content is not a valid JSON string: {error}"
            raise bad_request("invalid_json", detail, "content") from None
    elif content is None:
        raise bad_request("invalid_request", "missing field 'content'", "content")
    return check_content(content)


def check_content(content: Any) -> dict[str, Any]:
    """A measurement object with well-formed identity fields (else 400)."""
    try:
        doc = check_measurement(content)
    except MeasurementError as error:
        raise bad_request("invalid_measurement", error.reason, error.field) from None
    check_probe_cc(str(_text(doc, "probe_cc", required=True)))
    check_probe_asn(str(_text(doc, "probe_asn", required=True)))
    check_test_name(doc["test_name"])
    return doc


def _mismatch(field: str, value: object, expected: object) -> CollectorError:
    detail = f"{field} {value!r} does not match the report id ({expected!r})"
    return bad_request("inconsistent_measurement", detail, field)


def check_consistency(
    content: dict[str, Any], report_id: str, parts: ReportIdParts
) -> None:
    """The content belongs to ``report_id`` (same id, country, ASN, test)."""
    if content.get("report_id") != report_id:
        raise _mismatch("report_id", content.get("report_id"), report_id)
    if content["probe_cc"] != parts.probe_cc:
        raise _mismatch("probe_cc", content["probe_cc"], parts.probe_cc)
    if asn_number(content["probe_asn"]) != parts.asn:
        raise _mismatch("probe_asn", content["probe_asn"], f"AS{parts.asn}")
    if compact_test_name(content["test_name"]) != parts.test_name:
        raise _mismatch("test_name", content["test_name"], parts.test_name)
