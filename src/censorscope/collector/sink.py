"""Where stored measurements go next (live scoring), off the request path.

A sink is anything with ``submit(uid, doc)``; the collector calls it from a
background thread fed by a bounded queue, after the measurement is safe in
the archive.  A slow or failing sink therefore never delays or fails a
probe, and never loses a measurement: what the sink did not take is listed
in ``sink-backlog.jsonl`` beside the archive (uid and reason), and
``censorscope ingest`` of the archive recovers it (ingestion is idempotent
by ``measurement_uid``).

The live scorer is found by name: ``censorscope.scoring.live.make_sink(
warehouse_path)``, when that module exists.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

logger = logging.getLogger(__name__)

LIVE_SINK_MODULE: Final = "censorscope.scoring.live"
BACKLOG_NAME: Final = "sink-backlog.jsonl"
_STOP: Final = None


class MeasurementSink(Protocol):
    """Consumer of newly stored measurements.

    ``submit`` is called once per stored measurement (never for a
    duplicate), from one background thread.  It may block or raise; the
    collector copes.  If the sink also has a ``close()`` method, it is called
    at shutdown after the queue drained; it may return the uids it took but
    could not deliver, which go to the backlog.
    """

    def submit(self, uid: str, doc: dict[str, Any]) -> None: ...


SinkFactory = Callable[[Path], MeasurementSink]


def find_live_sink_factory() -> SinkFactory | None:
    """``make_sink`` of the live scoring module, or None if there is none."""
    try:
        module = importlib.import_module(LIVE_SINK_MODULE)
    except ModuleNotFoundError as error:
        if error.name not in (LIVE_SINK_MODULE, LIVE_SINK_MODULE.rsplit(".", 1)[0]):
            raise
        return None
    factory: SinkFactory | None = getattr(module, "make_sink", None)
    return factory


class SinkRunner:
    """Feeds a sink from a bounded queue in a background thread.

    ``offer`` never blocks: when the queue is full the measurement is noted
    in the backlog instead.  Counters: ``delivered``, ``failed``, ``dropped``.
    """

    def __init__(
        self, sink: MeasurementSink, backlog: Path, *, queue_size: int = 10_000
    ) -> None:
        self._sink = sink
        self._backlog = backlog
        self._backlog_lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(
            queue_size
        )
        self._thread = threading.Thread(
            target=self._run, name="collector-sink", daemon=True
        )
        self._started = False
        self.delivered = 0
        self.failed = 0
        self._last_failure: type[Exception] | None = None
        self.dropped = 0

    @property
    def sink(self) -> MeasurementSink:
        """The sink fed (read routes look for its ``warehouse``)."""
        return self._sink

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def offer(self, uid: str, doc: dict[str, Any]) -> bool:
        """Queue a stored measurement for the sink; False if it was backlogged."""
        try:
            self._queue.put_nowait((uid, doc))
        except queue.Full:
            self.dropped += 1
            self._note(uid, "sink queue full")
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to ``timeout``), then close the sink."""
        if self._started and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._backlog_leftovers()
        close = getattr(self._sink, "close", None)
        if callable(close):
            undelivered = close()
            for uid in undelivered if isinstance(undelivered, list) else ():
                self._note(str(uid), "not loaded before shutdown (warehouse busy)")

    def _backlog_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._note(item[0], "not delivered before shutdown")

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            uid, doc = item
            self._deliver(uid, doc)

    def _deliver(self, uid: str, doc: dict[str, Any]) -> None:
        try:
            self._sink.submit(uid, doc)
        except Exception as error:  # noqa: BLE001 - logged (once per kind), backlogged
            # The measurement is archived; the backlog says it needs ingesting.
            self._log_failure(uid, error)
            self.failed += 1
            self._note(uid, f"sink error: {type(error).__name__}: {error}")
            return
        self._last_failure = None
        self.delivered += 1

    def _log_failure(self, uid: str, error: Exception) -> None:
        """A traceback for the first of a run of like failures, one line after."""
        kind = type(error)
        if kind is self._last_failure:
            logger.debug("sink failed on %s: %s", uid, error)
            return
        self._last_failure = kind
        logger.exception("sink failed on %s (like failures follow unlogged)", uid)

    def _note(self, uid: str, reason: str) -> None:
        line = orjson.dumps(
            {
                "measurement_uid": uid,
                "reason": reason,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        with self._backlog_lock, self._backlog.open("ab") as handle:
            handle.write(line + b"\n")
