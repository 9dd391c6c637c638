"""One probe run from request to stored results.

:func:`prepare_run` geolocates the probe, plans the jobs and creates the run
directory; :meth:`PreparedRun.execute` measures and records how the run
ended in its metadata, whatever happens (completion, Ctrl-C, max runtime,
cancellation).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from censorscope.measurement.model import format_time
from censorscope.nettests.base import NetTest, TestContext
from censorscope.probe.assembly import Assembler, Clock, engine_annotations
from censorscope.probe.catalog import Catalog, resolve_target
from censorscope.probe.geolocation import (
    GeolocationSettings,
    ProbeLocation,
    load_database,
    locate,
)
from censorscope.probe.inputs import InputSources, Job, TestListLoader, plan_jobs
from censorscope.probe.results import ResultsStore, RunDirectory
from censorscope.probe.runner import ProbeRunner, RunObserver, RunTally
from censorscope.probe.testlists import (
    UPSTREAM_LISTS_URL,
    UrlEntry,
    fetch_test_lists,
    load_test_lists,
)
from censorscope.probe.upload import CollectorClient, RetryPolicy

logger = logging.getLogger(__name__)

SOFTWARE_VERSION = "0.1.0"


@dataclass(frozen=True)
class RunRequest:
    """Everything ``censorscope run`` was asked to do."""

    target: str
    home: Path
    sources: InputSources = field(default_factory=InputSources)
    test_list_dir: Path | None = None
    test_list_url: str = UPSTREAM_LISTS_URL
    categories: tuple[str, ...] = ()
    parallel: int = 1
    max_runtime: float | None = None
    collector: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    output: Path | None = None
    context: TestContext = field(default_factory=TestContext)
    annotations: Mapping[str, str] = field(default_factory=dict)
    start_time: datetime | None = None
    geolocation: GeolocationSettings = field(default_factory=GeolocationSettings)
    software_name: str = "censorscope"
    software_version: str = SOFTWARE_VERSION


def _list_loader(request: RunRequest) -> TestListLoader:
    """Reads the test lists from --test-list-dir, or fetches them into the cache."""

    async def load(country_code: str) -> list[UrlEntry]:
        directory = request.test_list_dir
        if directory is None:
            cache = request.home / "test-lists"
            directory = await fetch_test_lists(
                cache, country_code, request.test_list_url
            )
        return load_test_lists(directory, country_code, request.categories)

    return load


def _collector_for(
    request: RunRequest, location: ProbeLocation
) -> CollectorClient | None:
    """A collector client, unless there is none or the probe IP is unknown.

    Without the probe's IP nothing can be scrubbed, so nothing is published
    (as OONI does); the measurements stay local and unsent.
    """
    if request.collector is None:
        return None
    if location.probe_ip is None:
        logger.warning(
            "probe IP unknown, cannot scrub: measurements will not be uploaded"
        )
        return None
    return CollectorClient(
        request.collector,
        ca_bundle=request.context.ca_bundle,
        retry=request.retry,
    )


def _metadata(
    request: RunRequest, run_dir: RunDirectory, jobs: list[Job], assembler: Assembler
) -> dict[str, Any]:
    location = assembler.location
    return {
        "run_id": run_dir.run_id,
        "target": request.target,
        "tests": list(dict.fromkeys(job.test.name for job in jobs)),
        "planned": len(jobs),
        "started_at": format_time(datetime.now(UTC)),
        "test_start_time": format_time(assembler.test_start_time),
        "simulated_clock": request.start_time is not None,
        "software_name": request.software_name,
        "software_version": request.software_version,
        "network": location.base_keys(),
        "probe_ip_known": location.probe_ip is not None,
        "upload_requested": request.collector is not None,
        "collector": request.collector,
        "status": "running",
    }


@dataclass
class PreparedRun:
    """A run ready to measure."""

    runner: ProbeRunner
    run_dir: RunDirectory
    location: ProbeLocation
    metadata: dict[str, Any]
    collector: CollectorClient | None

    async def execute(self, observer: RunObserver) -> RunTally:
        """Measure, then record the outcome in the metadata (even on cancel)."""
        self.run_dir.write_metadata(self.metadata)
        status = "cancelled"
        try:
            tally = await self.runner.run(observer)
            status = tally.stop_reason
            return tally
        finally:
            if self.collector is not None:
                await self.collector.aclose()
            self._finish(status)

    def _finish(self, status: str) -> None:
        tally = self.runner.tally
        self.metadata.update(
            status=status,
            finished_at=format_time(datetime.now(UTC)),
            measurements=tally.total("measured"),
            anomalies=tally.total("anomalies"),
            failed=tally.total("failed"),
            uploaded=tally.total("uploaded"),
            errors=tally.errors,
        )
        self.run_dir.write_metadata(self.metadata)


def _instantiate(target: str, catalog: Catalog) -> list[NetTest]:
    return [test_class() for test_class in resolve_target(target, catalog)]


async def prepare_run(request: RunRequest, catalog: Catalog) -> PreparedRun:
    """Geolocate, plan the jobs and create the run directory."""
    tests = _instantiate(request.target, catalog)
    clock = Clock(request.start_time)
    database = await asyncio.to_thread(load_database, request.geolocation.database_path)
    location = await locate(request.geolocation, database)
    jobs = await plan_jobs(
        tests, request.sources, location.probe_cc, _list_loader(request)
    )

    annotations = engine_annotations(request.software_version, clock.simulated)
    annotations.update(request.annotations)
    assembler = Assembler(
        location=location,
        test_start_time=clock.now(),
        software_name=request.software_name,
        software_version=request.software_version,
        annotations=annotations,
    )
    run_dir = ResultsStore(request.home).create_run(request.target)
    collector = _collector_for(request, location)
    runner = ProbeRunner(
        jobs,
        context=dataclasses.replace(
            request.context,
            resolver_ip=location.resolver_ip,
            asn_lookup=database.asn_lookup if database else None,
        ),
        assembler=assembler,
        clock=clock,
        run_dir=run_dir,
        collector=collector,
        output=request.output,
        parallel=request.parallel,
        max_runtime=request.max_runtime,
    )
    metadata = _metadata(request, run_dir, jobs, assembler)
    return PreparedRun(runner, run_dir, location, metadata, collector)
