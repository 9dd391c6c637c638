"""Turning a test's result into a complete OONI measurement.

The skeleton comes from :func:`censorscope.measurement.model.new_measurement`;
this module fills in the network identity, report id, annotations, test
helpers, runtime and extensions, then scrubs the probe's IP from the whole
document.  Times come from a :class:`Clock`, which lab campaigns can start at
a simulated date.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from censorscope.measurement.model import new_measurement
from censorscope.nettests.base import NetTest, TestResult
from censorscope.probe.geolocation import ProbeLocation
from censorscope.probe.scrub import Scrubber

ENGINE_NAME: Final = "censorscope"
_ARCHITECTURES: Final = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "armv6l": "arm",
}
_PLATFORMS: Final = {"linux": "linux", "darwin": "macos", "win32": "windows"}


class Clock:
    """Measurement time: the real UTC clock, or a simulated one.

    A simulated clock starts at ``base`` and advances with real elapsed time,
    so measurement times keep their real spacing (lab campaigns).
    """

    def __init__(self, base: datetime | None = None) -> None:
        self.simulated = base is not None
        self._base = base.astimezone(UTC) if base is not None else None
        self._started = time.monotonic()

    def now(self) -> datetime:
        if self._base is None:
            return datetime.now(UTC)
        return self._base + timedelta(seconds=time.monotonic() - self._started)


def engine_annotations(software_version: str, simulated_clock: bool) -> dict[str, str]:
    """The annotations every censorscope measurement carries (OONI's set)."""
    machine = platform.machine().lower()
    annotations = {
        "engine_name": ENGINE_NAME,
        "engine_version": software_version,
        "platform": _PLATFORMS.get(sys.platform, sys.platform),
        "architecture": _ARCHITECTURES.get(machine, machine),
        "python_version": platform.python_version(),
    }
    if simulated_clock:
        # Data made with --time must say so: its dates are not real.
        annotations["simulated_clock"] = "true"
    return annotations


@dataclass
class Assembler:
    """What every measurement of one run shares."""

    location: ProbeLocation
    test_start_time: datetime
    software_name: str = ENGINE_NAME
    software_version: str = "0.1.0"
    annotations: Mapping[str, str] = field(default_factory=dict)
    scrubber: Scrubber = field(init=False)

    def __post_init__(self) -> None:
        self.scrubber = Scrubber([self.location.probe_ip])

    def assemble(
        self,
        test: NetTest,
        input: str | None,
        result: TestResult,
        *,
        report_id: str,
        measurement_start_time: datetime,
        runtime: float,
    ) -> dict[str, Any]:
        """The scrubbed measurement of ``input`` by ``test``."""
        doc = new_measurement(
            test_name=test.name,
            test_version=test.version,
            input=input,
            test_start_time=self.test_start_time,
            measurement_start_time=measurement_start_time,
            software_name=self.software_name,
            software_version=self.software_version,
            annotations=self.annotations,
        )
        doc.update(self.location.base_keys())
        doc.update(
            report_id=report_id,
            test_helpers=result.test_helpers,
            test_keys=result.test_keys,
            test_runtime=round(runtime, 6),
            extensions=result.extensions,
        )
        return self.scrub(doc)

    def scrub(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` without the probe's IP; ``probe_ip`` is always 127.0.0.1."""
        scrubbed: dict[str, Any] = self.scrubber.scrub(doc)
        scrubbed["probe_ip"] = "127.0.0.1"
        return scrubbed
