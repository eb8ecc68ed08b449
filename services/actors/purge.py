"""The sign-in purge, a periodic job of the runtime's scheduler (every `purge_interval_s`):
expired links, spent refresh tokens and sessions ended `SESSIONS_KEPT` ago are deleted.

Safe to run again at any point (plain deletes of what is past use); one replica at a time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from services.actors import people_store
from services.actors.settings import ActorsSettings
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.scheduler import Periodic

log = logging.getLogger(__name__)

# Ended sessions stay this long, for the person's export and for questions about them.
SESSIONS_KEPT = timedelta(days=90)


async def purge(pool: asyncpg.Pool, ctx: Context, settings: ActorsSettings) -> None:
    now = clock.now()
    async with pool.acquire() as conn:
        done = await people_store.purge(conn, now, sessions_ended_before=now - SESSIONS_KEPT)
    if done.links or done.refresh_tokens or done.sessions:
        log.info("sign-in purge: %s", done)


SIGN_IN_PURGE = Periodic("actors.sign-in-purge", purge, every_s=lambda s: s.purge_interval_s)
