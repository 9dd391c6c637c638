"""Object names in the archive, as in OONI's public bucket (``raw/`` era).

``raw/<YYYYMMDD>/<HH>/<CC>/<testname>/<YYYYMMDDHH>_<CC>_<testname>.n<collector>.<counter>.jsonl.<zst|gz>``

The hour is the *upload* (receive) hour, not the measurement time; the test
name is the compact form without underscores; the counter numbers the files
of one hour, country, test and collector (a new one when a file is full or a
collector restarts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from censorscope.measurement.ids import compact_test_name

RAW_PREFIX: Final = "raw/"
_KEY_RE: Final = re.compile(
    r"^raw/(?P<day>\d{8})/(?P<hh>\d{2})/(?P<cc>[A-Z]{2})/(?P<test>[a-z0-9]+)/"
    r"(?P=day)(?P=hh)_(?P=cc)_(?P=test)\.n(?P<collector>\d+)\.(?P<counter>\d+)"
    r"\.jsonl\.(?P<suffix>zst|gz)$"
)
_CC_RE: Final = re.compile(r"^[A-Z]{2}$")
_UNKNOWN_CC: Final = "ZZ"


def path_country(probe_cc: str | None) -> str:
    """The country as it appears in a path; anything odd files under ZZ."""
    candidate = (probe_cc or "").upper()
    return candidate if _CC_RE.match(candidate) else _UNKNOWN_CC


def path_test_name(test_name: str | None) -> str:
    """The compact test name for paths; characters outside [a-z0-9] dropped."""
    compact = compact_test_name(test_name or "")
    cleaned = "".join(c for c in compact if c.isascii() and c.isalnum())
    return cleaned or "unknown"


@dataclass(frozen=True)
class SegmentName:
    """The parts of one archive file name."""

    hour: datetime
    probe_cc: str
    test_name: str
    collector_id: int
    counter: int
    suffix: str

    @property
    def directory(self) -> str:
        """The key prefix of every segment sharing this hour, country and test."""
        day, hh = self.hour.strftime("%Y%m%d"), self.hour.strftime("%H")
        return f"{RAW_PREFIX}{day}/{hh}/{self.probe_cc}/{self.test_name}/"

    @property
    def key(self) -> str:
        stamp = self.hour.strftime("%Y%m%d%H")
        name = (
            f"{stamp}_{self.probe_cc}_{self.test_name}"
            f".n{self.collector_id}.{self.counter}.jsonl.{self.suffix}"
        )
        return self.directory + name

    @classmethod
    def parse(cls, key: str) -> SegmentName | None:
        """The name parts of ``key``, or None if it is not an archive segment."""
        match = _KEY_RE.match(key)
        if match is None:
            return None
        hour = datetime.strptime(match["day"] + match["hh"], "%Y%m%d%H")
        return cls(
            hour=hour.replace(tzinfo=UTC),
            probe_cc=match["cc"],
            test_name=match["test"],
            collector_id=int(match["collector"]),
            counter=int(match["counter"]),
            suffix=match["suffix"],
        )


def upload_hour(received: datetime) -> datetime:
    """The UTC hour a receive time is filed under."""
    return received.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def listing_prefix(
    day: str | None = None, hour: int | None = None, probe_cc: str | None = None
) -> str:
    """The key prefix selecting a day (``YYYYMMDD``), hour and country.

    Later parts are only used when the earlier ones are given, because keys
    nest in that order.
    """
    prefix = RAW_PREFIX
    if day is None:
        return prefix
    prefix += f"{day}/"
    if hour is None:
        return prefix
    prefix += f"{hour:02d}/"
    return prefix if probe_cc is None else prefix + f"{probe_cc.upper()}/"
