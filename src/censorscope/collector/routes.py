"""The collector protocol's endpoints (OONI bk-003 plus ``submit_measurement``).

Each handler reads the body within limits, validates it, stores the
measurement through :class:`~censorscope.collector.service.Collector` and
answers what OONI's backend answers.  Refusals raise
:class:`~censorscope.collector.errors.CollectorError`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from censorscope.collector.privacy import scrub_client_address
from censorscope.collector.service import BACKEND_VERSION, Collector
from censorscope.collector.validation import (
    SUPPORTED_FORMATS,
    check_consistency,
    content_of_envelope,
    content_of_string_envelope,
    parse_open_request,
    parse_report_id,
)
from censorscope.collector.wire import read_json

logger = logging.getLogger(__name__)

router = APIRouter(tags=["collector"])


def _collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


def _client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/report", summary="Open a report")
async def open_report(request: Request) -> dict[str, Any]:
    """Issue a report id for a probe's test run."""
    collector = _collector(request)
    meta = parse_open_request(
        await read_json(request, collector.settings.max_body_bytes)
    )
    report_id = await collector.open_report(meta)
    return {
        "backend_version": BACKEND_VERSION,
        "report_id": report_id,
        "supported_formats": list(SUPPORTED_FORMATS),
    }


@router.post("/report/{report_id}", summary="Submit a measurement")
async def submit_to_report(report_id: str, request: Request) -> dict[str, Any]:
    """Store one measurement of an open report; answer its ``measurement_uid``."""
    collector = _collector(request)
    envelope = await read_json(request, collector.settings.max_body_bytes)
    parts = parse_report_id(report_id)
    await collector.require_report(report_id)
    content = content_of_envelope(envelope)
    check_consistency(content, report_id, parts)
    content = scrub_client_address(content, _client_host(request))
    stored = await collector.store(content)
    return {"measurement_uid": stored.measurement_uid}


@router.post("/report/{report_id}/close", summary="Close a report")
async def close_report(report_id: str, request: Request) -> dict[str, Any]:
    """Record the end of a report (submissions are still accepted after)."""
    parse_report_id(report_id)
    await _collector(request).close_report(report_id)
    return {"status": "success"}


@router.post("/api/v1/submit_measurement", summary="Submit one measurement")
async def submit_measurement(request: Request) -> dict[str, Any]:
    """Single-call submission: the collector assigns the report id.

    Anonymous-credential fields (``nym``, ``zkp_request``) are not stored.
    """
    collector = _collector(request)
    envelope = await read_json(request, collector.settings.max_body_bytes)
    content = content_of_string_envelope(envelope)
    content["report_id"] = collector.new_single_report_id(content)
    content = scrub_client_address(content, _client_host(request))
    stored = await collector.store(content)
    # Shortcoming: anonymous credentials are not verified, so every
    # submission is "unverified" and no credential response is returned.
    return {
        "measurement_uid": stored.measurement_uid,
        "report_id": stored.report_id,
        "verification_status": "unverified",
        "submit_response": None,
        "protocol_version": envelope.get("protocol_version"),
        "error": None,
    }
