"""Warehouse rows from scored measurements: the ingest hot path.

:func:`build_row` reads the document once, with plain dict lookups, and
leaves time parsing and JSON typing to the bulk insert (times travel as text
and are cast by DuckDB).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from censorscope.measurement.ids import asn_number
from censorscope.scoring.verdict import Verdict
from censorscope.warehouse.schema import Row

if TYPE_CHECKING:
    from censorscope.scoring.categories import CategoryIndex


def host_of(url: str) -> str:
    """The lower-case host name of a URL (no port, no user info); '' if none."""
    start = url.find("://")
    if start < 0:
        return ""
    rest = url[start + 3 :]
    for separator in "/?#":
        cut = rest.find(separator)
        if cut >= 0:
            rest = rest[:cut]
    rest = rest.rpartition("@")[2]
    if rest.startswith("["):
        return rest[1 : rest.find("]")].lower() if "]" in rest else ""
    return rest.partition(":")[0].lower()


def _input_and_domain(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        return value, host_of(value)
    if isinstance(value, list):  # meek's list of fronted hosts
        items = [str(item) for item in value]
        return "{" + ",".join(items) + "}", items[0] if items else ""
    return "", ""


def canonical_time(value: Any) -> str | None:
    """``YYYY-mm-dd HH:MM:SS`` if ``value`` is a valid time in that form, else None.

    The warehouse finds a row's previous version by its start time, so only
    text DuckDB will surely parse the same way is passed on.
    """
    if not isinstance(value, str) or len(value) != 19:
        return None
    if value[4] != "-" or value[7] != "-" or value[10] != " " or value[13] != ":":
        return None
    try:
        datetime(
            int(value[0:4]), int(value[5:7]), int(value[8:10]),
            int(value[11:13]), int(value[14:16]), int(value[17:19]),
        )  # fmt: skip
    except ValueError:
        return None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _helper_address(doc: dict[str, Any]) -> str | None:
    helpers = doc.get("test_helpers")
    backend = helpers.get("backend") if isinstance(helpers, dict) else None
    return _text(backend.get("address")) if isinstance(backend, dict) else None


def build_row(
    doc: dict[str, Any],
    uid: str,
    verdict: Verdict,
    *,
    source: str,
    origin: str | None,
    categories: CategoryIndex | None = None,
) -> Row:
    """One measurements-table row, in ``COLUMNS`` order (see warehouse.schema)."""
    cc = doc.get("probe_cc")
    probe_cc = cc.upper() if isinstance(cc, str) and cc else "ZZ"
    measured, domain = _input_and_domain(doc.get("input"))
    category = categories.lookup(probe_cc, measured, domain) if categories else None
    identity = (
        uid,
        canonical_time(doc.get("measurement_start_time")),
        probe_cc,
        _text(doc.get("test_name")),
        asn_number(doc.get("probe_asn")),
        _text(doc.get("probe_network_name")),
        _text(doc.get("report_id")),
        measured,
        domain,
        category,
    )
    return identity + _software(doc) + _verdict_columns(verdict) + (source, origin)


def _software(doc: dict[str, Any]) -> Row:
    """test_start_time .. test_helper_address."""
    annotations = doc.get("annotations")
    if not isinstance(annotations, dict):
        annotations = {}
    return (
        canonical_time(doc.get("test_start_time")),
        _text(doc.get("test_version")),
        _text(doc.get("software_name")),
        _text(doc.get("software_version")),
        _text(annotations.get("platform")),
        _text(annotations.get("engine_name")),
        _text(annotations.get("engine_version")),
        _number(doc.get("test_runtime")),
        _helper_address(doc),
    )


def _verdict_columns(verdict: Verdict) -> Row:
    """anomaly .. fingerprints_version."""
    return (
        verdict.anomaly,
        verdict.confirmed,
        verdict.failure,
        verdict.blocking,
        verdict.down,
        _number(verdict.scores.get("blocking_general")),
        orjson.dumps(verdict.scores).decode(),
        orjson.dumps(verdict.evidence).decode(),
        verdict.rules_version,
        verdict.fingerprints_version,
    )
