"""Sending a run's unsent measurements later (``censorscope results upload``).

Unsent measurements are grouped by report template; each group gets a fresh
report (the one used at run time may be closed or may never have existed),
its measurements are submitted with that report id, and every acceptance is
recorded in the run's ``uploads.jsonl``.  The stored measurements themselves
are never rewritten.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from censorscope.probe.results import RunDirectory, StoredMeasurement
from censorscope.probe.upload import (
    CollectorClient,
    CollectorError,
    report_template,
    template_key,
)

logger = logging.getLogger(__name__)


@dataclass
class UploadTally:
    """What one upload pass achieved."""

    sent: int = 0
    unsent: int = 0
    errors: list[str] = field(default_factory=list)


def _groups(pending: list[StoredMeasurement]) -> list[list[StoredMeasurement]]:
    grouped: dict[tuple[Any, ...], list[StoredMeasurement]] = defaultdict(list)
    for stored in pending:
        grouped[template_key(stored.doc)].append(stored)
    return list(grouped.values())


async def _send_group(
    run: RunDirectory, client: CollectorClient, group: list[StoredMeasurement]
) -> None:
    """Open a report for ``group``, submit each measurement, close the report."""
    report_id = await client.open_report(report_template(group[0].doc))
    for stored in group:
        content = {**stored.doc, "report_id": report_id}
        content.pop("measurement_uid", None)
        uid = await client.submit(report_id, content)
        run.mark_uploaded(stored.line, report_id, uid)
    await client.close_report(report_id)


async def upload_run(run: RunDirectory, client: CollectorClient) -> UploadTally:
    """Submit every unsent measurement of ``run``; stops at the first failure.

    Stopping early keeps a run from waiting through every retry once the
    collector is known to be down; what was not sent stays unsent.
    """
    pending = run.unsent()
    tally = UploadTally()
    for group in _groups(pending):
        try:
            await _send_group(run, client, group)
        except CollectorError as error:
            tally.errors.append(str(error))
            logger.warning("upload of run %s stopped: %s", run.run_id, error)
            break
    # Counted from the ledger: a group can fail halfway through.
    tally.unsent = len(run.unsent())
    tally.sent = len(pending) - tally.unsent
    return tally
