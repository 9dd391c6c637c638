"""Every error the collector answers, in one JSON shape: ``{"error", "detail"}``.

``error`` is a stable machine-readable code (e.g. ``unknown_report_id``);
``detail`` says in words what was wrong and, when a field is at fault,
names it.  Handlers here render :class:`CollectorError` and the framework's
own errors (unknown path, wrong method, unreadable request) the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class CollectorError(Exception):
    """A request the collector refuses: HTTP status, error code, detail."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field
        self.headers = headers


def bad_request(error: str, detail: str, field: str | None = None) -> CollectorError:
    """A 400 answer (the most common refusal)."""
    return CollectorError(400, error, detail, field=field)


def error_body(error: str, detail: Any, field: str | None = None) -> dict[str, Any]:
    """The JSON body of every error answer."""
    body: dict[str, Any] = {"error": error, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


async def _collector_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, CollectorError):
        raise exc
    return JSONResponse(
        error_body(exc.error, exc.detail, exc.field), exc.status, headers=exc.headers
    )


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        error_body(code, exc.detail), exc.status_code, headers=exc.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    return JSONResponse(error_body("invalid_request", str(exc.errors())), 400)


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback and re-raises after this answer is sent.
    detail = f"the collector failed ({type(exc).__name__}); retry later"
    return JSONResponse(error_body("internal_error", detail), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Render every refusal of ``app`` as ``{"error", "detail"}``."""
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(CollectorError, _collector_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
