"""Identifiers in OONI's formats: ``report_id`` and ``measurement_uid``.

* report id (collector, current):
  ``<YYYYmmddTHHMMSSZ>_<testname>_<CC>_<asn>_n<collector>_<16 chars>``
* report id (2016-2020 collectors): ``<YYYYmmddTHHMMSSZ>_AS<asn>_<50 chars>``
* measurement uid (current):
  ``<YYYYmmddHHMMSS.ffffff>_<CC>_<testname>_<16 hex of sha512(body)>``
  (``body`` is whatever bytes the caller hashes: OONI hashes the POST body,
  our collector the measurement's canonical content)
* measurement uid (legacy "trivial id" for data read from old cans):
  ``01`` + ``YYYYMMDD`` + 30 hex of ``shake_128(raw line)``
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from datetime import UTC, datetime
from typing import Final

REPORT_ID_RE: Final = re.compile(
    r"^\d{8}T\d{6}Z_[a-z0-9]+_[A-Z]{2}_\d+_n\d+_[A-Za-z0-9]{16}$"
)
LEGACY_REPORT_ID_RE: Final = re.compile(r"^\d{8}T\d{6}Z_AS\d+_[A-Za-z0-9]{50}$")
MEASUREMENT_UID_RE: Final = re.compile(
    r"^\d{14}\.\d{6}_[A-Z]{2}_[a-z0-9]+_[0-9a-f]{16}$"
)
TRIVIAL_UID_RE: Final = re.compile(r"^01\d{8}[0-9a-f]{30}$")
_ALNUM: Final = string.ascii_letters + string.digits


def compact_test_name(test_name: str) -> str:
    """``web_connectivity`` -> ``webconnectivity`` as used inside ids."""
    return test_name.replace("_", "").lower()


def asn_number(probe_asn: str | int | None) -> int:
    """``"AS30985"`` -> 30985; unknown or malformed -> 0."""
    if isinstance(probe_asn, int):
        return probe_asn
    if not probe_asn or not probe_asn.upper().startswith("AS"):
        return 0
    digits = probe_asn[2:]
    return int(digits) if digits.isdigit() else 0


def new_report_id(
    test_name: str,
    probe_cc: str,
    probe_asn: str | int,
    *,
    when: datetime | None = None,
    collector_id: int = 1,
) -> str:
    """A fresh report id in the current collector format."""
    when = when or datetime.now(UTC)
    tail = base64.b64encode(secrets.token_bytes(12)).decode("ascii")
    tail = tail.replace("+", "o").replace("/", "o")
    return "_".join(
        (
            when.strftime("%Y%m%dT%H%M%SZ"),
            compact_test_name(test_name),
            probe_cc.upper(),
            str(asn_number(probe_asn)),
            f"n{collector_id}",
            tail,
        )
    )


def new_legacy_report_id(probe_asn: str | int, *, when: datetime | None = None) -> str:
    """A report id as 2016-2020 collectors issued them."""
    when = when or datetime.now(UTC)
    tail = "".join(secrets.choice(_ALNUM) for _ in range(50))
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}_AS{asn_number(probe_asn)}_{tail}"


def report_id_test_name(report_id: str) -> str | None:
    """The compact test name a current-format report id carries, if any."""
    parts = report_id.split("_")
    return parts[1] if len(parts) == 6 else None


def new_measurement_uid(
    body: bytes, probe_cc: str, test_name: str, *, received: datetime | None = None
) -> str:
    """The uid a collector gives a measurement body it received."""
    received = received or datetime.now(UTC)
    digest = hashlib.sha512(body).hexdigest()[:16]
    stamp = received.strftime("%Y%m%d%H%M%S.%f")
    return f"{stamp}_{probe_cc.upper()}_{compact_test_name(test_name)}_{digest}"


def trivial_uid(raw: bytes, measurement_start_time: str | None) -> str:
    """The deterministic uid OONI's readers give a legacy measurement line."""
    day = "00000000"
    if measurement_start_time and len(measurement_start_time) >= 10:
        candidate = measurement_start_time[:10].replace("-", "")
        if candidate.isdigit() and len(candidate) == 8:
            day = candidate
    return "01" + day + hashlib.shake_128(raw).hexdigest(15)
