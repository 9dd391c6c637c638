"""Measuring a run's jobs with bounded concurrency.

``parallel`` workers take jobs in order until none are left, the maximum
runtime has passed or a stop was requested (Ctrl-C): a stop takes effect
between inputs, and what was measured is kept.  Each finished job becomes a
scrubbed measurement that is stored first and uploaded second, so a failed
upload never loses data; after one failed submission the runner stops trying
(the collector is down) and leaves the rest for ``results upload``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from censorscope.measurement.ids import new_report_id
from censorscope.measurement.model import format_time
from censorscope.nettests.base import NetTest, Summary, TestContext, TestResult
from censorscope.nettests.common import InputError as NetTestInputError
from censorscope.probe.assembly import Assembler, Clock
from censorscope.probe.inputs import Job
from censorscope.probe.results import RunDirectory
from censorscope.probe.upload import CollectorClient, CollectorError, report_template

logger = logging.getLogger(__name__)

COMPLETED = "completed"
INTERRUPTED = "interrupted"
MAX_RUNTIME = "max_runtime"
# Local report ids say "collector 0": no collector issued them.
LOCAL_COLLECTOR_ID = 0


@dataclass(frozen=True)
class Outcome:
    """What became of one job."""

    job: Job
    line: int | None  # the stored measurement; None when the test crashed
    anomaly: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    uploaded: bool = False
    error: str | None = None


class RunObserver(Protocol):
    """Told about progress (the CLI draws a progress bar from this)."""

    def started(self, total: int) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


@dataclass
class TestTally:
    """Counts for one test of the run."""

    measured: int = 0
    anomalies: int = 0
    failed: int = 0
    uploaded: int = 0

    def count(self, outcome: Outcome) -> None:
        self.measured += outcome.line is not None
        self.anomalies += outcome.anomaly
        self.failed += outcome.error is not None
        self.uploaded += outcome.uploaded


@dataclass
class RunTally:
    """How the run went."""

    planned: int = 0
    stop_reason: str = COMPLETED
    tests: dict[str, TestTally] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        self.tests.setdefault(outcome.job.test.name, TestTally()).count(outcome)

    def total(self, attribute: str) -> int:
        return sum(getattr(t, attribute) for t in self.tests.values())


@dataclass
class _Report:
    report_id: str
    from_collector: bool


class ProbeRunner:
    """Runs jobs, stores (and uploads) their measurements."""

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        context: TestContext,
        assembler: Assembler,
        clock: Clock,
        run_dir: RunDirectory,
        collector: CollectorClient | None = None,
        output: Path | None = None,
        parallel: int = 1,
        max_runtime: float | None = None,
    ) -> None:
        self._pending = deque(jobs)
        self._context = context
        self._assembler = assembler
        self._clock = clock
        self._run_dir = run_dir
        self._collector = collector
        self._output_path = output
        self._output: IO[bytes] | None = None
        self._parallel = max(1, parallel)
        self._deadline = time.monotonic() + max_runtime if max_runtime else None
        self._reports: dict[str, _Report] = {}
        self._collector_down = False
        self.tally = RunTally(planned=len(jobs))

    def request_stop(self) -> None:
        """Stop between inputs (Ctrl-C); measurements in flight finish."""
        if self.tally.stop_reason == COMPLETED:
            logger.warning("stopping after the measurements in progress")
            self.tally.stop_reason = INTERRUPTED
        self._pending.clear()

    async def run(self, observer: RunObserver) -> RunTally:
        """Measure every job (or until stopped); return the tally."""
        observer.started(len(self._pending))
        await self._open_reports()
        if self._output_path is not None:
            self._output_path.parent.mkdir(parents=True, exist_ok=True)
            self._output = self._output_path.open("ab")
        try:
            workers = [self._work(observer) for _ in range(self._parallel)]
            await asyncio.gather(*workers)
        finally:
            await self._close_reports()
            if self._output is not None:
                self._output.close()
        return self.tally

    # Shortcoming: the maximum runtime is checked between inputs only, so the
    # run can exceed it by up to one measurement's own timeouts.
    def _next_job(self) -> Job | None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            if self._pending and self.tally.stop_reason == COMPLETED:
                logger.warning(
                    "maximum runtime reached; %d inputs left", len(self._pending)
                )
                self.tally.stop_reason = MAX_RUNTIME
            self._pending.clear()
        return self._pending.popleft() if self._pending else None

    async def _work(self, observer: RunObserver) -> None:
        while (job := self._next_job()) is not None:
            outcome = await self._measure(job)
            self.tally.count(outcome)
            observer.finished(outcome)

    async def _measure(self, job: Job) -> Outcome:
        started = self._clock.now()
        began = time.monotonic()
        try:
            result = await job.test.run(self._context, job.input)
            summary = job.test.summarize(result.test_keys)
        except NetTestInputError as error:
            # The test refused this input (not a URL, wrong scheme): no
            # measurement exists for it, and the user is told which and why.
            logger.warning("%s cannot measure %r: %s", job.test.name, job.input, error)
            self.tally.errors.append(f"{job.test.name} {job.input}: {error}")
            return Outcome(job, None, error=str(error))
        except Exception as error:
            # A crashing test must not end a run of a thousand URLs; it is
            # logged with its traceback and counted as failed in the summary.
            logger.exception("%s %s crashed", job.test.name, job.input)
            self.tally.errors.append(f"{job.test.name} {job.input}: {error!r}")
            return Outcome(job, None, error=repr(error))
        runtime = time.monotonic() - began
        doc = self._assemble(job, result, started, runtime)
        return await self._keep(job, doc, summary)

    def _assemble(
        self, job: Job, result: TestResult, started: datetime, runtime: float
    ) -> dict[str, Any]:
        return self._assembler.assemble(
            job.test,
            job.input,
            result,
            report_id=self._reports[job.test.name].report_id,
            measurement_start_time=started,
            runtime=runtime,
        )

    async def _keep(self, job: Job, doc: dict[str, Any], summary: Summary) -> Outcome:
        """Store, copy to --output, then upload."""
        detail = dict(summary.detail)
        line = self._run_dir.append(doc, summary.anomaly, detail)
        if self._output is not None:
            self._output.write(orjson.dumps(doc) + b"\n")
            self._output.flush()
        uploaded = await self._upload(job.test.name, line, doc)
        return Outcome(job, line, summary.anomaly, detail, uploaded)

    async def _upload(self, test_name: str, line: int, doc: dict[str, Any]) -> bool:
        report = self._reports[test_name]
        if self._collector is None or self._collector_down or not report.from_collector:
            return False
        try:
            uid = await self._collector.submit(report.report_id, doc)
        except CollectorError as error:
            self._give_up_uploading(error)
            return False
        self._run_dir.mark_uploaded(line, report.report_id, uid)
        return True

    def _give_up_uploading(self, error: CollectorError) -> None:
        if not self._collector_down:
            logger.warning(
                "upload failed (%s); the rest is kept for 'results upload'", error
            )
            self.tally.errors.append(f"upload: {error}")
        self._collector_down = True

    def _template(self, test: NetTest) -> dict[str, Any]:
        assembler = self._assembler
        return report_template(
            {
                "probe_asn": assembler.location.probe_asn,
                "probe_cc": assembler.location.probe_cc,
                "software_name": assembler.software_name,
                "software_version": assembler.software_version,
                "test_name": test.name,
                "test_version": test.version,
                "test_start_time": format_time(assembler.test_start_time),
            }
        )

    async def _open_reports(self) -> None:
        """One report per test: the collector's, or a local id if none."""
        tests = {job.test.name: job.test for job in self._pending}
        for name, test in tests.items():
            self._reports[name] = await self._open_report(test)

    async def _open_report(self, test: NetTest) -> _Report:
        if self._collector is not None and not self._collector_down:
            try:
                report_id = await self._collector.open_report(self._template(test))
                return _Report(report_id, from_collector=True)
            except CollectorError as error:
                self._give_up_uploading(error)
        location = self._assembler.location
        local_id = new_report_id(
            test.name,
            location.probe_cc,
            location.probe_asn,
            when=self._assembler.test_start_time,
            collector_id=LOCAL_COLLECTOR_ID,
        )
        return _Report(local_id, from_collector=False)

    async def _close_reports(self) -> None:
        if self._collector is None or self._collector_down:
            return
        for report in self._reports.values():
            if not report.from_collector:
                continue
            try:
                await self._collector.close_report(report.report_id)
            except CollectorError as error:
                # Closing is a courtesy (modern collectors ignore it).
                logger.info("closing report failed: %s", error)
