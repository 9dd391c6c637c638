"""The measurement: one OONI JSON document with typed access to its fields.

A :class:`Measurement` wraps the dict that was parsed and never rebuilds it,
so unknown fields (and ``x_`` experiments) are preserved: a measurement read
and written again is the same JSON value.  :func:`check_measurement` validates
the base keys cheaply, naming the first field of the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import orjson

from censorscope.measurement.ids import trivial_uid

DATA_FORMAT_VERSION: Final = "0.2.0"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
SCRUBBED: Final = "[scrubbed]"
UNKNOWN_ASN: Final = "AS0"
UNKNOWN_CC: Final = "ZZ"

# Base keys whose JSON type we check, with the accepted Python types.
_STRING_OR_NULL: Final = (str, type(None))
_BASE_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "test_name": (str,),
    "measurement_start_time": _STRING_OR_NULL,
    "test_start_time": _STRING_OR_NULL,
    "probe_asn": _STRING_OR_NULL,
    "probe_cc": _STRING_OR_NULL,
    "probe_network_name": _STRING_OR_NULL,
    "report_id": _STRING_OR_NULL,
    "measurement_uid": _STRING_OR_NULL,
    "software_name": _STRING_OR_NULL,
    "software_version": _STRING_OR_NULL,
    "test_version": _STRING_OR_NULL,
    "input": (str, list, type(None)),
    "test_keys": (dict, type(None)),
    "annotations": (dict, type(None)),
    "test_runtime": (int, float, type(None)),
}


class MeasurementError(ValueError):
    """A document that is not a usable measurement; ``field`` names the culprit."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)


def check_measurement(doc: Any) -> dict[str, Any]:
    """Return ``doc`` if it is a measurement object, else raise MeasurementError."""
    if not isinstance(doc, dict):
        raise MeasurementError(
            f"a measurement must be a JSON object, got {_json_type(doc)}"
        )
    if "test_name" not in doc:
        raise MeasurementError("missing field 'test_name'", "test_name")
    for field, accepted in _BASE_TYPES.items():
        value = doc.get(field)
        if field in doc and not isinstance(value, accepted):
            raise MeasurementError(
                f"field '{field}' has the wrong type ({_json_type(value)})", field
            )
    return doc


class Measurement:
    """One measurement document plus where it came from.

    ``doc`` is the JSON object itself.  ``origin`` says where it was read
    (file, archive member, line) and ``raw`` keeps the bytes it was parsed
    from when a reader had them (needed for OONI's deterministic legacy uid).
    """

    __slots__ = ("_uid", "doc", "origin", "raw")

    def __init__(
        self,
        doc: dict[str, Any],
        origin: str | None = None,
        raw: bytes | None = None,
        uid: str | None = None,
    ) -> None:
        self.doc = doc
        self.origin = origin
        self.raw = raw
        self._uid = uid

    @classmethod
    def from_json(cls, data: bytes | str, origin: str | None = None) -> Measurement:
        """Parse and check one JSON document."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise MeasurementError(f"invalid JSON: {error}") from error
        return cls(check_measurement(doc), origin)

    def to_json(self) -> bytes:
        """The document as compact JSON bytes (no trailing newline)."""
        return orjson.dumps(self.doc)

    def _text(self, key: str) -> str | None:
        value = self.doc.get(key)
        return value if isinstance(value, str) else None

    @property
    def test_name(self) -> str:
        return cast(str, self.doc["test_name"])

    @property
    def input(self) -> str | None:
        value = self.doc.get("input")
        if isinstance(value, list):
            return "{" + ",".join(str(v) for v in value) + "}"
        return value if isinstance(value, str) else None

    @property
    def report_id(self) -> str | None:
        return self._text("report_id")

    @property
    def probe_asn(self) -> str:
        return self._text("probe_asn") or UNKNOWN_ASN

    @property
    def probe_cc(self) -> str:
        return self._text("probe_cc") or UNKNOWN_CC

    @property
    def probe_network_name(self) -> str | None:
        return self._text("probe_network_name")

    @property
    def software_name(self) -> str | None:
        return self._text("software_name")

    @property
    def software_version(self) -> str | None:
        return self._text("software_version")

    @property
    def test_version(self) -> str | None:
        return self._text("test_version")

    @property
    def measurement_start_time(self) -> str | None:
        return self._text("measurement_start_time")

    @property
    def start_time(self) -> datetime | None:
        """``measurement_start_time`` as an aware UTC datetime, if parseable."""
        text = self.measurement_start_time or self._text("test_start_time")
        return parse_time(text) if text else None

    @property
    def test_keys(self) -> dict[str, Any]:
        """The test keys; a null ``test_keys`` reads as an empty object."""
        value = self.doc.get("test_keys")
        return value if isinstance(value, dict) else {}

    @property
    def annotations(self) -> Mapping[str, Any]:
        value = self.doc.get("annotations")
        return value if isinstance(value, dict) else {}

    @property
    def uid(self) -> str:
        """The measurement uid.

        In order: the uid the reader learnt from where the document was stored
        (a postcan member name), the uid inside the document, or OONI's
        deterministic "trivial id" for legacy data that never had one.
        """
        if self._uid is None:
            stored = self._text("measurement_uid")
            raw = self.raw or self.to_json()
            self._uid = stored or trivial_uid(raw, self.measurement_start_time)
        return self._uid

    def __repr__(self) -> str:
        where = f"origin={self.origin!r}"
        return f"Measurement({self.test_name!r}, input={self.input!r}, {where})"


def parse_time(text: str) -> datetime | None:
    """Parse OONI's ``YYYY-MM-DD HH:MM:SS`` (UTC); also accepts ISO ``T``/``Z``."""
    candidate = text.strip().replace("T", " ").rstrip("Z")
    try:
        parsed = datetime.strptime(candidate[:19], TIME_FORMAT)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC)


def format_time(when: datetime) -> str:
    """Render a datetime in OONI's UTC ``YYYY-MM-DD HH:MM:SS`` form."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(TIME_FORMAT)


def new_measurement(
    *,
    test_name: str,
    test_version: str,
    input: str | None,
    test_start_time: datetime,
    measurement_start_time: datetime,
    software_name: str = "censorscope",
    software_version: str = "0.1.0",
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A fresh measurement skeleton with every base key a probe emits.

    Network identity (probe_asn, probe_cc, resolver fields) starts unknown and
    is filled in by the probe session; ``probe_ip`` is always 127.0.0.1.
    """
    return {
        "annotations": dict(annotations or {}),
        "data_format_version": DATA_FORMAT_VERSION,
        "extensions": {},
        "input": input,
        "measurement_start_time": format_time(measurement_start_time),
        "probe_asn": UNKNOWN_ASN,
        "probe_cc": UNKNOWN_CC,
        "probe_ip": "127.0.0.1",
        "probe_network_name": "",
        "report_id": "",
        "resolver_asn": UNKNOWN_ASN,
        "resolver_ip": "127.0.0.2",
        "resolver_network_name": "",
        "software_name": software_name,
        "software_version": software_version,
        "test_helpers": {},
        "test_keys": {},
        "test_name": test_name,
        "test_runtime": 0.0,
        "test_start_time": format_time(test_start_time),
        "test_version": test_version,
    }
