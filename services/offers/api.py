"""HTTP routes of the offers service (mounted under /v1): assets, offers and needs."""

from __future__ import annotations

from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from contracts import taxonomy
from contracts.needs import NeedStatus
from contracts.offers import OfferStatus
from contracts.taxonomy import CategoryCode
from services.offers import handlers, store
from services.offers.domain import OPEN_NEED, Asset, Need, Offer
from services.offers.drafts import (
    AssetChanges,
    AssetDraft,
    Fulfilment,
    NeedChanges,
    NeedDraft,
    OfferChanges,
    OfferDraft,
    Reason,
)
from services.offers.handlers import Terms
from services.offers.settings import OffersSettings
from services.runtime.access import ADMITTED_ONLY, ensure_may_list
from services.runtime.auth import CurrentActor
from services.runtime.errors import InvalidInput
from services.runtime.pages import Cursor, CursorParam, Limit, Page, decode_cursor, page_of
from services.runtime.principal import Principal
from services.runtime.service import Pool, settings_of
from services.runtime.service import RequestContext as Ctx

assets_router = APIRouter(prefix="/assets", tags=["assets"], dependencies=[ADMITTED_ONLY])
offers_router = APIRouter(prefix="/offers", tags=["offers"], dependencies=[ADMITTED_ONLY])
needs_router = APIRouter(prefix="/needs", tags=["needs"], dependencies=[ADMITTED_ONLY])


def terms(settings: Annotated[OffersSettings, Depends(settings_of(OffersSettings))]) -> Terms:
    return Terms(offer_validity=settings.offer_validity, need_ttl=settings.need_ttl)


TermsDep = Annotated[Terms, Depends(terms)]


class OfferOut(Offer):
    asset: Asset = Field(description="The asset the offer puts to use.")

    @classmethod
    def of(cls, offer: Offer, asset: Asset) -> OfferOut:
        return cls.model_validate({**offer.model_dump(), "asset": asset})


# --- listing filters --------------------------------------------------------------------------


def _categories(category: str | None) -> frozenset[str] | None:
    """The category asked for and every category below it."""
    if category is None:
        return None
    if not taxonomy.is_known(category):
        raise InvalidInput(f"unknown category {category!r}", field="category")
    return taxonomy.descendants(category)


def _near(lat: float | None, lon: float | None, radius_km: float | None) -> store.Near | None:
    given = {"lat": lat, "lon": lon, "radius_km": radius_km}
    if all(value is None for value in given.values()):
        return None
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise InvalidInput("lat, lon and radius_km go together", field=missing[0])
    assert lat is not None and lon is not None and radius_km is not None
    return store.Near(lat, lon, radius_km)


class Filters(BaseModel):
    """Filters shared by the offer and need listings."""

    territory_id: UUID | None = Field(default=None, description="Default: the caller's territory.")
    category: CategoryCode | None = Field(default=None, description="Includes every sub-category.")
    owner_id: UUID | None = Field(default=None, description="The provider or requester.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="With lon and radius_km.")
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0, le=1000)
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page."
    )
    limit: int = Field(default=50, ge=1, le=100, description="Items per page (at most 100).")


def _listing(
    me: Principal, filters: Filters, *, public: tuple[str, ...], status_: str | None
) -> store.Listing:
    return store.Listing(
        territory_id=filters.territory_id or UUID(me.territory_id),
        viewer=UUID(me.actor_id),
        facilitated=UUID(me.territory_id) if me.is_facilitator else None,
        public_statuses=public,
        statuses=(status_,) if status_ else None,
        categories=_categories(filters.category),
        owner_id=filters.owner_id,
        near=_near(filters.lat, filters.lon, filters.radius_km),
        after=decode_cursor(filters.cursor),
        limit=filters.limit + 1,
    )


FiltersDep = Annotated[Filters, Query()]
T = TypeVar("T")


def _position(item: Asset | Offer | Need) -> Cursor:
    return item.created_at, item.id


def _same(item: T) -> T:
    return item


def _offer_out(found: tuple[Offer, Asset]) -> OfferOut:
    return OfferOut.of(*found)


# --- assets -----------------------------------------------------------------------------------


@assets_router.post("", status_code=status.HTTP_201_CREATED, summary="Declare a dormant asset")
async def declare_asset(body: AssetDraft, pool: Pool, me: CurrentActor, ctx: Ctx) -> Asset:
    return await handlers.declare_asset(pool, body, me, ctx)


@assets_router.get("", summary="My assets, newest first")
async def list_assets(
    pool: Pool, me: CurrentActor, cursor: CursorParam = None, limit: Limit = 50
) -> Page[Asset]:
    assets = await handlers.list_assets(pool, me, after=decode_cursor(cursor), limit=limit + 1)
    return page_of(assets, limit, position=_position, view=_same)


@assets_router.get("/{asset_id}", summary="An asset (its owner, or a facilitator)")
async def get_asset(asset_id: UUID, pool: Pool, me: CurrentActor) -> Asset:
    return await handlers.get_asset(pool, asset_id, me)


@assets_router.patch("/{asset_id}", summary="Change an asset; its offers follow with new versions")
async def change_asset(
    asset_id: UUID, body: AssetChanges, pool: Pool, me: CurrentActor, ctx: Ctx
) -> Asset:
    return await handlers.change_asset(pool, asset_id, body, me, ctx)


# --- offers -----------------------------------------------------------------------------------


@offers_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Offer the use of one of my assets (published at once unless `publish` is false)",
)
async def create_offer(
    body: OfferDraft, pool: Pool, me: CurrentActor, terms: TermsDep, ctx: Ctx
) -> OfferOut:
    return OfferOut.of(*await handlers.create_offer(pool, body, me, terms, ctx))


@offers_router.get(
    "", summary="Published offers, and my own or (facilitators) my territory's in any status"
)
async def list_offers(
    pool: Pool,
    me: CurrentActor,
    filters: FiltersDep,
    status_: Annotated[OfferStatus | None, Query(alias="status")] = None,
) -> Page[OfferOut]:
    await ensure_may_list(pool, me, filters.territory_id, published_offers=True)
    listing = _listing(me, filters, public=(OfferStatus.PUBLISHED,), status_=status_)
    found = await handlers.list_offers(pool, listing)
    return page_of(
        found, filters.limit, position=lambda found: _position(found[0]), view=_offer_out
    )


@offers_router.get("/{offer_id}")
async def get_offer(offer_id: UUID, pool: Pool, me: CurrentActor) -> OfferOut:
    return OfferOut.of(*await handlers.get_offer(pool, offer_id, me))


@offers_router.patch("/{offer_id}", summary="Change my offer (not once withdrawn)")
async def change_offer(
    offer_id: UUID, body: OfferChanges, pool: Pool, me: CurrentActor, terms: TermsDep, ctx: Ctx
) -> OfferOut:
    return OfferOut.of(*await handlers.change_offer(pool, offer_id, body, me, terms, ctx))


@offers_router.post("/{offer_id}/publish", summary="Publish my draft, or resume my paused offer")
async def publish_offer(offer_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx) -> OfferOut:
    return OfferOut.of(*await handlers.publish_offer(pool, offer_id, me, ctx))


@offers_router.post(
    "/{offer_id}/pause", summary="Pause a published offer (its provider, or a facilitator)"
)
async def pause_offer(
    offer_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx, body: Reason | None = None
) -> OfferOut:
    reason = body.reason if body else ""
    return OfferOut.of(*await handlers.pause_offer(pool, offer_id, reason, me, ctx))


@offers_router.post("/{offer_id}/withdraw", summary="Withdraw my offer for good")
async def withdraw_offer(
    offer_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx, body: Reason | None = None
) -> OfferOut:
    reason = body.reason if body else ""
    return OfferOut.of(*await handlers.withdraw_offer(pool, offer_id, reason, me, ctx))


# --- needs ------------------------------------------------------------------------------------


@needs_router.post("", status_code=status.HTTP_201_CREATED, summary="Request a resource")
async def publish_need(
    body: NeedDraft, pool: Pool, me: CurrentActor, terms: TermsDep, ctx: Ctx
) -> Need:
    return await handlers.publish_need(pool, body, me, terms, ctx)


@needs_router.get(
    "", summary="Open needs, and my own or (facilitators) my territory's in any status"
)
async def list_needs(
    pool: Pool,
    me: CurrentActor,
    filters: FiltersDep,
    status_: Annotated[NeedStatus | None, Query(alias="status")] = None,
) -> Page[Need]:
    await ensure_may_list(pool, me, filters.territory_id, published_offers=False)
    listing = _listing(me, filters, public=tuple(str(s) for s in OPEN_NEED), status_=status_)
    found = await handlers.list_needs(pool, listing)
    return page_of(found, filters.limit, position=_position, view=_same)


@needs_router.get("/{need_id}")
async def get_need(need_id: UUID, pool: Pool, me: CurrentActor) -> Need:
    return await handlers.get_need(pool, need_id, me)


@needs_router.patch("/{need_id}", summary="Change my open need (renew it with a later expires_at)")
async def change_need(
    need_id: UUID, body: NeedChanges, pool: Pool, me: CurrentActor, terms: TermsDep, ctx: Ctx
) -> Need:
    return await handlers.change_need(pool, need_id, body, me, terms, ctx)


@needs_router.post("/{need_id}/withdraw", summary="Withdraw my need")
async def withdraw_need(
    need_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx, body: Reason | None = None
) -> Need:
    reason = body.reason if body else ""
    return await handlers.withdraw_need(pool, need_id, reason, me, ctx)


@needs_router.post("/{need_id}/fulfil", summary="Declare my need met")
async def fulfil_need(
    need_id: UUID, pool: Pool, me: CurrentActor, ctx: Ctx, body: Fulfilment | None = None
) -> Need:
    agreement_id = body.agreement_id if body else None
    return await handlers.fulfil_need(pool, need_id, agreement_id, me, ctx)
