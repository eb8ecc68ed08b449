"""Offers' use cases: read, ask the domain, write the state and its events in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

import asyncpg

from contracts.actors import ActorStatus
from contracts.agreements import AgreementActivatedV1, AgreementRef, UsageConfirmedV1
from contracts.envelope import EventPayload
from contracts.fields import TERRITORY_ZONE
from contracts.matches import MatchCancelledV1, MatchConfirmedV1, MatchEndedV1, MatchState
from contracts.needs import (
    NeedExpiredV1,
    NeedFulfilledV1,
    NeedGoingStaleV1,
    NeedPublishedV1,
    NeedStatus,
    NeedUpdatedV1,
    NeedWithdrawnV1,
)
from contracts.offers import (
    AssetDeclaredV1,
    AssetUpdatedV1,
    OfferDraftedV1,
    OfferGoingStaleV1,
    OfferPausedV1,
    OfferPublishedV1,
    OfferState,
    OfferUpdatedV1,
    OfferWithdrawnV1,
)
from contracts.projects import ProjectStageChangedV1
from contracts.taxonomy import Unit
from services.offers import domain, store
from services.offers.domain import ActorRecord, Asset, Need, Offer, ProjectRecord
from services.offers.drafts import (
    AssetChanges,
    AssetDraft,
    NeedChanges,
    NeedDraft,
    OfferChanges,
    OfferDraft,
)
from services.runtime import clock
from services.runtime.access import may_read
from services.runtime.context import Context
from services.runtime.db import Connection, transactional
from services.runtime.errors import InvalidInput, NotFound, NotYet
from services.runtime.outbox import emit
from services.runtime.principal import Principal


@dataclass(frozen=True)
class Terms:
    """Defaults the service settings give to offers and needs."""

    offer_validity: timedelta
    need_ttl: timedelta


async def _emit(
    conn: Connection, payload: EventPayload, subject: UUID, territory: UUID, ctx: Context
) -> None:
    await emit(conn, payload, subject=subject, territory=territory, ctx=ctx)


async def _emit_offer(
    conn: Connection,
    event: type[OfferState],
    offer: Offer,
    asset: Asset,
    ctx: Context,
    **extra: object,
) -> None:
    payload = event(**domain.offer_state(offer, asset), **extra)
    await _emit(conn, payload, offer.id, offer.territory_id, ctx)


async def _emit_need(
    conn: Connection, event: type[EventPayload], need: Need, ctx: Context, **extra: object
) -> None:
    payload = event(**domain.need_state(need), **extra)
    await _emit(conn, payload, need.id, need.territory_id, ctx)


async def _caller(conn: Connection, principal: Principal) -> ActorRecord:
    return domain.ensure_may_write(principal, await store.get_actor(conn, UUID(principal.actor_id)))


# --- assets -----------------------------------------------------------------------------------


@transactional
async def declare_asset(
    conn: Connection, draft: AssetDraft, principal: Principal, ctx: Context
) -> Asset:
    owner = await _caller(conn, principal)
    asset = domain.declare_asset(draft, asset_id=uuid.uuid4(), owner=owner, now=clock.now())
    await store.insert_asset(conn, asset)
    await _emit(
        conn, AssetDeclaredV1(**domain.asset_state(asset)), asset.id, asset.territory_id, ctx
    )
    return asset


async def _visible_asset(
    conn: Connection, asset_id: UUID, principal: Principal, *, lock: bool
) -> Asset:
    asset = await store.get_asset(conn, asset_id, for_update=lock)
    if asset is None or not domain.may_see_asset(principal, asset):
        raise NotFound("no such asset")
    return asset


async def get_asset(pool: asyncpg.Pool, asset_id: UUID, principal: Principal) -> Asset:
    async with pool.acquire() as conn:
        return await _visible_asset(conn, asset_id, principal, lock=False)


@transactional
async def change_asset(
    conn: Connection, asset_id: UUID, changes: AssetChanges, principal: Principal, ctx: Context
) -> Asset:
    """Change an asset, then give each of its live offers a new version carrying the new asset."""
    now = clock.now()
    owner = await _caller(conn, principal)
    asset = await _visible_asset(conn, asset_id, principal, lock=True)
    domain.ensure_asset_of(asset, owner)
    updated, changed = domain.change_asset(asset, changes, owner=owner, now=now)
    if not changed:
        return asset
    if {"capacity", "availability"} & set(changed):
        domain.check_asset_change(
            await store.bookings_of(conn, asset_id=asset_id),
            capacity=updated.capacity,
            availability=updated.availability,
            was=asset.availability,
        )
    await store.update_asset(conn, updated)
    payload = AssetUpdatedV1(**domain.asset_state(updated), changed=changed)
    await _emit(conn, payload, updated.id, updated.territory_id, ctx)
    for offer in await store.live_offers_of_asset(conn, asset_id):
        followed = domain.follow_asset(offer, now=now)
        await store.update_offer(conn, followed)
        await _emit_offer(conn, OfferUpdatedV1, followed, updated, ctx, changed=["asset"])
    return updated


async def list_assets(
    pool: asyncpg.Pool, principal: Principal, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Asset]:
    async with pool.acquire() as conn:
        return await store.list_assets(conn, UUID(principal.actor_id), after=after, limit=limit)


# --- offers -----------------------------------------------------------------------------------


@transactional
async def create_offer(
    conn: Connection, draft: OfferDraft, principal: Principal, terms: Terms, ctx: Context
) -> tuple[Offer, Asset]:
    owner = await _caller(conn, principal)
    asset = await store.get_asset(conn, draft.asset_id)
    if asset is None or asset.territory_id != owner.territory_id:
        raise InvalidInput("no such asset", field="asset_id")
    offer = domain.create_offer(
        draft,
        offer_id=uuid.uuid4(),
        asset=asset,
        owner=owner,
        now=clock.now(),
        default_validity=terms.offer_validity,
    )
    await store.insert_offer(conn, offer)
    event = OfferPublishedV1 if offer.status == "published" else OfferDraftedV1
    await _emit_offer(conn, event, offer, asset, ctx)
    return offer, asset


async def _visible_offer(
    conn: Connection, offer_id: UUID, principal: Principal, *, lock: bool
) -> Offer:
    offer = await store.get_offer(conn, offer_id, for_update=lock)
    if offer is None or not domain.may_see_offer(principal, offer):
        raise NotFound("no such offer")
    if not await may_read(conn, principal, offer.territory_id, published_offer=True):
        raise NotFound("no such offer")
    return offer


async def _asset_of(conn: Connection, offer: Offer) -> Asset:
    asset = await store.get_asset(conn, offer.asset_id)
    if asset is None:
        raise RuntimeError(f"offer {offer.id} lost its asset {offer.asset_id}")
    return asset


async def get_offer(
    pool: asyncpg.Pool, offer_id: UUID, principal: Principal
) -> tuple[Offer, Asset]:
    async with pool.acquire() as conn:
        offer = await _visible_offer(conn, offer_id, principal, lock=False)
        return offer, await _asset_of(conn, offer)


@transactional
async def change_offer(
    conn: Connection,
    offer_id: UUID,
    changes: OfferChanges,
    principal: Principal,
    terms: Terms,
    ctx: Context,
) -> tuple[Offer, Asset]:
    await _caller(conn, principal)
    offer = await _visible_offer(conn, offer_id, principal, lock=True)
    domain.may_change_offer(principal, offer)
    updated, changed = domain.change_offer(
        offer, changes, now=clock.now(), default_validity=terms.offer_validity
    )
    asset = await _asset_of(conn, offer)
    if changed:
        shortened = updated.valid_from > offer.valid_from or updated.valid_to < offer.valid_to
        domain.check_offer_change(
            await store.bookings_of(conn, offer_id=offer_id), changed, shortened=shortened
        )
        await store.update_offer(conn, updated)
        await _emit_offer(conn, OfferUpdatedV1, updated, asset, ctx, changed=changed)
    return updated, asset


@transactional
async def publish_offer(
    conn: Connection, offer_id: UUID, principal: Principal, ctx: Context
) -> tuple[Offer, Asset]:
    owner = await _caller(conn, principal)
    offer = await _visible_offer(conn, offer_id, principal, lock=True)
    domain.may_change_offer(principal, offer)
    published = domain.publish_offer(offer, owner=owner, now=clock.now())
    asset = await _asset_of(conn, offer)
    await store.update_offer(conn, published)
    await _emit_offer(conn, OfferPublishedV1, published, asset, ctx)
    return published, asset


@transactional
async def pause_offer(
    conn: Connection, offer_id: UUID, reason: str, principal: Principal, ctx: Context
) -> tuple[Offer, Asset]:
    await _caller(conn, principal)
    offer = await _visible_offer(conn, offer_id, principal, lock=True)
    domain.may_pause_offer(principal, offer)
    paused = domain.pause_offer(offer, now=clock.now())
    domain.check_offer_ends(await store.bookings_of(conn, offer_id=offer_id), "pausing the offer")
    asset = await _asset_of(conn, offer)
    await store.update_offer(conn, paused)
    await _emit_offer(
        conn, OfferPausedV1, paused, asset, ctx, paused_by=principal.actor_id, reason=reason
    )
    return paused, asset


@transactional
async def withdraw_offer(
    conn: Connection, offer_id: UUID, reason: str, principal: Principal, ctx: Context
) -> tuple[Offer, Asset]:
    await _caller(conn, principal)
    offer = await _visible_offer(conn, offer_id, principal, lock=True)
    domain.may_change_offer(principal, offer)
    withdrawn = domain.withdraw_offer(offer, now=clock.now())
    domain.check_offer_ends(
        await store.bookings_of(conn, offer_id=offer_id), "withdrawing the offer"
    )
    asset = await _asset_of(conn, offer)
    await store.update_offer(conn, withdrawn)
    await _emit_offer(
        conn,
        OfferWithdrawnV1,
        withdrawn,
        asset,
        ctx,
        withdrawn_by=principal.actor_id,
        reason=reason,
    )
    return withdrawn, asset


async def list_offers(pool: asyncpg.Pool, listing: store.Listing) -> list[tuple[Offer, Asset]]:
    async with pool.acquire() as conn:
        offers = await store.list_offers(conn, listing)
        assets = await store.get_assets(conn, sorted({offer.asset_id for offer in offers}))
    return [(offer, assets[offer.asset_id]) for offer in offers]


# --- needs ------------------------------------------------------------------------------------


@transactional
async def publish_need(
    conn: Connection, draft: NeedDraft, principal: Principal, terms: Terms, ctx: Context
) -> Need:
    requester = await _caller(conn, principal)
    if draft.project_id is not None:
        project = await store.get_project(conn, draft.project_id)
        domain.check_project(draft.project_id, project, requester)
    need = domain.publish_need(
        draft,
        need_id=uuid.uuid4(),
        requester=requester,
        now=clock.now(),
        default_ttl=terms.need_ttl,
    )
    await store.insert_need(conn, need)
    await _emit_need(conn, NeedPublishedV1, need, ctx)
    return need


async def _visible_need(
    conn: Connection, need_id: UUID, principal: Principal, *, lock: bool
) -> Need:
    need = await store.get_need(conn, need_id, for_update=lock)
    if need is None or not domain.may_see_need(principal, need):
        raise NotFound("no such need")
    return need


async def get_need(pool: asyncpg.Pool, need_id: UUID, principal: Principal) -> Need:
    async with pool.acquire() as conn:
        return await _visible_need(conn, need_id, principal, lock=False)


@transactional
async def change_need(
    conn: Connection,
    need_id: UUID,
    changes: NeedChanges,
    principal: Principal,
    terms: Terms,
    ctx: Context,
) -> Need:
    requester = await _caller(conn, principal)
    need = await _visible_need(conn, need_id, principal, lock=True)
    domain.may_change_need(principal, need)
    updated, changed = domain.change_need(
        need, changes, requester=requester, now=clock.now(), default_ttl=terms.need_ttl
    )
    if changed:
        domain.check_need_change(
            await store.bookings_of(conn, need_id=need_id),
            quantity=updated.quantity,
            weekly=updated.weekly_windows,
            dated=updated.dated_windows,
        )
        await store.update_need(conn, updated)
        await _emit_need(conn, NeedUpdatedV1, updated, ctx, changed=changed)
    return updated


@transactional
async def withdraw_need(
    conn: Connection, need_id: UUID, reason: str, principal: Principal, ctx: Context
) -> Need:
    await _caller(conn, principal)
    need = await _visible_need(conn, need_id, principal, lock=True)
    domain.may_change_need(principal, need)
    withdrawn = domain.withdraw_need(need, now=clock.now())
    domain.check_need_ends(await store.bookings_of(conn, need_id=need_id))
    await store.update_need(conn, withdrawn)
    await _emit_need(
        conn, NeedWithdrawnV1, withdrawn, ctx, withdrawn_by=principal.actor_id, reason=reason
    )
    return withdrawn


@transactional
async def fulfil_need(
    conn: Connection, need_id: UUID, agreement_id: str | None, principal: Principal, ctx: Context
) -> Need:
    """The requester declares its need met."""
    await _caller(conn, principal)
    need = await _visible_need(conn, need_id, principal, lock=True)
    domain.may_change_need(principal, need)
    fulfilled = domain.fulfil_need(need, now=clock.now())
    await store.update_need(conn, fulfilled)
    await _emit_need(
        conn,
        NeedFulfilledV1,
        fulfilled,
        ctx,
        fulfilled_by=principal.actor_id,
        agreement_id=agreement_id,
    )
    return fulfilled


async def fulfil_need_by_agreement(
    conn: Connection, need_id: UUID, agreement_id: str, ctx: Context
) -> Need | None:
    """Mark a need fulfilled because an agreement says so; None when it no longer can be.

    For the consumer of agreement events: runs in the inbox transaction of the event, and a need
    already fulfilled, withdrawn or expired is left as it is (a late or repeated event).
    """
    need = await store.get_need(conn, need_id, for_update=True)
    if need is None or need.status not in domain.OPEN_NEED:
        return None
    fulfilled = domain.fulfil_need(need, now=clock.now())
    await store.update_need(conn, fulfilled)
    await _emit_need(
        conn, NeedFulfilledV1, fulfilled, ctx, fulfilled_by=None, agreement_id=agreement_id
    )
    return fulfilled


async def list_needs(pool: asyncpg.Pool, listing: store.Listing) -> list[Need]:
    async with pool.acquire() as conn:
        return await store.list_needs(conn, listing)


# --- match events: the confirmed bookings --------------------------------------------------


async def apply_match(conn: Connection, match: MatchState, ctx: Context) -> None:
    """A confirmed match becomes a booking and its need `matched`; a cancelled one that was
    confirmed, or one whose agreement ended, ends its booking and opens its need again unless
    the agreement fulfilled it. Other match events change nothing."""
    if isinstance(match, MatchConfirmedV1):
        await _book(conn, match, ctx)
    elif isinstance(match, MatchCancelledV1 | MatchEndedV1):
        await _unbook(conn, match, ctx)


async def _book(conn: Connection, match: MatchConfirmedV1, ctx: Context) -> None:
    seen = await store.get_offer(conn, UUID(match.offer_id))
    if seen is None:
        raise NotYet(f"offer {match.offer_id} of match {match.match_id}")
    # Asset, offer, need: the order the HTTP changes lock them in, so that a change and a
    # booking of the same asset wait for each other instead of missing each other.
    asset = await store.get_asset(conn, seen.asset_id, for_update=True)
    offer = await store.get_offer(conn, seen.id, for_update=True)
    need = await store.get_need(conn, UUID(match.need_id), for_update=True)
    if asset is None or offer is None or need is None:
        raise NotYet(f"offer, asset or need of match {match.match_id}")
    week, dated = domain.booked_time(asset.availability, need.weekly_windows, need.dated_windows)
    booking = domain.Booking(
        match_id=UUID(match.match_id),
        offer_id=offer.id,
        need_id=need.id,
        asset_id=asset.id,
        quantity=match.quantity,
        week=week,
        dated=dated,
        version=match.version,
    )
    if not await store.insert_booking(conn, booking):
        return
    if need.status == NeedStatus.OPEN:
        matched = domain.match_need(need, now=clock.now())
        await store.update_need(conn, matched)
        await _emit_need(conn, NeedUpdatedV1, matched, ctx, changed=["status"])


async def _unbook(conn: Connection, match: MatchCancelledV1 | MatchEndedV1, ctx: Context) -> None:
    need = await store.get_need(conn, UUID(match.need_id), for_update=True)
    if await store.delete_booking(conn, UUID(match.match_id)) is None:
        return  # a proposal cancelled before confirmation: nothing was booked
    if need is None or need.status != NeedStatus.MATCHED:
        return
    if await store.bookings_of(conn, need_id=need.id):
        return
    reopened = domain.reopen_need(need, now=clock.now())
    await store.update_need(conn, reopened)
    await _emit_need(conn, NeedUpdatedV1, reopened, ctx, changed=["status"])


# --- agreement events -------------------------------------------------------------------------


async def apply_agreement(conn: Connection, event: AgreementRef, ctx: Context) -> None:
    """An agreement that starts fulfils its need; confirmed usage counted in hours measures its
    asset's idle share."""
    if isinstance(event, AgreementActivatedV1):
        await fulfil_need_by_agreement(conn, UUID(event.need_id), event.agreement_id, ctx)
    elif isinstance(event, UsageConfirmedV1) and event.unit is Unit.HOUR:
        await _measure_idleness(conn, event, ctx)


async def _measure_idleness(conn: Connection, report: UsageConfirmedV1, ctx: Context) -> None:
    asset = await store.get_asset(conn, UUID(report.asset_id), for_update=True)
    if asset is None:
        return
    start = report.period_start.replace(tzinfo=TERRITORY_ZONE)
    end = report.period_end.replace(tzinfo=TERRITORY_ZONE)
    if not await store.record_usage(
        conn, UUID(report.report_id), asset.id, start, end, Decimal(report.quantity)
    ):
        return
    _, latest = await store.usage_of(conn, asset.id, end)
    until = latest or end
    usage, _ = await store.usage_of(conn, asset.id, until - domain.IDLENESS_WINDOW)
    now = clock.now()
    updated = domain.remeasured(
        asset, domain.measured_idle_share(asset.availability, usage, until), now=now
    )
    if updated is None:
        return
    await store.update_asset(conn, updated)
    payload = AssetUpdatedV1(**domain.asset_state(updated), changed=["idle_share"])
    await _emit(conn, payload, updated.id, updated.territory_id, ctx)
    for offer in await store.live_offers_of_asset(conn, asset.id):
        followed = domain.follow_asset(offer, now=now)
        await store.update_offer(conn, followed)
        await _emit_offer(conn, OfferUpdatedV1, followed, updated, ctx, changed=["asset"])


# --- project events ---------------------------------------------------------------------------


async def apply_project(conn: Connection, project: ProjectRecord) -> None:
    await store.save_project(conn, project)


async def apply_project_stage(conn: Connection, changed: ProjectStageChangedV1) -> None:
    # Its creation came first: a project's events share its key, hence a partition.
    await store.set_project_stage(conn, UUID(changed.project_id), changed.to_stage)


# --- actor events -----------------------------------------------------------------------------


async def apply_actor(conn: Connection, actor: ActorRecord, reason: str, ctx: Context) -> bool:
    """Keep the newest state of an actor; a suspension pauses its offers and withdraws its needs.

    Older or repeated versions change nothing. Returns whether the state was stored.
    """
    if not await store.save_actor_if_newer(conn, actor):
        return False
    if actor.status == ActorStatus.SUSPENDED:
        await _suspend_cascade(conn, actor.actor_id, reason, ctx)
    return True


async def _suspend_cascade(conn: Connection, actor_id: UUID, reason: str, ctx: Context) -> None:
    now = clock.now()
    why = f"provider suspended: {reason}" if reason else "provider suspended"
    for offer in await store.published_offers_of(conn, actor_id):
        paused = domain.pause_offer(offer, now=now)
        await store.update_offer(conn, paused)
        await _emit_offer(
            conn,
            OfferPausedV1,
            paused,
            await _asset_of(conn, offer),
            ctx,
            paused_by=None,
            reason=why,
        )
    why = f"requester suspended: {reason}" if reason else "requester suspended"
    for need in await store.open_needs_of(conn, actor_id):
        withdrawn = domain.withdraw_need(need, now=now)
        await store.update_need(conn, withdrawn)
        await _emit_need(conn, NeedWithdrawnV1, withdrawn, ctx, withdrawn_by=None, reason=why)


# --- staleness --------------------------------------------------------------------------------


@dataclass
class Sweep:
    """What one staleness sweep did."""

    needs_expired: int = 0
    offers_ended: int = 0
    offer_notices: int = 0
    need_notices: int = 0


async def sweep_staleness(
    pool: asyncpg.Pool, ctx: Context, *, now: datetime, notice: timedelta, batch: int = 200
) -> Sweep:
    """Expire needs past their date, pause offers whose validity ended, announce what ends soon.

    Each batch is one transaction that locks its rows with SKIP LOCKED, so a concurrent change
    or a second replica never waits on the sweep; a going-stale notice is sent once per version.
    """

    async def expire(conn: Connection, need: Need) -> None:
        expired = domain.expire_need(need, now=now)
        await store.update_need(conn, expired)
        await _emit_need(conn, NeedExpiredV1, expired, ctx)

    async def end(conn: Connection, offer: Offer) -> None:
        paused = domain.pause_offer(offer, now=now)
        await store.update_offer(conn, paused)
        asset = await _asset_of(conn, offer)
        await _emit_offer(
            conn, OfferPausedV1, paused, asset, ctx, paused_by=None, reason="validity ended"
        )

    async def warn_offer(conn: Connection, offer: Offer) -> None:
        asset = await _asset_of(conn, offer)
        await _emit_offer(conn, OfferGoingStaleV1, offer, asset, ctx, stale_at=offer.valid_to)
        await store.mark_offer_notice(conn, offer)

    async def warn_need(conn: Connection, need: Need) -> None:
        await _emit_need(conn, NeedGoingStaleV1, need, ctx, stale_at=need.expires_at)
        await store.mark_need_notice(conn, need)

    return Sweep(
        needs_expired=await _in_batches(
            pool, lambda c: store.needs_past_expiry(c, now, batch), expire, batch
        ),
        offers_ended=await _in_batches(
            pool, lambda c: store.offers_past_validity(c, now, batch), end, batch
        ),
        offer_notices=await _in_batches(
            pool, lambda c: store.offers_going_stale(c, now, notice, batch), warn_offer, batch
        ),
        need_notices=await _in_batches(
            pool, lambda c: store.needs_going_stale(c, now, notice, batch), warn_need, batch
        ),
    )


T = TypeVar("T")


async def _in_batches(
    pool: asyncpg.Pool,
    select: Callable[[Connection], Awaitable[list[T]]],
    act: Callable[[Connection, T], Awaitable[None]],
    batch: int,
) -> int:
    """Act on selected rows, one transaction per batch, until a batch comes back short."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await select(conn)
            for row in rows:
                await act(conn, row)
        total += len(rows)
        if len(rows) < batch:
            return total
