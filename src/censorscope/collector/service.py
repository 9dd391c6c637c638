"""The collector itself, without HTTP: issue report ids, store measurements.

A measurement is answered only after the archive made it durable; then it
is offered to the sink.  Storage work runs in the archive's writer thread
and SQLite calls in worker threads, so the event loop keeps serving probes.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any

from censorscope import __version__
from censorscope.archive import (
    Archive,
    ArchiveBusyError,
    ArchiveError,
    GroupCommitWriter,
    Stored,
    Submission,
)
from censorscope.collector.errors import CollectorError
from censorscope.collector.reports import REPORTS_NAME, ReportRegistry
from censorscope.collector.settings import CollectorSettings
from censorscope.collector.sink import (
    BACKLOG_NAME,
    LIVE_SINK_MODULE,
    MeasurementSink,
    SinkRunner,
    find_live_sink_factory,
)
from censorscope.collector.validation import ReportMeta
from censorscope.measurement.ids import new_report_id

logger = logging.getLogger(__name__)

BACKEND_VERSION = f"censorscope/{__version__}"
# Seconds a probe is asked to wait when the archive writer is saturated.
_RETRY_AFTER = "5"


def _unknown_report(report_id: str) -> CollectorError:
    detail = f"report id {report_id!r} was not opened on this collector"
    return CollectorError(404, "unknown_report_id", detail, field="report_id")


def resolve_sink(settings: CollectorSettings) -> MeasurementSink | None:
    """The sink for these settings: given, made from the warehouse, or none."""
    if settings.sink is not None:
        return settings.sink
    if settings.warehouse is None:
        logger.info("no warehouse given: measurements are stored only")
        return None
    factory = find_live_sink_factory()
    if factory is None:
        logger.warning(
            "%s.make_sink not found: measurements are stored only", LIVE_SINK_MODULE
        )
        return None
    logger.info("live scoring into %s", settings.warehouse)
    return factory(settings.warehouse)


class Collector:
    """Archive, writer, report registry and sink of one collector."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        root = settings.archive_dir
        self.archive = Archive(
            root,
            collector_id=settings.collector_id,
            compression=settings.compression,
            max_file_bytes=settings.max_file_bytes,
        )
        self.writer = GroupCommitWriter(
            self.archive, max_batch=settings.max_batch, max_pending=settings.max_pending
        )
        self.reports = ReportRegistry(root / REPORTS_NAME)
        sink = resolve_sink(settings)
        self.sink = (
            SinkRunner(sink, root / BACKLOG_NAME, queue_size=settings.sink_queue_size)
            if sink is not None
            else None
        )
        self._closed = False

    @property
    def sink_target(self) -> MeasurementSink | None:
        """The sink stored measurements go to, if any."""
        return self.sink.sink if self.sink is not None else None

    def start(self) -> None:
        """Start the background threads (idempotent)."""
        self.writer.start()
        if self.sink is not None:
            self.sink.start()

    def close(self) -> None:
        """Store what is queued, drain the sink, close files (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        if self.sink is not None:
            self.sink.close()
        self.archive.close()
        self.reports.close()

    async def open_report(self, meta: ReportMeta) -> str:
        """Issue a report id (remembered durably before it is returned)."""
        report_id = new_report_id(
            meta.test_name,
            meta.probe_cc,
            meta.probe_asn,
            collector_id=self.settings.collector_id,
        )
        await asyncio.to_thread(self.reports.open, report_id, meta)
        logger.info("report %s opened", report_id)
        return report_id

    async def require_report(self, report_id: str) -> None:
        """Refuse (404) a report id this collector never issued."""
        if not await asyncio.to_thread(self.reports.is_known, report_id):
            raise _unknown_report(report_id)

    async def close_report(self, report_id: str) -> None:
        """Record the close of an issued report (404 for any other id)."""
        if not await asyncio.to_thread(self.reports.close_report, report_id):
            raise _unknown_report(report_id)

    def new_single_report_id(self, content: dict[str, Any]) -> str:
        """A fresh report id for a single-call submission (not remembered)."""
        return new_report_id(
            content["test_name"],
            content["probe_cc"],
            content["probe_asn"],
            collector_id=self.settings.collector_id,
        )

    async def store(self, content: dict[str, Any]) -> Stored:
        """Archive one validated measurement durably; offer it to the sink."""
        submission = Submission.prepare(content, datetime.now(UTC))
        try:
            future = self.writer.submit(submission)
        except ArchiveBusyError:
            raise CollectorError(
                503,
                "busy",
                "the archive is saturated; retry later",
                headers={"Retry-After": _RETRY_AFTER},
            ) from None
        try:
            stored = await asyncio.wrap_future(future)
        except (OSError, sqlite3.Error, ArchiveError) as error:
            logger.error("archive write failed: %s", error)
            raise CollectorError(
                503, "storage_failed", "the archive could not store it; retry later"
            ) from None
        if not stored.duplicate and stored.doc is not None and self.sink is not None:
            self.sink.offer(stored.measurement_uid, stored.doc)
        return stored
