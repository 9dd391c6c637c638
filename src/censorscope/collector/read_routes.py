"""Reading back what this collector stored: OONI's single-measurement endpoints.

* ``GET /api/v1/measurement_meta?measurement_uid=UID`` (or ``report_id=...
  [&input=...]``) ``[&full=true]``: the scored row from the warehouse in
  OONI's shape (``scores`` a JSON string, ``probe_asn`` an int, times ISO
  with ``Z``), plus censorscope's own ``blocking``, ``down`` and ``evidence``
  (an object).  ``full=true`` adds ``raw_measurement``, the archived JSON
  line as a string.  Unknown: ``{}`` (``{"raw_measurement": ""}`` with full).
* ``GET /api/v1/raw_measurement?measurement_uid=UID`` (or ``report_id``
  [&input]): the archived measurement itself, ``{}`` when unknown.

The reads go through the live sink's read-only store, which opens the
warehouse for each lookup and closes it after, taking turns with the sink's
batches and with other processes writing the same file (an ``ingest``); a
read never sees half a batch, and may wait a little while one is written.
Lookups run in worker threads so that the event loop keeps accepting
submissions.

These routes live apart from the submission protocol so that the public
API can take them over later.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request, Response

from censorscope.collector.errors import CollectorError, bad_request
from censorscope.collector.service import Collector
from censorscope.warehouse.base import MeasurementFilter, Warehouse, WarehouseError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["measurements"])

# OONI validates report ids this way in measurement_meta.
_REPORT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_]{15,100}$")
# Lenient: legacy and imported uids vary; the value is only ever bound.
_UID_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_NOT_FOUND_FULL: Final = {"raw_measurement": ""}


def _collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


def _warehouse(collector: Collector) -> Warehouse:
    """The live sink's (read-only) warehouse; 503 when this collector loads none."""
    found: Warehouse | None = getattr(collector.sink_target, "warehouse", None)
    if found is None:
        raise CollectorError(
            503,
            "no_warehouse",
            "this collector scores nothing (start it with --warehouse)",
        )
    return found


def _iso(value: Any) -> str | None:
    """OONI's time format: ``2024-01-31T12:00:00Z``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _json_value(text: Any) -> Any:
    """A JSON column parsed; an unparsable one is returned as it is."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        logger.warning("warehouse holds unparsable JSON: %.80s", text)
        return text


def meta_of(row: dict[str, Any]) -> dict[str, Any]:
    """A warehouse row as OONI's measurement_meta answer, plus our verdict fields."""
    # Shortcoming: OONI also answers verification_status (the warehouse keeps
    # none; every submission here is unverified), hides AS0 rows (kept here,
    # so a probe withholding its ASN can still read its measurement back) and
    # sets Cache-Control; none of that is done yet.
    return {
        "input": row["input"],
        "measurement_start_time": _iso(row["measurement_start_time"]),
        "measurement_uid": row["measurement_uid"],
        "report_id": row["report_id"],
        "test_name": row["test_name"],
        "test_start_time": _iso(row["test_start_time"]),
        "probe_asn": int(row["probe_asn"] or 0),
        "probe_cc": row["probe_cc"],
        "scores": row["scores"] or "{}",
        "anomaly": bool(row["anomaly"]),
        "confirmed": bool(row["confirmed"]),
        "failure": bool(row["failure"]),
        "category_code": row["category_code"],
        "blocking": row["blocking"],
        "down": bool(row["down"]),
        "evidence": _json_value(row["evidence"]),
    }


def _checked(
    measurement_uid: str | None, report_id: str | None
) -> tuple[str | None, str | None]:
    """The lookup key given (uid wins), refused with 400 when malformed or absent."""
    if measurement_uid is not None:
        if not _UID_RE.match(measurement_uid):
            raise bad_request(
                "bad_measurement_uid", "malformed measurement_uid", "measurement_uid"
            )
        return measurement_uid, None
    if report_id is None:
        raise bad_request(
            "missing_parameter", "give measurement_uid or report_id", "measurement_uid"
        )
    if not _REPORT_ID_RE.match(report_id):
        raise bad_request("bad_report_id", "malformed report_id", "report_id")
    return None, report_id


def _find_row(
    warehouse: Warehouse, uid: str | None, report_id: str | None, input: str | None
) -> dict[str, Any] | None:
    """The warehouse row by uid, or by report id and input ('' when absent)."""
    if uid is not None:
        return warehouse.get(uid)
    where = MeasurementFilter(report_id=report_id, input=input or "")
    rows = warehouse.search(where, limit=1)
    return rows[0] if rows else None


async def _row(
    collector: Collector, uid: str | None, report_id: str | None, input: str | None
) -> dict[str, Any] | None:
    warehouse = _warehouse(collector)
    try:
        return await asyncio.to_thread(_find_row, warehouse, uid, report_id, input)
    except WarehouseError as error:
        logger.error("warehouse read failed: %s", error)
        raise CollectorError(
            503, "warehouse_failed", "the warehouse could not be read; retry later"
        ) from None


async def _raw_line(collector: Collector, uid: str) -> bytes | None:
    """The archived JSON line of ``uid`` without its newline, if archived."""
    line = await asyncio.to_thread(collector.archive.get_line, uid)
    return None if line is None else line.rstrip(b"\n")


@router.get("/api/v1/measurement_meta", summary="One measurement's verdict")
async def measurement_meta(
    request: Request,
    measurement_uid: str | None = None,
    report_id: str | None = None,
    input: str | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """The scored measurement (OONI fields plus blocking, down, evidence)."""
    collector = _collector(request)
    uid, report = _checked(measurement_uid, report_id)
    row = await _row(collector, uid, report, input)
    if row is None:
        return dict(_NOT_FOUND_FULL) if full else {}
    meta = meta_of(row)
    if full:
        line = await _raw_line(collector, row["measurement_uid"])
        meta["raw_measurement"] = "" if line is None else line.decode()
    return meta


@router.get("/api/v1/raw_measurement", summary="One measurement as archived")
async def raw_measurement(
    request: Request,
    measurement_uid: str | None = None,
    report_id: str | None = None,
    input: str | None = None,
) -> Response:
    """The measurement's JSON exactly as the archive holds it, ``{}`` if unknown."""
    collector = _collector(request)
    uid, report = _checked(measurement_uid, report_id)
    if uid is None:
        row = await _row(collector, None, report, input)
        uid = None if row is None else str(row["measurement_uid"])
    line = None if uid is None else await _raw_line(collector, uid)
    return Response(line or b"{}", media_type="application/json")
