"""One webhook attempt: the CloudEvent signed as Standard Webhooks says, POSTed through the SSRF
guard, within a total timeout, the answer read up to a small cap.

Signatures come from the `standardwebhooks` package: `webhook-id` is the event id (the same on
every attempt, the receiver's dedupe key), `webhook-timestamp` the attempt's own UTC time, and
`webhook-signature` one `v1,` signature per secret in force (two during a rotation's grace).
Redirects are not followed: a 3xx is an answer like any non-2xx, and fails the attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from ssrfguard import Policy, SSRFGuardError
from ssrfguard.httpx import AsyncClient
from standardwebhooks import Webhook

from contracts.envelope import CONTENT_TYPE
from services.runtime import clock

USER_AGENT = "MCVT-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: an HTTP status, or an error before any answer."""

    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(
    message_id: str, body: str, secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with every secret given."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in secrets
        ),
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
    }


def webhook_client(policy: Policy, *, concurrency: int, timeout_s: float) -> httpx.AsyncClient:
    """The guarded client every delivery goes through: pinned to validated addresses, no
    redirects, no proxy from the environment, a pool as large as the delivery concurrency."""
    return AsyncClient(
        policy=policy,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    message_id: str,
    body: str,
    secrets: Sequence[str],
    *,
    timeout_s: float,
    excerpt_bytes: int,
) -> Outcome:
    """POST the body; never raises for what the endpoint or the network does."""
    started_at = clock.now()
    began = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - began) * 1000)

    try:
        async with asyncio.timeout(timeout_s):  # total: resolution, connection, answer, body
            headers = signed_headers(message_id, body, secrets, clock.now())
            async with client.stream(
                "POST", url, content=body.encode(), headers=headers
            ) as response:
                excerpt = await _read_capped(response, excerpt_bytes)
    except TimeoutError:
        return Outcome(started_at, elapsed_ms(), error=f"no answer within {timeout_s:g} s")
    except SSRFGuardError as refused:
        return Outcome(started_at, elapsed_ms(), error=f"target refused: {refused}")
    except httpx.HTTPError as failed:
        return Outcome(started_at, elapsed_ms(), error=f"{type(failed).__name__}: {failed}")
    return Outcome(
        started_at,
        elapsed_ms(),
        status_code=response.status_code,
        response=excerpt,
        retry_after=response.headers.get("retry-after"),
    )


async def _read_capped(response: httpx.Response, cap: int) -> str:
    """At most `cap` bytes of the answer's body; the rest is not read."""
    chunks: list[bytes] = []
    size = 0
    if cap > 0:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk[: cap - size])
            size += len(chunks[-1])
            if size >= cap:
                break
    return b"".join(chunks).decode("utf-8", errors="replace")
