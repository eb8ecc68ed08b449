"""The delivery worker: claims due deliveries, POSTs them, records what came of each.

Guarantees and failure cases:
- The queue is the `deliveries` table: one row per (subscription, event), so an event reaches a
  subscription once however often it is consumed. A worker claims due rows with FOR UPDATE SKIP
  LOCKED in a short transaction that sets a lease, commits, then makes the HTTP call holding no
  lock; the outcome is written in a second short transaction, only if the lease is still its own.
- A worker that dies mid-call leaves its claims leased: they are claimed again when the lease
  (the total timeout plus a margin) runs out, and sent again with the same `webhook-id`, which is
  the receiver's dedupe key. A worker that is stopped gives its claims back at once.
- One slow or dead endpoint never delays the others: at most `endpoint_concurrency` deliveries
  of one subscription are in flight across all replicas (the claim counts the running leases),
  and at most `delivery_concurrency` in this replica; a claim is made whenever a slot frees.
- Failures are retried on the schedule of `domain.retries` (Retry-After honoured); 410 Gone
  disables the subscription at once; a subscription failing for longer than `disable_after_s` is
  disabled, with an event on `mcvt.notifications` and a notice in its owner's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from contracts.notifications import DisabledReason, SubscriptionDisabledV1
from services.notifications import mailing, sender, store
from services.notifications.domain.retries import next_delay_s, retry_after_s
from services.notifications.domain.subscriptions import Notification
from services.notifications.settings import NotificationsSettings
from services.runtime import clock, outbox
from services.runtime.context import Context
from services.runtime.db import Connection, in_transaction
from services.runtime.waits import until_set

log = logging.getLogger(__name__)


class Dispatcher:
    """Runs deliveries until cancelled (see the module docstring)."""

    def __init__(
        self, pool: asyncpg.Pool, settings: NotificationsSettings, client: httpx.AsyncClient
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._client = client
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.attempts = 0

    @property
    def lease_s(self) -> float:
        return self._settings.delivery_timeout_s + self._settings.delivery_lease_margin_s

    async def run(self) -> None:
        try:
            while True:
                try:
                    async with self._pool.acquire() as conn:
                        await conn.add_listener(store.DELIVERIES_CHANNEL, self._on_notify)
                        try:
                            await self._serve()
                        finally:
                            with contextlib.suppress(Exception):
                                await conn.remove_listener(
                                    store.DELIVERIES_CHANNEL, self._on_notify
                                )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery worker failed; retrying")
                    await asyncio.sleep(self._settings.delivery_poll_interval_s)
        finally:
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _serve(self) -> None:
        while True:
            self._wake.clear()
            free = self._settings.delivery_concurrency - len(self._running)
            claimed: list[asyncpg.Record] = []
            if free > 0:
                async with self._pool.acquire() as conn:
                    claimed = await store.claim(
                        conn, free, self._settings.endpoint_concurrency, self.lease_s
                    )
                for row in claimed:
                    task = asyncio.create_task(self._deliver(row))
                    self._running.add(task)
                    task.add_done_callback(self._finished)
            if claimed and len(claimed) == free:
                continue  # more may be due: claim again as soon as a slot frees
            await until_set(self._wake, self._settings.delivery_poll_interval_s)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery failed to record", exc_info=task.exception())

    async def _deliver(self, row: asyncpg.Record) -> None:
        secrets = [row["secret"], *([row["previous_secret"]] if row["previous_secret"] else [])]
        try:
            outcome = await sender.post(
                self._client,
                row["url"],
                row["event_id"],
                row["body"],
                secrets,
                timeout_s=self._settings.delivery_timeout_s,
                excerpt_bytes=self._settings.response_excerpt_bytes,
            )
        except asyncio.CancelledError:
            # Stopping: the attempt did not complete, give the claim back for another worker.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(row))
            raise
        self.attempts += 1
        attempt = store.Attempt(
            row["attempts"],
            outcome.started_at,
            outcome.duration_ms,
            outcome.status_code,
            outcome.error,
            outcome.response,
        )
        if outcome.ok:
            async with self._pool.acquire() as conn:
                held = await store.succeeded(conn, row["id"], row["lease_id"], attempt)
        else:
            held = await in_transaction(
                self._pool, lambda conn: self._record(conn, row, outcome, attempt)
            )
        if not held:
            log.warning("delivery %s: lease lost before its outcome was recorded", row["id"])

    async def _release(self, row: asyncpg.Record) -> None:
        async with self._pool.acquire() as conn:
            await store.release(conn, row["id"], row["lease_id"])

    async def _record(
        self, conn: Connection, row: asyncpg.Record, outcome: sender.Outcome, attempt: store.Attempt
    ) -> bool:
        """A failed attempt: logged, retried or failed for good, the endpoint perhaps disabled;
        False if the lease was lost meanwhile."""
        if not await store.record_attempt(conn, row["id"], row["lease_id"], attempt):
            return False
        gone = outcome.status_code == 410
        delay = None
        if not gone:
            delay = next_delay_s(
                row["attempts"],
                self._settings.delivery_retry_schedule_s,
                retry_after_s(outcome.retry_after, clock.now()),
                retry_after_max_s=self._settings.delivery_retry_after_max_s,
            )
        failing_since = await store.failed(
            conn,
            row["id"],
            status_code=outcome.status_code,
            error=outcome.error,
            retry_in_s=delay,
        )
        if gone:
            await disable(conn, row["subscription_id"], DisabledReason.GONE, self._settings)
        elif clock.now() - failing_since >= timedelta(seconds=self._settings.disable_after_s):
            await disable(conn, row["subscription_id"], DisabledReason.FAILING, self._settings)
        return True


async def disable(
    conn: Connection, sub_id: Any, reason: DisabledReason, settings: NotificationsSettings
) -> None:
    """Disable a subscription, tell its owner's systems (an event) and its stream (a notice)."""
    disabled = await store.disable(conn, sub_id, reason.value)
    if disabled is None:
        return
    owner, territory = str(disabled["actor_id"]), str(disabled["territory_id"])
    event = await outbox.emit(
        conn,
        SubscriptionDisabledV1(
            subscription_id=str(sub_id),
            actor_id=owner,
            territory_id=territory,
            reason=reason,
            failing_since=disabled["failing_since"] if reason is DisabledReason.FAILING else None,
        ),
        subject=sub_id,
        territory=territory,
        ctx=Context(settings.source),
    )
    notice = Notification(event.type, territory, frozenset({owner}), "parties")
    seq = await store.append(conn, event.id, notice, event.model_dump_json())
    if seq is not None:
        await mailing.route(conn, seq, notice, settings.mail_gather_s)
    log.warning("subscription %s disabled (%s)", sub_id, reason.value)
