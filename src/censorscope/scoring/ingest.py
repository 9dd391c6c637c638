"""Bulk ingestion: read measurement files, score them, load the warehouse.

The work is split by file.  Each file is read as a stream and scored in
batches; the batches go to a single writer (DuckDB takes one writing
process), which commits every batch together with how far into its file it
got, opening the warehouse for that batch only: between batches the
collector's live sink, readers or another writer can take their turn.  So
the pipeline is:

* **parallel** - with ``jobs > 1``, worker processes read and score files and
  send rows over a bounded queue (flat memory: at most ``4 * jobs`` batches
  in flight); the parent only writes;
* **resumable** - after an interruption, completed files are skipped and a
  partly ingested file resumes after its last committed record;
* **idempotent** - rows are upserted by ``measurement_uid``, so ingesting a
  file again (``force``) leaves the warehouse as it was.

Records that cannot be read or scored are reported with their location and
reason and counted; they never stop the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from censorscope.measurement.readers import (
    Rejection,
    measurement_files,
    read_measurements,
)
from censorscope.scoring.categories import CategoryIndex
from censorscope.scoring.fingerprints import FingerprintDB
from censorscope.scoring.rows import build_row
from censorscope.scoring.scorer import RULES_VERSION, score
from censorscope.warehouse.base import FileState, Warehouse
from censorscope.warehouse.schema import Row

logger = logging.getLogger(__name__)

DEFAULT_BATCH: Final = 2000
_QUEUE_BATCHES_PER_JOB: Final = 4
_POLL_SECONDS: Final = 1.0
_SCORING_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class IngestError(RuntimeError):
    """The ingestion could not go on (a worker crashed, the warehouse failed)."""


@dataclass(frozen=True)
class ScoringSetup:
    """Where each process loads its scoring context from (picklable)."""

    fingerprints_dir: Path | None
    test_lists_dir: Path | None = None


class ScoringContext:
    """Fingerprints and categories loaded once per process, and the row maker."""

    def __init__(
        self, fingerprints: FingerprintDB, categories: CategoryIndex | None
    ) -> None:
        self.fingerprints = fingerprints
        self.categories = categories

    @classmethod
    def load(cls, setup: ScoringSetup) -> ScoringContext:
        fingerprints = (
            FingerprintDB.load(setup.fingerprints_dir)
            if setup.fingerprints_dir is not None
            else FingerprintDB.empty()
        )
        categories = (
            CategoryIndex.load(setup.test_lists_dir) if setup.test_lists_dir else None
        )
        return cls(fingerprints, categories)

    def row(
        self, doc: dict[str, object], uid: str, source: str, origin: str | None
    ) -> Row:
        """Score one document and build its warehouse row."""
        verdict = score(doc, self.fingerprints, uid)
        return build_row(
            doc, uid, verdict, source=source, origin=origin, categories=self.categories
        )


# Messages from scorers to the writer ---------------------------------------


@dataclass(frozen=True, slots=True)
class Task:
    """One file to ingest, skipping its first ``skip`` measurements."""

    path: str
    skip: int = 0


@dataclass(frozen=True, slots=True)
class RowsBatch:
    """Scored rows; ``completed`` on a file's last batch (no FileDone write then)."""

    path: str
    rows: list[Row]
    records_done: int
    rejects: int
    completed: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    path: str
    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class FileDone:
    path: str
    records: int
    rejects: int


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class WorkerExit:
    pass


Message = RowsBatch | Rejected | FileDone | WorkerFailed


def score_file(
    task: Task, context: ScoringContext, batch_size: int = DEFAULT_BATCH
) -> Iterator[Message]:
    """Read, score and batch one file; rejections are passed on in order."""
    pending: list[Rejection] = []
    batch: list[Row] = []
    records = rejects = 0
    for measurement in read_measurements([task.path], on_reject=pending.append):
        if pending:
            rejects += len(pending)
            yield from _rejections(task.path, pending)
        records += 1
        if records <= task.skip:
            continue
        try:
            uid = measurement.uid
            batch.append(
                context.row(measurement.doc, uid, task.path, measurement.origin)
            )
        except _SCORING_ERRORS as error:
            rejects += 1
            where = measurement.origin or task.path
            yield Rejected(
                task.path, where, f"cannot score: {type(error).__name__}: {error}"
            )
        if len(batch) >= batch_size:
            yield RowsBatch(task.path, batch, records, rejects)
            batch = []
    rejects += len(pending)
    yield from _rejections(task.path, pending)
    if batch:
        yield RowsBatch(task.path, batch, records, rejects, completed=True)
    yield FileDone(task.path, records, rejects)


def _rejections(path: str, pending: list[Rejection]) -> Iterator[Rejected]:
    for rejection in pending:
        yield Rejected(path, rejection.location, rejection.reason)
    pending.clear()


# The writer ---------------------------------------------------------------


@dataclass
class IngestReport:
    """What one run did."""

    files: int = 0
    skipped_files: int = 0
    measurements: int = 0
    rejects: int = 0
    seconds: float = 0.0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.measurements / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[IngestReport], None]
RejectCallback = Callable[[Rejection], None]


class _Writer:
    """The single process that commits batches and bookkeeping."""

    def __init__(
        self,
        warehouse: Warehouse,
        fingerprints_version: str,
        report: IngestReport,
        on_reject: RejectCallback | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.warehouse = warehouse
        self.fingerprints_version = fingerprints_version
        self.report = report
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.stats: dict[str, tuple[int, int]] = {}
        # Files whose last batch already recorded them as completed.
        self.completed: set[str] = set()

    def add_file(self, path: str) -> None:
        try:
            stat = Path(path).stat()
            self.stats[path] = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            self.stats[path] = (-1, -1)

    def _state(
        self, path: str, records: int, rejects: int, completed: bool
    ) -> FileState:
        size, mtime_ns = self.stats.get(path, (-1, -1))
        return FileState(
            path, size, mtime_ns, records, rejects, completed,
            RULES_VERSION, self.fingerprints_version,
        )  # fmt: skip

    def handle(self, message: Message) -> None:
        if isinstance(message, RowsBatch):
            state = self._state(
                message.path, message.records_done, message.rejects, message.completed
            )
            written = self.warehouse.upsert_many(message.rows, [state])
            if message.completed:
                self.completed.add(message.path)
            self.report.measurements += len(message.rows)
            logger.info(
                "committed %d measurements from %s (through record %d)",
                written, message.path, message.records_done,
            )  # fmt: skip
        elif isinstance(message, Rejected):
            self._reject(Rejection(message.location, message.reason))
        elif isinstance(message, FileDone):
            # One opening of the warehouse per batch: the last batch usually
            # recorded the file already.
            if message.path not in self.completed:
                state = self._state(
                    message.path, message.records, message.rejects, True
                )
                self.warehouse.record_files([state])
            self.report.files += 1
        else:
            raise IngestError(f"scoring {message.path} failed: {message.message}")
        if self.on_progress is not None:
            self.on_progress(self.report)

    def _reject(self, rejection: Rejection) -> None:
        self.report.rejects += 1
        if len(self.report.rejections) < 1000:
            self.report.rejections.append(rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)


# Planning and running ------------------------------------------------------


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files named, and files under directories named (sorted), as absolute paths."""
    return [str(path.absolute()) for path in measurement_files(paths)]


def plan(
    files: Iterable[str], warehouse: Warehouse, *, force: bool
) -> tuple[list[Task], int]:
    """Tasks for files not yet fully ingested, and how many were skipped.

    The bookkeeping is read in one call: a read per file would keep the
    warehouse from other processes for ~0.6 ms per file.
    """
    states = warehouse.file_states()
    tasks: list[Task] = []
    skipped = 0
    for path in files:
        state = states.get(path)
        try:
            stat = Path(path).stat()
            unchanged = state is not None and (state.size, state.mtime_ns) == (
                stat.st_size,
                stat.st_mtime_ns,
            )
        except OSError:
            unchanged = False
        if state is not None and unchanged and not force:
            if state.completed:
                skipped += 1
                continue
            tasks.append(Task(path, state.records_done))
            logger.info("resuming %s after record %d", path, state.records_done)
            continue
        tasks.append(Task(path))
    return tasks, skipped


def run_tasks(
    tasks: list[Task],
    warehouse: Warehouse,
    setup: ScoringSetup,
    *,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH,
    on_reject: RejectCallback | None = None,
    on_progress: ProgressCallback | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Score ``tasks`` (in this process, or in ``jobs`` workers) into ``warehouse``."""
    report = report or IngestReport()
    started = time.monotonic()
    context = ScoringContext.load(setup) if jobs <= 1 else None
    version = context.fingerprints.version if context else _fingerprints_version(setup)
    writer = _Writer(warehouse, version, report, on_reject, on_progress)
    for task in tasks:
        writer.add_file(task.path)
    if context is not None:
        for task in tasks:
            for message in score_file(task, context, batch_size):
                writer.handle(message)
    elif tasks:
        _run_parallel(tasks, setup, min(jobs, len(tasks)), batch_size, writer)
    report.seconds = time.monotonic() - started
    return report


def _fingerprints_version(setup: ScoringSetup) -> str:
    if setup.fingerprints_dir is None:
        return FingerprintDB.empty().version
    return FingerprintDB.load(setup.fingerprints_dir).version


def ingest(
    paths: Iterable[str | Path],
    warehouse: Warehouse,
    setup: ScoringSetup,
    *,
    jobs: int = 1,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_reject: RejectCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest files and directories of measurements into ``warehouse``."""
    tasks, skipped = plan(expand_paths(paths), warehouse, force=force)
    report = IngestReport(skipped_files=skipped)
    return run_tasks(
        tasks, warehouse, setup,
        jobs=jobs, batch_size=batch_size,
        on_reject=on_reject, on_progress=on_progress, report=report,
    )  # fmt: skip


# Worker processes ----------------------------------------------------------


def _worker(
    tasks: multiprocessing.Queue,  # type: ignore[type-arg]
    results: multiprocessing.Queue,  # type: ignore[type-arg]
    setup: ScoringSetup,
    batch_size: int,
) -> None:
    """Worker process body: score files from ``tasks`` until the None sentinel."""
    context = ScoringContext.load(setup)
    while (task := tasks.get()) is not None:
        try:
            for message in score_file(task, context, batch_size):
                results.put(message)
        except Exception as error:  # noqa: BLE001 - forwarded; the parent fails the run
            results.put(WorkerFailed(task.path, f"{type(error).__name__}: {error}"))
            break
    results.put(WorkerExit())


def _run_parallel(
    tasks: list[Task], setup: ScoringSetup, jobs: int, batch_size: int, writer: _Writer
) -> None:
    context = multiprocessing.get_context("spawn")
    task_queue = context.Queue()
    results = context.Queue(maxsize=_QUEUE_BATCHES_PER_JOB * jobs)
    for task in tasks:
        task_queue.put(task)
    for _ in range(jobs):
        task_queue.put(None)
    workers = [
        context.Process(target=_worker, args=(task_queue, results, setup, batch_size))
        for _ in range(jobs)
    ]
    for worker in workers:
        worker.start()
    try:
        _drain(results, workers, writer)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()


def _drain(
    results: multiprocessing.Queue,  # type: ignore[type-arg]
    workers: Sequence[multiprocessing.process.BaseProcess],
    writer: _Writer,
) -> None:
    running = len(workers)
    while running:
        try:
            message = results.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            crashed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if crashed:
                raise IngestError(
                    f"a scoring worker died (exit code {crashed[0]})"
                ) from None
            continue
        if isinstance(message, WorkerExit):
            running -= 1
        else:
            writer.handle(message)
