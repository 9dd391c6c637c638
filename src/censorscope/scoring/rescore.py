"""Re-scoring: re-derive verdicts made with older rules or fingerprints.

The warehouse keeps no copy of the raw measurements (they are large and
already stored elsewhere); it keeps, for every row, where the raw document
came from, and the rules and fingerprint versions its verdict used.  So:

* rows ingested from files are re-scored by reading those files again
  (streaming, in parallel, the same pipeline as ``ingest``);
* rows the collector sent live (source ``collector``) are re-scored from the
  archive, which finds a raw measurement by uid;
* rows whose source is gone are counted and reported, not guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from censorscope.archive import Archive
from censorscope.scoring.ingest import (
    IngestReport,
    ProgressCallback,
    RejectCallback,
    ScoringContext,
    ScoringSetup,
    Task,
    run_tasks,
)
from censorscope.scoring.scorer import RULES_VERSION
from censorscope.warehouse import LIVE_SOURCE, Warehouse
from censorscope.warehouse.schema import Row

logger = logging.getLogger(__name__)

_ARCHIVE_BATCH: Final = 1000


@dataclass
class RescoreReport:
    """What a re-scoring run found and did."""

    stale: int = 0
    from_files: IngestReport = field(default_factory=IngestReport)
    from_archive: int = 0
    unavailable: dict[str, int] = field(default_factory=dict)

    @property
    def unavailable_count(self) -> int:
        return sum(self.unavailable.values())


def rescore(
    warehouse: Warehouse,
    setup: ScoringSetup,
    *,
    archive_dir: Path | None = None,
    everything: bool = False,
    jobs: int = 1,
    on_reject: RejectCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> RescoreReport:
    """Re-score every stale row (every row with ``everything``)."""
    context = ScoringContext.load(setup)
    fingerprints_version = context.fingerprints.version
    # An impossible version makes every row stale.
    rules = "" if everything else RULES_VERSION
    stale = warehouse.stale_sources(rules, "" if everything else fingerprints_version)
    report = RescoreReport(stale=sum(stale.values()))
    tasks: list[Task] = []
    for source, count in stale.items():
        if source == LIVE_SOURCE:
            continue
        if Path(source).is_file():
            tasks.append(Task(source))
        else:
            report.unavailable[source] = count
    run_tasks(
        tasks, warehouse, setup,
        jobs=jobs, on_reject=on_reject, on_progress=on_progress,
        report=report.from_files,
    )  # fmt: skip
    if LIVE_SOURCE in stale:
        _rescore_live(
            warehouse,
            context,
            archive_dir=archive_dir,
            rules=rules,
            count=stale[LIVE_SOURCE],
            report=report,
        )
    return report


def _rescore_live(
    warehouse: Warehouse,
    context: ScoringContext,
    *,
    archive_dir: Path | None,
    rules: str,
    count: int,
    report: RescoreReport,
) -> None:
    if archive_dir is None:
        report.unavailable[LIVE_SOURCE] = count
        logger.warning(
            "%d live measurements need the archive (--archive) to re-score", count
        )
        return
    archive = Archive(archive_dir, read_only=True)
    try:
        version = context.fingerprints.version if rules else ""
        # Listed first: the rows are rewritten while we go.
        uids = list(warehouse.stale_uids(LIVE_SOURCE, rules, version))
        for batch in _batches(
            _archived_rows(archive, context, uids, report), _ARCHIVE_BATCH
        ):
            report.from_archive += warehouse.upsert_many(batch)
    finally:
        archive.close()


def _archived_rows(
    archive: Archive, context: ScoringContext, uids: list[str], report: RescoreReport
) -> Iterator[Row]:
    for uid in uids:
        doc = archive.get(uid)
        if doc is None:
            report.unavailable[LIVE_SOURCE] = report.unavailable.get(LIVE_SOURCE, 0) + 1
            continue
        yield context.row(doc, uid, LIVE_SOURCE, None)


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
