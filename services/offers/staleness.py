"""The periodic staleness sweep, run as a background task of the service."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from fastapi import FastAPI

from services.offers import handlers
from services.offers.settings import OffersSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.service import Runtime

log = logging.getLogger(__name__)


async def run_staleness(pool: asyncpg.Pool, settings: OffersSettings) -> None:
    """Sweep every `staleness_interval_s`; a failed sweep is logged and retried next time."""
    while True:
        try:
            done = await handlers.sweep_staleness(
                pool, Context(settings.source), now=clock.now(), notice=settings.stale_notice
            )
            if done.needs_expired or done.offers_ended or done.offer_notices or done.need_notices:
                log.info("staleness sweep: %s", done)
        except Exception:
            log.exception("staleness sweep failed; retrying at the next interval")
        await asyncio.sleep(settings.staleness_interval_s)


async def start_staleness(app: FastAPI, runtime: Runtime) -> None:
    """on_start hook: the sweep runs with the other background parts, and stops with them."""
    settings = runtime.settings
    if not isinstance(settings, OffersSettings):
        raise TypeError("the offers service runs with OffersSettings")
    if settings.run_background:
        task = asyncio.create_task(run_staleness(runtime.pool, settings), name="offers-staleness")
        runtime.tasks.append(task)
