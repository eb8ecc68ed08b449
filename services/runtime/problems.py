"""Mapping errors to RFC 9457 problem responses (application/problem+json).

Domain errors get their status from one table; validation errors are 422 naming each field;
the database or the broker out of reach (connection refused, reset or timed out, a server
starting or shutting down, too many connections, a pool with no free connection in time, a
transaction aborted for a concurrent one after its attempts) is a 503 with `Retry-After`,
logged as a warning without a traceback: the service recovers by itself when they are back.
Every error a route may answer is declared in the OpenAPI document as problem+json
(`PROBLEM_RESPONSES`, `problem_openapi`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from services.runtime.outages import OUT_OF_REACH

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    retry_after_s: int | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class FieldError(BaseModel):
    field: str | None = None
    message: str
    in_: str | None = Field(default=None, alias="in")
    type: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem; `errors` names the fields at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


# Declared on every route of a service (its routers are mounted with them).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in {
        401: "Missing, invalid or expired token",
        403: "Not allowed for this caller",
        404: "No such object, or not one the caller may see",
        409: "Conflicts with the current state",
        413: "Body too large",
        422: "Invalid input; `errors` names the fields",
        429: "Too many requests; see Retry-After",
        503: "Database or broker out of reach; see Retry-After",
    }.items()
}

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


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi`: FastAPI's document with every error response as problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                routes=app.routes,
                description=app.description,
            )
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if (
                            status.isdigit()
                            and int(status) >= 400
                            and "application/json" in content
                        ):
                            content[PROBLEM_JSON] = content.pop("application/json")
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def install_problem_handlers(app: FastAPI, *, retry_after_s: int = 2) -> None:
    """Map domain errors, validation errors, HTTP errors and unavailable dependencies to problem
    responses; errors nothing maps are the `ErrorBoundary`'s (services.runtime.edge)."""

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> JSONResponse:
        extra: dict[str, Any] = (
            {"errors": [{"field": error.field, "message": error.detail}]} if error.field else {}
        )
        status, title = status_of(error)
        return problem(status, title, error.detail, retry_after_s=error.retry_after_s, **extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(item) for item in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Its headers too: a 405 names the allowed methods in `Allow`.
        detail = str(error.detail)
        return problem(error.status_code, detail, detail, headers=dict(error.headers or {}))

    async def on_unavailable(request: Request, error: Exception) -> JSONResponse:
        log.warning(
            "%s %s: dependency out of reach (%s: %s)",
            request.method,
            request.url.path,
            type(error).__name__,
            error,
        )
        return problem(
            503,
            "Service unavailable",
            "The database or the broker is out of reach or busy; try again shortly.",
            headers={"Retry-After": str(retry_after_s)},
        )

    for kind in OUT_OF_REACH:
        app.add_exception_handler(kind, on_unavailable)
