"""HTTP routes of the offers service (mounted under /v1): assets, offers and needs."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field

from contracts import taxonomy
from contracts.needs import NeedStatus
from contracts.offers import OfferStatus
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
from services.runtime.auth import CurrentActor
from services.runtime.errors import InvalidInput
from services.runtime.principal import Principal
from services.runtime.service import Pool
from services.runtime.service import RequestContext as Ctx

assets_router = APIRouter(prefix="/assets", tags=["assets"])
offers_router = APIRouter(prefix="/offers", tags=["offers"])
needs_router = APIRouter(prefix="/needs", tags=["needs"])

MAX_PAGE = 100


def terms(request: Request) -> Terms:
    settings: OffersSettings = request.app.state.settings
    return Terms(offer_validity=settings.offer_validity, need_ttl=settings.need_ttl)


TermsDep = Annotated[Terms, Depends(terms)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}.")]


class OfferOut(Offer):
    asset: Asset = Field(description="The asset the offer puts to use.")

    @classmethod
    def of(cls, offer: Offer, asset: Asset) -> OfferOut:
        return cls.model_validate({**offer.model_dump(), "asset": asset})


class AssetPage(BaseModel):
    items: list[Asset]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class OfferPage(BaseModel):
    items: list[OfferOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class NeedPage(BaseModel):
    items: list[Need]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


# --- keyset cursors and listing filters -------------------------------------------------------


def _encode_cursor(created_at: datetime, item_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{item_id}".encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        created, _, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), UUID(item_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("not a cursor returned by this API", field="cursor") from None


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
    category: str | None = Field(default=None, description="Includes every sub-category.")
    owner_id: UUID | None = Field(default=None, description="The provider or requester.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="With lon and radius_km.")
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0, le=1000)
    cursor: str | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")


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
        after=_decode_cursor(filters.cursor),
        limit=filters.limit + 1,
    )


FiltersDep = Annotated[Filters, Query()]


# --- assets -----------------------------------------------------------------------------------


@assets_router.post("", status_code=status.HTTP_201_CREATED, summary="Declare a dormant asset")
async def declare_asset(body: AssetDraft, pool: Pool, me: CurrentActor, ctx: Ctx) -> Asset:
    return await handlers.declare_asset(pool, body, me, ctx)


@assets_router.get("", summary="My assets, newest first")
async def list_assets(
    pool: Pool, me: CurrentActor, cursor: str | None = None, limit: Limit = 50
) -> AssetPage:
    assets = await handlers.list_assets(pool, me, after=_decode_cursor(cursor), limit=limit + 1)
    page = assets[:limit]
    more = len(assets) > limit
    return AssetPage(
        items=page, next_cursor=_encode_cursor(page[-1].created_at, page[-1].id) if more else None
    )


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
) -> OfferPage:
    listing = _listing(me, filters, public=(OfferStatus.PUBLISHED,), status_=status_)
    found = await handlers.list_offers(pool, listing)
    page = found[: filters.limit]
    more = len(found) > filters.limit
    last = page[-1][0] if page else None
    return OfferPage(
        items=[OfferOut.of(offer, asset) for offer, asset in page],
        next_cursor=_encode_cursor(last.created_at, last.id) if more and last else None,
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
) -> NeedPage:
    listing = _listing(me, filters, public=tuple(str(s) for s in OPEN_NEED), status_=status_)
    found = await handlers.list_needs(pool, listing)
    page = found[: filters.limit]
    more = len(found) > filters.limit
    return NeedPage(
        items=page,
        next_cursor=_encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


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
