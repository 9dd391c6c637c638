"""Runs kept on disk: one directory per run under ``<home>/results``.

A run directory holds

* ``metadata.json``: what was run, from which network, how it ended, counts;
* ``measurements.jsonl``: the measurements as stored (already scrubbed), in
  the order they finished; line numbers (from 0) identify them;
* ``summaries.jsonl``: ``{"line", "anomaly", "detail"}`` per measurement;
* ``uploads.jsonl``: ``{"line", "report_id", "measurement_uid"}`` per
  measurement a collector accepted.

Every file but the metadata is append-only, so a crash loses at most the
line being written, and a measurement is "unsent" exactly when it has no
upload line.  ``<home>`` is ``$CENSORSCOPE_HOME`` or ``~/.censorscope``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

logger = logging.getLogger(__name__)

METADATA: Final = "metadata.json"
MEASUREMENTS: Final = "measurements.jsonl"
SUMMARIES: Final = "summaries.jsonl"
UPLOADS: Final = "uploads.jsonl"


class ResultsError(LookupError):
    """A run that does not exist or cannot be read."""


def default_home() -> Path:
    """``$CENSORSCOPE_HOME``, else ``~/.censorscope``."""
    override = os.environ.get("CENSORSCOPE_HOME")
    return Path(override) if override else Path.home() / ".censorscope"


def new_run_id(target: str, when: datetime | None = None) -> str:
    """A sortable, unique run id: ``20240101T120000Z-websites-1a2b3c``."""
    when = when or datetime.now(UTC)
    name = target.rsplit(":", 1)[-1]  # module:Class targets are named by class
    safe = "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:40]
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}-{safe}-{secrets.token_hex(3)}"


def _append_json(path: Path, value: Any) -> None:
    with path.open("ab") as stream:
        stream.write(orjson.dumps(value) + b"\n")


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)``; a torn last line (crash) is logged and skipped."""
    if not path.is_file():
        return
    with path.open("rb") as stream:
        for number, raw in enumerate(stream):
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError:
                logger.warning("%s:%d: unreadable line skipped", path, number + 1)


@dataclass(frozen=True)
class StoredMeasurement:
    """One stored measurement with its summary and upload state."""

    line: int
    doc: dict[str, Any]
    anomaly: bool | None
    detail: dict[str, Any]
    upload: dict[str, Any] | None


class RunDirectory:
    """Reads and writes one run's files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: int | None = None  # counted on first append

    @property
    def run_id(self) -> str:
        return self.path.name

    def read_metadata(self) -> dict[str, Any]:
        try:
            value = orjson.loads((self.path / METADATA).read_bytes())
        except (OSError, orjson.JSONDecodeError) as error:
            raise ResultsError(
                f"run {self.run_id}: unreadable metadata: {error}"
            ) from error
        return value if isinstance(value, dict) else {}

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the metadata atomically."""
        partial = self.path / (METADATA + ".part")
        partial.write_bytes(orjson.dumps(metadata, option=orjson.OPT_INDENT_2))
        os.replace(partial, self.path / METADATA)

    def append(self, doc: dict[str, Any], anomaly: bool, detail: dict[str, Any]) -> int:
        """Store a measurement and its summary; return its line number."""
        if self._lines is None:
            self._lines = sum(1 for _ in _read_jsonl(self.path / MEASUREMENTS))
        line = self._lines
        _append_json(self.path / MEASUREMENTS, doc)
        _append_json(
            self.path / SUMMARIES, {"line": line, "anomaly": anomaly, "detail": detail}
        )
        self._lines += 1
        return line

    def mark_uploaded(
        self, line: int, report_id: str, measurement_uid: str | None
    ) -> None:
        record = {
            "line": line,
            "report_id": report_id,
            "measurement_uid": measurement_uid,
        }
        _append_json(self.path / UPLOADS, record)

    def uploads(self) -> dict[int, dict[str, Any]]:
        return {v["line"]: v for _, v in _read_jsonl(self.path / UPLOADS)}

    def measurements(self) -> Iterator[StoredMeasurement]:
        """Every stored measurement, in line order."""
        summaries = {v["line"]: v for _, v in _read_jsonl(self.path / SUMMARIES)}
        uploads = self.uploads()
        for line, doc in _read_jsonl(self.path / MEASUREMENTS):
            summary = summaries.get(line, {})
            yield StoredMeasurement(
                line=line,
                doc=doc,
                anomaly=summary.get("anomaly"),
                detail=summary.get("detail") or {},
                upload=uploads.get(line),
            )

    def unsent(self) -> list[StoredMeasurement]:
        return [m for m in self.measurements() if m.upload is None]


class ResultsStore:
    """All runs under ``<home>/results``."""

    def __init__(self, home: Path) -> None:
        self.root = home / "results"

    def create_run(self, target: str) -> RunDirectory:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / new_run_id(target)
        path.mkdir()
        return RunDirectory(path)

    def runs(self) -> list[RunDirectory]:
        """Every run, oldest first."""
        if not self.root.is_dir():
            return []
        paths = sorted(p for p in self.root.iterdir() if (p / METADATA).is_file())
        return [RunDirectory(p) for p in paths]

    def find(self, run_id: str) -> RunDirectory:
        """The run whose id is ``run_id`` or starts with it (if unambiguous)."""
        matches = [r for r in self.runs() if r.run_id.startswith(run_id)]
        exact = [r for r in matches if r.run_id == run_id]
        if exact or len(matches) == 1:
            return (exact or matches)[0]
        if not matches:
            raise ResultsError(f"no run {run_id!r} in {self.root}")
        raise ResultsError(
            f"{run_id!r} matches {len(matches)} runs; give more of the id"
        )
