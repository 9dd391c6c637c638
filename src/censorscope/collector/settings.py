"""How a collector is configured (``censorscope serve`` options map onto it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from censorscope.archive.archive import DEFAULT_MAX_FILE_BYTES
from censorscope.collector.sink import MeasurementSink

# OONI measurements are rarely above a few MB; a generous ceiling still stops
# a client from filling memory.
DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class CollectorSettings:
    """Collector configuration.

    ``archive_dir`` holds the raw archive, its index, the issued report ids
    and the sink backlog.  ``sink`` (given directly) wins over the live
    scoring sink made from ``warehouse``; with neither, measurements are only
    stored.  ``collector_id`` appears in report ids (``n<id>``) and archive
    file names, so several collectors can share one bucket layout.
    """

    archive_dir: Path
    warehouse: Path | None = None
    sink: MeasurementSink | None = None
    collector_id: int = 1
    compression: str = "zst"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_batch: int = 256
    max_pending: int = 10_000
    sink_queue_size: int = 10_000
