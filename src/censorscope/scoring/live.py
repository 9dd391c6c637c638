"""The live sink: score what the collector receives and load it within a second.

The collector's sink thread calls :meth:`LiveSink.submit`, which only queues
the document.  One background thread takes whatever is queued (up to
``max_batch`` at a time), scores it and upserts it in one transaction, so a
measurement is queryable a few milliseconds after submission when the
collector is idle, and batches grow by themselves under load.

The warehouse is opened for each batch and closed after, so that an
``ingest`` or ``rescore`` can run on the same file while the collector
serves.  While another process holds the file the sink keeps the batch and
retries (forever, warning every minute with the holder's name); its queue
is bounded, and when it is full ``submit`` refuses, which the collector
records in its sink backlog (the measurement is archived either way).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Final

from censorscope.scoring.fingerprints import (
    FingerprintDB,
    FingerprintError,
    default_fingerprints_dir,
)
from censorscope.scoring.ingest import ScoringContext, ScoringSetup
from censorscope.warehouse import (
    LIVE_SOURCE,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    open_warehouse,
)
from censorscope.warehouse.schema import Row

logger = logging.getLogger(__name__)

_SCORING_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_POLL_SECONDS: Final = 0.2
# Each attempt waits this long for the file; between attempts the sink checks
# whether it is closing.  It retries until the warehouse is free.
_ATTEMPT_SECONDS: Final = 1.0
_WARN_EVERY: Final = 60.0
DEFAULT_MAX_PENDING: Final = 10_000
DEFAULT_CLOSE_TIMEOUT: Final = 60.0

Item = tuple[str, dict[str, Any]]


class LiveSinkFullError(RuntimeError):
    """The sink's queue is full (the warehouse is busy or scoring is behind)."""


class LiveSink:
    """Thread-safe, non-blocking scoring and loading of single measurements.

    ``warehouse`` receives the rows; ``reader`` (default: ``warehouse``) is
    what :attr:`warehouse` hands to readers, normally the same file opened
    read-only.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        context: ScoringContext,
        *,
        reader: Warehouse | None = None,
        max_batch: int = 1000,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._warehouse = warehouse
        self._reader = reader if reader is not None else warehouse
        self._context = context
        self._max_batch = max_batch
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=max_pending)
        self._stopping = threading.Event()
        self._give_up_at = float("inf")
        self._gave_up = False
        self._unloaded: list[str] = []
        self._thread = threading.Thread(
            target=self._run, name="censorscope-live-sink", daemon=True
        )
        self._thread.start()

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse to read what was loaded from (thread-safe)."""
        return self._reader

    def submit(self, uid: str, doc: dict[str, Any]) -> None:
        """Queue one measurement for scoring; never blocks.

        Raises :class:`LiveSinkFullError` when ``max_pending`` measurements wait
        already, RuntimeError after :meth:`close`.
        """
        if self._stopping.is_set():
            raise RuntimeError("the live sink is closed")
        try:
            self._queue.put_nowait((uid, doc))
        except queue.Full:
            raise LiveSinkFullError(
                f"{self._queue.maxsize} measurements already wait for the warehouse"
            ) from None

    def flush(self) -> None:
        """Wait until everything submitted so far is in the warehouse."""
        self._queue.join()

    def close(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> list[str]:
        """Load what is queued, stop, and return the uids that were not loaded.

        A busy warehouse is waited for up to ``timeout`` seconds; what is
        still not loaded then is given up (and returned, for the backlog).
        """
        if self._stopping.is_set():
            return []
        self._give_up_at = time.monotonic() + timeout
        self._stopping.set()
        self._thread.join()
        self._warehouse.close()
        self._reader.close()
        unloaded = self._unloaded + [uid for uid, _ in _drain(self._queue)]
        if unloaded:
            logger.error(
                "%d live measurements not loaded before shutdown", len(unloaded)
            )
        return unloaded

    def _run(self) -> None:
        while not self._gave_up and (batch := self._next_batch()) is not None:
            try:
                self._load(batch, self._score(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _next_batch(self) -> list[Item] | None:
        """Wait for one item, then take whatever else is queued; None to stop."""
        while True:
            try:
                batch = [self._queue.get(timeout=_POLL_SECONDS)]
                break
            except queue.Empty:
                if self._stopping.is_set():
                    return None
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _score(self, batch: list[Item]) -> list[Row]:
        rows: list[Row] = []
        for uid, doc in batch:
            try:
                rows.append(self._context.row(doc, uid, LIVE_SOURCE, None))
            except _SCORING_ERRORS:
                logger.exception("cannot score live measurement %s", uid)
        return rows

    def _load(self, batch: list[Item], rows: list[Row]) -> None:
        """Upsert ``rows``, retrying while the warehouse is busy (until closing)."""
        started = warned = time.monotonic()
        while rows:
            try:
                self._warehouse.upsert_many(rows)
                return
            except WarehouseBusyError as error:
                if time.monotonic() > self._give_up_at:
                    self._gave_up = True  # what is still queued is returned too
                    self._unloaded.extend(uid for uid, _ in batch)
                    return
                if time.monotonic() - warned >= _WARN_EVERY:
                    warned = time.monotonic()
                    logger.warning(
                        "live scoring has waited %.0f s for the warehouse, locked "
                        "by %s; %d measurements wait (still retrying)",
                        warned - started, error.holder,
                        len(batch) + self._queue.qsize(),
                    )  # fmt: skip
            except WarehouseError:
                # Shortcoming: a failure other than a busy lock (disk full,
                # corruption) loses these rows to the warehouse (the archive
                # keeps the raw measurements); nothing re-queues them yet.
                logger.exception("cannot load %d live measurements", len(rows))
                return


def _drain(items: queue.Queue[Item]) -> list[Item]:
    drained: list[Item] = []
    while True:
        try:
            drained.append(items.get_nowait())
        except queue.Empty:
            return drained


def make_sink(
    warehouse_path: str | Path,
    *,
    fingerprints_dir: Path | None = None,
    test_lists_dir: Path | None = None,
    max_batch: int = 1000,
    max_pending: int = DEFAULT_MAX_PENDING,
) -> LiveSink:
    """A live sink writing to the DuckDB warehouse at ``warehouse_path``.

    The warehouse is created if needed; reads through :attr:`LiveSink.warehouse`
    open it read-only.

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
    writer = open_warehouse(warehouse_path)  # waits up to a minute at startup
    writer.busy_timeout = _ATTEMPT_SECONDS
    reader = open_warehouse(warehouse_path, read_only=True)
    return LiveSink(
        writer, context, reader=reader, max_batch=max_batch, max_pending=max_pending
    )
