"""The periodic expiry of proposals past their time-to-live, a background task of the service."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.matching import handlers
from services.matching.readmodel import ReadModel
from services.runtime import clock
from services.runtime.context import Context

log = logging.getLogger(__name__)


async def run_expiry(pool: asyncpg.Pool, model: ReadModel, ctx: Context, interval_s: float) -> None:
    """Expire lapsed proposals every `interval_s`; a failed round is logged and tried again."""
    while True:
        try:
            expired = await handlers.expire_lapsed(pool, model, ctx, now=clock.now())
            if expired:
                log.info("expired %d proposals", expired)
        except Exception:
            log.exception("expiry round failed; retrying at the next interval")
        await asyncio.sleep(interval_s)
