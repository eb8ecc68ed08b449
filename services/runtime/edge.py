"""The HTTP edge of every service: what reaches a route has been bounded and decoded strictly.

Guarantees, in the order a request meets them:

- `RequestGuard`: a body over `max_body_bytes` is refused with 413 before it is read whole (by
  its Content-Length, or as it streams in). A JSON body (or one without a content type, which
  FastAPI reads as JSON) must be valid UTF-8 and valid JSON nested at most `max_json_depth`
  deep, with no NaN, no Infinity, no number that overflows a double, no NUL and no lone
  surrogate in any string or key; else 422 naming the field (`body` with the line, column and
  position for a syntax error). Nothing that PostgreSQL, jsonb or a broker would refuse gets
  past the edge.
- `ErrorBoundary`: an error no handler mapped answers 500 problem+json and is logged once, here
  (nothing re-raises it to be logged again by the server).
- Request headers over `max_header_bytes` in all answer 431 problem+json: checked by
  `RequestGuard` once they are parsed, and by `ProblemH11Protocol` (uvicorn's HTTP/1.1 protocol)
  while they stream in: h11 refuses a head still incomplete past that size (its limit is set
  only in uvicorn's config, which `serve` gives), and uvicorn would answer a bare 400.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h11
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, title: str, detail: str, **extra: Any) -> bytes:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return json.dumps(body).encode()


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> None:
    """Answer a problem response straight from ASGI (before or outside the FastAPI app)."""
    body = problem_body(status, title, detail, **extra)
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --- strict JSON ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyError(Exception):
    """Why a body was refused (a 422) and where: `field` in dotted form, `body` for all of it,
    and for a syntax error its line, column and position."""

    message: str
    field: str
    type: str
    position: dict[str, int] | None = None

    def extra(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "field": self.field,
            "in": "body",
            "message": self.message,
            "type": self.type,
        }
        return {"errors": [{**error, **(self.position or {})}]}


class _NonFinite:
    """What the decoder puts where a NaN, an Infinity or an overflowing number was written."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_float(literal: str) -> float | _NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)


def _parse_int(literal: str) -> int | _NonFinite:
    # Python's ints are unbounded, so a 10^400 would pass and fail later as a float or bigint.
    return int(literal) if len(literal) <= 40 else _NonFinite(literal)


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "body"


def _bad_string(value: str) -> str | None:
    if "\x00" in value:
        return "NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"lone surrogate at character {error.start}"
    return None


def _walk(document: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, value) of a decoded document, keys included as values; iteratively, so a
    deep document cannot exhaust the stack here."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            for key, item in value.items():
                yield (*path, key), key
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))


def decode_json(body: bytes, *, max_depth: int) -> Any:
    """Decode a request body strictly (see the module docstring); raise `BodyError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(
            f"invalid UTF-8 at byte {error.start}",
            "body",
            "utf8_invalid",
            {"position": error.start},
        ) from None
    try:
        document = json.loads(
            text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_NonFinite
        )
    except json.JSONDecodeError as error:
        where = {"line": error.lineno, "column": error.colno, "position": error.pos}
        raise BodyError(
            f"{error.msg} at line {error.lineno} column {error.colno}",
            "body",
            "json_invalid",
            where,
        ) from None
    except RecursionError:
        raise BodyError(
            f"JSON nested deeper than {max_depth} levels",
            "body",
            "json_too_deep",
        ) from None
    for path, value in _walk(document):
        if len(path) > max_depth:
            raise BodyError(
                f"JSON nested deeper than {max_depth} levels",
                _field(path[:max_depth]),
                "json_too_deep",
            )
        if isinstance(value, _NonFinite):
            raise BodyError(
                f"number {value.literal[:20]} is not a finite double",
                _field(path),
                "finite_number",
            )
        if isinstance(value, str) and (reason := _bad_string(value)) is not None:
            raise BodyError(reason, _field(path), "string_invalid")
    return document


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # FastAPI decodes a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    """Pure ASGI middleware bounding and checking request bodies (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int, max_header_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(name) + len(value) for name, value in scope["headers"]) > self.max_header_bytes:
            await send_problem(
                send,
                431,
                "Request header fields too large",
                f"request headers are limited to {self.max_header_bytes} bytes",
            )
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            try:
                decode_json(body, max_depth=self.max_json_depth)
            except BodyError as error:
                await send_problem(send, 422, "Invalid input", error.message, **error.extra())
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_problem(
            send,
            413,
            "Content too large",
            f"request bodies are limited to {self.max_body_bytes} bytes",
        )


# --- errors no handler mapped -----------------------------------------------------------------


class ErrorBoundary:
    """Pure ASGI middleware: an unmapped error becomes a 500 problem, logged here once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:  # else the response is under way: the connection just ends
                await send_problem(
                    send, 500, "Internal error", "An unexpected error occurred; it has been logged."
                )


# --- oversized headers ------------------------------------------------------------------------


class ProblemH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering h11's own status hint (431 for headers over the limit)
    as a problem instead of a bare 400."""

    _error_status = 400

    def handle_events(self) -> None:
        # h11 raises RemoteProtocolError from next_event with the status it advises; uvicorn
        # drops the hint, so note it before uvicorn's handler answers.
        next_event = self.conn.next_event

        def noting() -> Any:
            try:
                return next_event()
            except h11.RemoteProtocolError as error:
                self._error_status = error.error_status_hint
                raise

        self.conn.next_event = noting  # type: ignore[method-assign]
        try:
            super().handle_events()
        finally:
            vars(self.conn).pop("next_event", None)

    def send_400_response(self, msg: str) -> None:
        status = self._error_status
        title = "Request header fields too large" if status == 431 else "Bad request"
        body = problem_body(status, title, msg)
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers)))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()
