"""Mapping errors to RFC 9457 problem responses (application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, retry_after_s: int | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Each domain error's status and title, in one place; a DomainError not listed is a 400.
_STATUS: dict[type[DomainError], tuple[int, str]] = {
    InvalidInput: (422, "Invalid input"),
    NotFound: (404, "Not found"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
}


def status_of(error: DomainError) -> tuple[int, str]:
    """The HTTP status and title of a domain error (the nearest listed class wins)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400, "Bad request"


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field_error(item: dict[str, Any]) -> dict[str, Any]:
    """`{"field": "location.lat", "in": "body", ...}`: the same field names as domain errors."""
    loc = tuple(item["loc"])
    where = loc[0] if loc and loc[0] in _LOCATIONS else None
    path = loc[1:] if where else loc
    error = {"field": ".".join(str(part) for part in path) or where, "message": item["msg"]}
    return (
        {**error, "in": where, "type": item["type"]} if where else {**error, "type": item["type"]}
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to problem responses."""

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> JSONResponse:
        extra = {"errors": [{"field": error.field, "message": error.detail}]} if error.field else {}
        status, title = status_of(error)
        return problem(status, title, error.detail, retry_after_s=error.retry_after_s, **extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(item) for item in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), str(error.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "An unexpected error occurred; it has been logged.")
