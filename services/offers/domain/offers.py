"""Usage offers on assets: their lifecycle, prices, validity, who may change or see them.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.actors import ActorKind
from contracts.offers import (
    Currency,
    Indicator,
    OfferStatus,
    PerformanceClause,
    Price,
    PriceModel,
)
from services.offers.domain.actors import ActorRecord, ensure_may_publish
from services.offers.domain.assets import Asset, asset_state
from services.offers.domain.shared import merge_changes, must_be_future, next_version
from services.offers.drafts import OfferChanges, OfferDraft, PriceIn
from services.runtime.errors import Conflict, Forbidden, InvalidInput
from services.runtime.principal import Principal


class Offer(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    asset_id: UUID
    owner_id: UUID
    territory_id: UUID
    status: OfferStatus
    title: str
    description: str
    performance: list[Indicator]
    clause: PerformanceClause | None = None
    price: Price
    eligible_requester_kinds: list[ActorKind]
    max_distance_km: float
    valid_from: datetime
    valid_to: datetime
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


def resolve_price(price: PriceIn) -> Price:
    """A complete price: the currency follows the model unless given, and must fit it."""
    credits = price.model is PriceModel.TIME_CREDITS
    currency = price.currency or (Currency.TIME_CREDIT_HOURS if credits else Currency.EUR)
    if credits != (currency is Currency.TIME_CREDIT_HOURS) and price.model is not PriceModel.FREE:
        raise InvalidInput(
            "time credit hours are the currency of the time_credits model only",
            field="price.currency",
        )
    if price.model is PriceModel.FREE and price.unit_price != 0:
        raise InvalidInput("a free offer has a unit price of 0", field="price.unit_price")
    return Price(model=price.model, unit_price=price.unit_price, currency=currency)


def resolve_clause(
    clause: PerformanceClause | None, performance: Sequence[Indicator]
) -> PerformanceClause | None:
    """The clause as its agreements read it; a tolerance names one of the offer's indicators."""
    if clause is None:
        return None
    names = {indicator.name for indicator in performance}
    for name in clause.tolerances:
        if name not in names:
            raise InvalidInput(
                f"no indicator {name!r} in the offer's performance",
                field=f"clause.tolerances.{name}",
            )
    return PerformanceClause.model_validate(clause.model_dump())


def _validity(
    valid_from: datetime | None,
    valid_to: datetime | None,
    *,
    now: datetime,
    default: timedelta,
    check_future: bool = True,
) -> tuple[datetime, datetime]:
    start = valid_from or now
    end = valid_to or start + default
    if end <= start:
        raise InvalidInput("valid_to must come after valid_from", field="valid_to")
    if check_future:
        must_be_future(end, now, "valid_to")
    return start, end


def ensure_asset_of(asset: Asset, actor: ActorRecord) -> None:
    if asset.owner_id != actor.actor_id:
        raise Forbidden("you may offer only your own assets", field="asset_id")


def create_offer(
    draft: OfferDraft,
    *,
    offer_id: UUID,
    asset: Asset,
    owner: ActorRecord,
    now: datetime,
    default_validity: timedelta,
) -> Offer:
    """A draft offer on one of `owner`'s assets, or a published one when the draft says so."""
    ensure_asset_of(asset, owner)
    if draft.publish:
        ensure_may_publish(owner)
    valid_from, valid_to = _validity(
        draft.valid_from, draft.valid_to, now=now, default=default_validity
    )
    return Offer(
        id=offer_id,
        asset_id=asset.id,
        owner_id=owner.actor_id,
        territory_id=owner.territory_id,
        status=OfferStatus.PUBLISHED if draft.publish else OfferStatus.DRAFT,
        title=draft.title,
        description=draft.description,
        performance=[Indicator.model_validate(i.model_dump()) for i in draft.performance],
        clause=resolve_clause(draft.clause, draft.performance),
        price=resolve_price(draft.price),
        eligible_requester_kinds=draft.eligible_requester_kinds,
        max_distance_km=draft.max_distance_km,
        valid_from=valid_from,
        valid_to=valid_to,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _offer_draft(offer: Offer) -> dict[str, Any]:
    return {
        **offer.model_dump(include=set(OfferChanges.model_fields)),
        "asset_id": offer.asset_id,
        "publish": False,
    }


def change_offer(
    offer: Offer, changes: OfferChanges, *, now: datetime, default_validity: timedelta
) -> tuple[Offer, list[str]]:
    """Apply the fields given to an offer that is not withdrawn."""
    if offer.status == OfferStatus.WITHDRAWN:
        raise Conflict("a withdrawn offer no longer changes", field="status")
    draft, changed = merge_changes(OfferDraft, _offer_draft(offer), changes)
    if not changed:
        return offer, []
    valid_from, valid_to = _validity(
        draft.valid_from,
        draft.valid_to,
        now=now,
        default=default_validity,
        check_future="valid_to" in changed or "valid_from" in changed,
    )
    return next_version(
        offer,
        now,
        title=draft.title,
        description=draft.description,
        performance=[Indicator.model_validate(i.model_dump()) for i in draft.performance],
        clause=resolve_clause(draft.clause, draft.performance),
        price=resolve_price(draft.price),
        eligible_requester_kinds=draft.eligible_requester_kinds,
        max_distance_km=draft.max_distance_km,
        valid_from=valid_from,
        valid_to=valid_to,
    ), changed


def publish_offer(offer: Offer, *, owner: ActorRecord, now: datetime) -> Offer:
    """draft → published, or paused → published (resumed); the validity must not have ended."""
    ensure_may_publish(owner)
    if offer.status not in (OfferStatus.DRAFT, OfferStatus.PAUSED):
        raise Conflict(f"a {offer.status} offer cannot be published", field="status")
    if offer.valid_to <= now:
        raise Conflict("the offer's validity has ended: extend valid_to first", field="valid_to")
    return next_version(offer, now, status=OfferStatus.PUBLISHED)


def pause_offer(offer: Offer, *, now: datetime) -> Offer:
    if offer.status != OfferStatus.PUBLISHED:
        raise Conflict(
            f"only a published offer can be paused; this one is {offer.status}", field="status"
        )
    return next_version(offer, now, status=OfferStatus.PAUSED)


def withdraw_offer(offer: Offer, *, now: datetime) -> Offer:
    if offer.status == OfferStatus.WITHDRAWN:
        raise Conflict("the offer is already withdrawn", field="status")
    return next_version(offer, now, status=OfferStatus.WITHDRAWN)


def follow_asset(offer: Offer, *, now: datetime) -> Offer:
    """A new version of an offer whose asset changed: its events carry the asset's new state."""
    return next_version(offer, now)


def may_change_offer(principal: Principal, offer: Offer) -> None:
    if principal.actor_id != str(offer.owner_id):
        raise Forbidden("only the offer's provider may change it")


def may_pause_offer(principal: Principal, offer: Offer) -> None:
    """The provider, or a facilitator of the offer's territory (moderation)."""
    if principal.actor_id != str(offer.owner_id) and not principal.facilitates(
        str(offer.territory_id)
    ):
        raise Forbidden("only the offer's provider or a facilitator of its territory may pause it")


def may_see_offer(principal: Principal, offer: Offer) -> bool:
    """Published offers are public; the others are seen by their provider and facilitators."""
    return (
        offer.status == OfferStatus.PUBLISHED
        or principal.actor_id == str(offer.owner_id)
        or principal.facilitates(str(offer.territory_id))
    )


def offer_state(offer: Offer, asset: Asset) -> dict[str, Any]:
    """The full current state of an offer and its asset, as its events carry it."""
    return {
        "offer_id": str(offer.id),
        "provider_id": str(offer.owner_id),
        "territory_id": str(offer.territory_id),
        "status": offer.status,
        "title": offer.title,
        "description": offer.description,
        "asset": asset_state(asset),
        "performance": list(offer.performance),
        "clause": offer.clause,
        "price": offer.price,
        "eligible_requester_kinds": list(offer.eligible_requester_kinds),
        "max_distance_km": offer.max_distance_km,
        "valid_from": offer.valid_from,
        "valid_to": offer.valid_to,
        "version": offer.version,
    }
