"""Typed domain errors, free of I/O and of HTTP.

Domain modules and handlers raise them; the HTTP edge (`problems`) maps each to a status once,
and the consumer maps them to its retry policy:

- `DomainError` and its subclasses: a rule said no. On the event path the event itself is wrong
  for this service, so trying again cannot help: it is dead-lettered at once.
- `NotYet`: the event refers to something this service has not heard of yet (events of different
  aggregates arrive in any order). It is retried later, with growing pauses, for a bounded time.
- Anything else is a fault ("broken"): retried a bounded number of times, then dead-lettered.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain said no; `field` names the input at fault when there is one."""

    retry_after_s: int | None = None  # set when asking again later can succeed

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    """The input breaks a rule of the domain."""


class NotFound(DomainError):
    """No such object, or not one the caller may see."""


class Unauthorized(DomainError):
    """The caller is not authenticated."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class Conflict(DomainError):
    """The request contradicts the current state (a version, a booking, a status)."""


class NotYet(Exception):
    """An event needs something this service has not heard of yet: try it again later."""
