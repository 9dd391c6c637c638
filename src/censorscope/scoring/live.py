"""The live sink: score what the collector receives and load it within a second.

The collector calls :meth:`LiveSink.submit` on its request path; that only
queues the document.  One background thread takes whatever is queued (up to
``max_batch`` at a time), scores it and upserts it in one transaction, so a
measurement is queryable a few milliseconds after submission when the
collector is idle, and batches grow by themselves under load.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any, Final

from censorscope.scoring.fingerprints import (
    FingerprintDB,
    FingerprintError,
    default_fingerprints_dir,
)
from censorscope.scoring.ingest import ScoringContext, ScoringSetup
from censorscope.warehouse import LIVE_SOURCE, Warehouse, WarehouseError, open_warehouse
from censorscope.warehouse.schema import Row

logger = logging.getLogger(__name__)

_STOP: Final = object()
_SCORING_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class LiveSink:
    """Thread-safe, non-blocking scoring and loading of single measurements."""

    def __init__(
        self,
        warehouse: Warehouse,
        context: ScoringContext,
        *,
        max_batch: int = 1000,
        max_pending: int = 100_000,
    ) -> None:
        self._warehouse = warehouse
        self._context = context
        self._max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(
            target=self._run, name="censorscope-live-sink", daemon=True
        )
        self._closed = False
        self._thread.start()

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse loaded into; reads through it are thread-safe."""
        return self._warehouse

    def submit(self, uid: str, doc: dict[str, Any]) -> None:
        """Queue one measurement for scoring (blocks only if far behind)."""
        if self._closed:
            raise RuntimeError("the live sink is closed")
        self._queue.put((uid, doc))

    def flush(self) -> None:
        """Wait until everything submitted so far is in the warehouse."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, stop the thread, close the warehouse."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._warehouse.close()

    def _run(self) -> None:
        while True:
            batch, stop = self._next_batch()
            if batch:
                self._write(batch)
            for _ in range(len(batch) + stop):
                self._queue.task_done()
            if stop:
                return

    def _next_batch(self) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        """Block for one item, then take whatever else is already queued."""
        batch: list[tuple[str, dict[str, Any]]] = []
        item = self._queue.get()
        while item is not _STOP:
            batch.append(item)
            if len(batch) >= self._max_batch:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        rows: list[Row] = []
        for uid, doc in batch:
            try:
                rows.append(self._context.row(doc, uid, LIVE_SOURCE, None))
            except _SCORING_ERRORS:
                logger.exception("cannot score live measurement %s", uid)
        try:
            self._warehouse.upsert_many(rows)
        except WarehouseError:
            # Shortcoming: these rows are lost to the warehouse (the archive
            # keeps the raw measurements); nothing re-queues them yet.
            logger.exception("cannot load %d live measurements", len(rows))


def make_sink(
    warehouse_path: str | Path,
    *,
    fingerprints_dir: Path | None = None,
    test_lists_dir: Path | None = None,
    max_batch: int = 1000,
) -> LiveSink:
    """A live sink writing to the DuckDB warehouse at ``warehouse_path``.

    Fingerprints come from ``fingerprints_dir`` (default: the data dir); if
    there are none, measurements are scored without them (their
    ``fingerprints_version`` is "none", so ``censorscope rescore`` redoes
    them once fingerprints are installed).
    """
    directory = fingerprints_dir or default_fingerprints_dir()
    try:
        fingerprints = FingerprintDB.load(directory)
    except FingerprintError as error:
        logger.warning("scoring live measurements without fingerprints: %s", error)
        fingerprints = FingerprintDB.empty()
    setup = ScoringSetup(None, test_lists_dir)
    context = ScoringContext.load(setup)
    context.fingerprints = fingerprints
    return LiveSink(open_warehouse(warehouse_path), context, max_batch=max_batch)
