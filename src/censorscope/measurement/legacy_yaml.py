"""Normalise YAML-era reports (data format 0.1.0, 2012-2017) into today's JSON.

A YAML report is a stream of documents: a header (test name, probe network,
``start_time`` as an epoch float, software, ...) followed by one document per
entry.  Each entry becomes one measurement: header fields move to the top
level, epoch times become ``YYYY-MM-DD HH:MM:SS`` strings, everything else the
entry holds goes under ``test_keys``, YAML ``!!binary`` values become strings
or base64 objects and ``!!set`` values become sorted lists.
"""

from __future__ import annotations

import hashlib
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any, Final, cast

import yaml

from censorscope.measurement.binary import encode_maybe_binary
from censorscope.measurement.model import DATA_FORMAT_VERSION, format_time

# Header keys that become top-level keys of every entry's measurement.
_BASE_KEYS: Final = frozenset(
    {
        "annotations",
        "backend_version",
        "input_hashes",
        "options",
        "probe_asn",
        "probe_cc",
        "probe_city",
        "probe_ip",
        "report_id",
        "software_name",
        "software_version",
        "test_helpers",
        "test_name",
        "test_version",
    }
)
# Entry keys that stay at the top level (the rest go under test_keys).
_ENTRY_TOP_KEYS: Final = frozenset({"input", "test_runtime", "id"})
_ENTRY_TIME_KEYS: Final = ("measurement_start_time", "start_time", "test_start_time")
_OLD_TEST_NAMES: Final = {
    "http_requests_test": "http_requests",
    "dns_consistency_test": "dns_consistency",
    "tcp_connect_test": "tcp_connect",
    "http_header_field_manipulation_test": "http_header_field_manipulation",
    "http_invalid_request_line_test": "http_invalid_request_line",
}
_LETTERS: Final = string.ascii_letters


class _Loader(yaml.SafeLoader):
    """Safe loader that keeps timestamps as text (OONI wrote them as strings)."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(cast(yaml.ScalarNode, node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _jsonable(value: Any) -> Any:
    """Turn YAML-native values (bytes, sets, dates) into JSON-ready ones."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(item) for item in value), key=str)
    if isinstance(value, bytes):
        return encode_maybe_binary(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _epoch_to_text(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_time(datetime.fromtimestamp(value, UTC))
    return value if isinstance(value, str) else None


def _synthetic_report_id(header: dict[str, Any], start: str | None) -> str:
    """OONI-style id for headers that carry none: timestamp + 50 hash letters."""
    seed = "|".join(
        str(header.get(key))
        for key in ("probe_cc", "probe_asn", "test_name", "test_version")
    )
    digest = hashlib.sha512(seed.encode()).digest()
    tail = "".join(_LETTERS[byte % len(_LETTERS)] for byte in digest[:50])
    stamp = (
        (start or "1970-01-01 00:00:00")
        .replace("-", "")
        .replace(":", "")
        .replace(" ", "T")
    )
    return f"{stamp}Z_{tail}"


def _measurement_start(entry: dict[str, Any], fallback: str | None) -> str | None:
    for key in _ENTRY_TIME_KEYS:
        text = _epoch_to_text(entry.get(key))
        if text:
            return text
    return fallback


def normalize_entry(header: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """One YAML entry (plus its report header) as a 0.2.0 JSON measurement."""
    test_start = _epoch_to_text(header.get("start_time")) or _epoch_to_text(
        header.get("test_start_time")
    )
    doc: dict[str, Any] = {
        key: _jsonable(header[key]) for key in _BASE_KEYS if key in header
    }
    name = str(doc.get("test_name") or "")
    doc["test_name"] = _OLD_TEST_NAMES.get(name, name)
    doc["data_format_version"] = DATA_FORMAT_VERSION
    doc["test_start_time"] = test_start
    doc["measurement_start_time"] = _measurement_start(entry, test_start)
    if not doc.get("report_id"):
        doc["report_id"] = _synthetic_report_id(header, test_start)
    for key in _ENTRY_TOP_KEYS:
        if key in entry:
            doc[key] = _jsonable(entry[key])
    doc.setdefault("input", None)
    skipped = _ENTRY_TOP_KEYS | set(_ENTRY_TIME_KEYS)
    doc["test_keys"] = {
        str(key): _jsonable(value) for key, value in entry.items() if key not in skipped
    }
    if "id" not in doc:
        digest = hashlib.sha1(repr((header, entry)).encode(), usedforsecurity=False)
        doc["id"] = str(uuid.UUID(bytes=digest.digest()[:16]))
    return dict(sorted(doc.items()))


def iter_yaml_report(
    stream: IO[bytes] | IO[str],
) -> Iterator[dict[str, Any] | Exception]:
    """Yield one normalised measurement per entry of a YAML report.

    A document that does not parse (a truncated report, say) is yielded as the
    exception, so that the caller reports it with its location; the stream
    cannot be resynchronised after a YAML syntax error, so reading stops there.
    """
    header: dict[str, Any] | None = None
    try:
        for document in yaml.load_all(stream, Loader=_Loader):
            if document is None:
                continue
            if not isinstance(document, dict):
                yield ValueError(
                    f"YAML document is a {type(document).__name__}, not a mapping"
                )
            elif header is None:
                header = document
            else:
                yield normalize_entry(header, document)
    except yaml.YAMLError as error:
        yield error
