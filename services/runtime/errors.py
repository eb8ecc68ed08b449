"""Typed domain errors. Free of I/O: domain modules raise them, `problems` maps them to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain said no. Subclasses fix the HTTP status and title."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
