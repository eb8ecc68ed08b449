"""The staleness sweep, a periodic job of the runtime's scheduler (every `staleness_interval_s`).

One replica at a time runs it; a failed sweep is retried by the scheduler and the sweep itself is
safe to run again (one transaction per batch, a notice once per version).
"""

from __future__ import annotations

import logging

import asyncpg

from services.offers import handlers
from services.offers.settings import OffersSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.scheduler import Periodic

log = logging.getLogger(__name__)


async def sweep(pool: asyncpg.Pool, ctx: Context, settings: OffersSettings) -> None:
    """Expire needs, end offers, send going-stale notices: one staleness sweep."""
    done = await handlers.sweep_staleness(pool, ctx, now=clock.now(), notice=settings.stale_notice)
    if done.needs_expired or done.offers_ended or done.offer_notices or done.need_notices:
        log.info("staleness sweep: %s", done)


STALENESS = Periodic("offers.staleness", sweep, every_s=lambda s: s.staleness_interval_s)
