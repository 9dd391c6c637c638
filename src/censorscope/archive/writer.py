"""Group commit: many concurrent callers, one writer thread, few fsyncs.

Each caller hands a :class:`Submission` to :meth:`GroupCommitWriter.submit`
and gets a future.  The writer thread takes whatever is waiting (up to
``max_batch``), stores it with one :meth:`Archive.store` call (one sync of
the touched files and one index commit for the whole batch) and then
resolves every future.  A future resolves only once its measurement is
durable.  The queue is bounded: when it is full, ``submit`` refuses at once
(:class:`ArchiveBusyError`) rather than letting callers pile up.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Final

from censorscope.archive.archive import Archive, Stored, Submission

logger = logging.getLogger(__name__)

_Item = tuple[Submission, "Future[Stored]"]
_STOP: Final = None


class ArchiveBusyError(RuntimeError):
    """The writer's queue is full; the caller should retry later."""


class GroupCommitWriter:
    """The single thread that writes to an :class:`Archive`."""

    def __init__(
        self, archive: Archive, *, max_batch: int = 256, max_pending: int = 10_000
    ) -> None:
        self._archive = archive
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(
            target=self._run, name="archive-writer", daemon=True
        )
        self._started = False
        self.batches = 0
        self.stored = 0

    def start(self) -> None:
        """Start the writer thread (once)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, submission: Submission) -> Future[Stored]:
        """Queue a submission; the future resolves when it is durable."""
        future: Future[Stored] = Future()
        try:
            self._queue.put_nowait((submission, future))
        except queue.Full:
            raise ArchiveBusyError("archive writer queue is full") from None
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Store everything queued, then stop the thread."""
        if self._started and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("archive writer did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = self._drain(batch)
            self._commit(batch)
            if stop:
                return

    def _drain(self, batch: list[_Item]) -> bool:
        """Add waiting items to ``batch``; True if a stop request was seen."""
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _commit(self, batch: list[_Item]) -> None:
        # A caller that gave up (cancelled) still gets its measurement stored:
        # it arrived, and a retry will be recognised as a duplicate.
        live = [future.set_running_or_notify_cancel() for _, future in batch]
        try:
            outcomes = self._archive.store([submission for submission, _ in batch])
        except Exception as error:
            # Every caller learns the batch failed (and answers its client
            # with an error); the thread itself keeps serving.
            logger.exception("archive store of %d measurements failed", len(batch))
            for (_, future), waiting in zip(batch, live, strict=True):
                if waiting:
                    future.set_exception(error)
            return
        self.batches += 1
        self.stored += len(batch)
        for (_, future), waiting, outcome in zip(batch, live, outcomes, strict=True):
            if waiting:
                future.set_result(outcome)
