"""The client side of the OONI collector protocol (bk-003).

``POST /report`` opens a report and returns its ``report_id``;
``POST /report/{id}`` with ``{"format": "json", "content": <measurement>}``
submits one measurement and returns its ``measurement_uid``;
``POST /report/{id}/close`` closes the report.  Transport errors, 5xx and 429
answers are retried with exponential backoff; other 4xx answers are final.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from censorscope.measurement.model import DATA_FORMAT_VERSION

logger = logging.getLogger(__name__)

_TEMPLATE_KEYS: Final = (
    "probe_asn",
    "probe_cc",
    "software_name",
    "software_version",
    "test_name",
    "test_version",
    "test_start_time",
)
_TOO_MANY_REQUESTS: Final = 429


class CollectorError(RuntimeError):
    """The collector could not be reached or refused a request."""

    def __init__(self, operation: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{operation}: {reason}")
        self.operation = operation
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failed request."""

    attempts: int = 3
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Delay after failed ``attempt`` (0-based), with ±25% jitter."""
        base = min(self.first_delay * self.factor**attempt, self.max_delay)
        return base * random.uniform(0.75, 1.25)


def report_template(measurement: Mapping[str, Any]) -> dict[str, Any]:
    """The ``POST /report`` body for measurements like ``measurement``.

    Measurements that share a template can share a report.
    """
    template = {key: measurement.get(key) for key in _TEMPLATE_KEYS}
    template.update(data_format_version=DATA_FORMAT_VERSION, format="json")
    return template


def template_key(measurement: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable key grouping measurements that share a report."""
    return tuple(measurement.get(key) for key in _TEMPLATE_KEYS)


# Shortcoming: bodies are sent uncompressed and only the bk-003 report API is
# spoken (not OONI's 2025 submit_measurement API with anonymous credentials).
class CollectorClient:
    """Talks to one collector; use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._client = httpx.AsyncClient(
            timeout=timeout, verify=ca_bundle or True, trust_env=False
        )

    async def __aenter__(self) -> CollectorClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def open_report(self, template: Mapping[str, Any]) -> str:
        """Open a report; return the id the collector assigned."""
        reply = await self._post("open report", "/report", dict(template))
        report_id = reply.get("report_id")
        formats = reply.get("supported_formats", ["json"])
        if not isinstance(report_id, str) or not report_id:
            raise CollectorError("open report", "reply has no report_id")
        if "json" not in formats:
            raise CollectorError("open report", "collector does not accept json")
        return report_id

    async def submit(
        self, report_id: str, measurement: Mapping[str, Any]
    ) -> str | None:
        """Submit one measurement (its report_id must be ``report_id``).

        Returns the measurement uid, or None when the collector gave none (OONI's
        backend accepts AS0/ZZ measurements silently without one).
        """
        body = {"format": "json", "content": measurement}
        reply = await self._post("submit", f"/report/{report_id}", body)
        uid = reply.get("measurement_uid") or reply.get("measurement_id")
        return uid if isinstance(uid, str) else None

    async def close_report(self, report_id: str) -> None:
        await self._post("close report", f"/report/{report_id}/close", {})

    async def _post(
        self, operation: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """POST JSON, retrying transient failures; the reply as a dict."""
        payload = orjson.dumps(body)
        for attempt in range(self.retry.attempts):
            try:
                return await self._post_once(operation, path, payload)
            except CollectorError as error:
                final = attempt + 1 == self.retry.attempts
                if not _is_transient(error) or final:
                    raise
                delay = self.retry.delay(attempt)
                logger.info(
                    "%s failed (%s), retrying in %.1f s", operation, error.reason, delay
                )
                await asyncio.sleep(delay)
        raise CollectorError(operation, "no attempts configured")

    async def _post_once(
        self, operation: str, path: str, payload: bytes
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        try:
            response = await self._client.post(
                self.base_url + path, content=payload, headers=headers
            )
        except httpx.HTTPError as error:
            raise CollectorError(
                operation, f"{type(error).__name__}: {error}"
            ) from error
        if not response.is_success:
            raise CollectorError(operation, _error_text(response), response.status_code)
        try:
            reply = orjson.loads(response.content or b"{}")
        except orjson.JSONDecodeError as error:
            raise CollectorError(operation, f"reply is not JSON: {error}") from error
        return reply if isinstance(reply, dict) else {}


def _is_transient(error: CollectorError) -> bool:
    """Network trouble, server errors and rate limits deserve another try."""
    status = error.status
    return status is None or status >= 500 or status == _TOO_MANY_REQUESTS


def _error_text(response: httpx.Response) -> str:
    try:
        reply = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        reply = None
    detail = reply.get("error") if isinstance(reply, dict) else None
    return f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
