"""Rate limits for every route: per token and per address, stricter where keys are guessed.

Every route under /v1 is limited by `rate_limit` (a dependency the service factory puts on each
router): `rate_limit_per_token` per bearer token presented (counted by its digest, whether or not
it is valid, so forged tokens are counted too) and `rate_limit_per_address` per client address.
`sensitive_rate_limit` adds `rate_limit_sensitive` per address on logging in and registering.
A request over a limit answers 429 problem+json with `Retry-After` (seconds until a slot frees).

Counters live in the `limits` library's async storage named by `rate_limit_storage_uri`: memory
(per replica, the default) or a shared store such as Redis. A moving window: a burst at the edge
of two windows cannot pass twice the rate.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from services.runtime.problems import problem
from services.runtime.settings import ServiceSettings


class RateLimited(Exception):
    """A limit was reached; a slot frees in `retry_after_s` seconds."""

    def __init__(self, scope: str, retry_after_s: int) -> None:
        super().__init__(f"too many requests {scope}")
        self.scope = scope
        self.retry_after_s = retry_after_s


@dataclass
class RateLimits:
    """The limiter of one service and its three rates."""

    limiter: MovingWindowRateLimiter
    per_token: RateLimitItem
    per_address: RateLimitItem
    sensitive: RateLimitItem

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RateLimits:
        uri = settings.rate_limit_storage_uri
        storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        return cls(
            MovingWindowRateLimiter(storage),
            parse(settings.rate_limit_per_token),
            parse(settings.rate_limit_per_address),
            parse(settings.rate_limit_sensitive),
        )

    async def hit(self, item: RateLimitItem, scope: str, *identifiers: str) -> None:
        """Count one request; raise `RateLimited` when over the limit."""
        if await self.limiter.hit(item, scope, *identifiers):
            return
        stats = await self.limiter.get_window_stats(item, scope, *identifiers)
        raise RateLimited(scope, max(1, math.ceil(stats.reset_time - time.time())))


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def rate_limit(request: Request) -> None:
    """Every route: per token presented and per client address."""
    limits = _limits(request)
    authorization = request.headers.get("authorization")
    if authorization:
        digest = hashlib.sha256(authorization.encode()).hexdigest()[:32]
        await limits.hit(limits.per_token, "per token", digest)
    await limits.hit(limits.per_address, "per address", _address(request))


async def sensitive_rate_limit(request: Request) -> None:
    """Logging in and registering: the stricter rate per client address."""
    limits = _limits(request)
    await limits.hit(
        limits.sensitive, "on this route per address", request.url.path, _address(request)
    )


def install_rate_limits(app: FastAPI, settings: ServiceSettings) -> None:
    """Give the app its limiter and answer `RateLimited` with 429."""
    app.state.rate_limits = RateLimits.from_settings(settings)

    @app.exception_handler(RateLimited)
    async def on_rate_limited(request: Request, error: RateLimited) -> JSONResponse:
        return problem(
            429,
            "Too many requests",
            f"{error}; try again in {error.retry_after_s} s",
            headers={"Retry-After": str(error.retry_after_s)},
        )
