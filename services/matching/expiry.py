"""The periodic expiry of proposals past their time-to-live, a background task of the service."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg

from services.matching import handlers
from services.matching.readmodel import ReadModel

log = logging.getLogger(__name__)


async def run_expiry(pool: asyncpg.Pool, model: ReadModel, interval_s: float) -> None:
    """Expire lapsed proposals every `interval_s`; a failed round is logged and tried again."""
    while True:
        try:
            expired = await handlers.expire_lapsed(pool, model, now=datetime.now(UTC))
            if expired:
                log.info("expired %d proposals", expired)
        except Exception:
            log.exception("expiry round failed; retrying at the next interval")
        await asyncio.sleep(interval_s)
