"""Offers' domain: dormant assets, usage offers, needs, who may change them, when they go stale.

Pure: no database, no HTTP, no broker. Functions take the current values and the clock and return
new immutable values; every change bumps `version`. Errors name the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import taxonomy
from contracts.actors import ActorKind, ActorState, ActorStatus, Location
from contracts.needs import Budget, NeedStatus, Urgency
from contracts.offers import (
    Availability,
    Currency,
    DatedWindow,
    Indicator,
    OfferStatus,
    Price,
    PriceModel,
    WeeklySlot,
)
from contracts.taxonomy import Unit
from services.offers.drafts import (
    AssetChanges,
    AssetDraft,
    NeedChanges,
    NeedDraft,
    OfferChanges,
    OfferDraft,
    PriceIn,
)
from services.runtime.errors import Conflict, Forbidden, InvalidInput
from services.runtime.principal import Principal

# --- the actors this service knows (its read model of actor events) ---------------------------


class ActorRecord(BaseModel):
    """What offers keeps of an actor: enough to check eligibility and default locations."""

    model_config = ConfigDict(frozen=True)

    actor_id: UUID
    territory_id: UUID
    kind: ActorKind
    status: ActorStatus
    location: Location | None = None
    version: int = Field(ge=1)


def actor_record(state: ActorState) -> ActorRecord:
    return ActorRecord(
        actor_id=UUID(state.actor_id),
        territory_id=UUID(state.territory_id),
        kind=state.kind,
        status=state.status,
        location=state.location,
        version=state.version,
    )


def supersedes(incoming: ActorRecord, known: ActorRecord | None) -> bool:
    """Whether an actor event is newer than what is known (redelivered or late events are not)."""
    return known is None or incoming.version > known.version


def ensure_may_write(principal: Principal, actor: ActorRecord | None) -> ActorRecord:
    """The caller's actor as this service knows it; suspended actors change nothing."""
    if actor is None:
        raise Forbidden("your actor is not known to this service yet; retry in a few seconds")
    if actor.status == ActorStatus.SUSPENDED:
        raise Forbidden("your actor is suspended")
    return actor


def ensure_may_publish(actor: ActorRecord) -> None:
    """Only an admitted actor offers or requests anything in public."""
    if actor.status != ActorStatus.ACTIVE:
        raise Forbidden(f"only an admitted actor may publish; yours is {actor.status}")


# --- aggregates -------------------------------------------------------------------------------


class Asset(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    owner_id: UUID
    territory_id: UUID
    category: str
    title: str
    description: str
    capacity: float
    unit: Unit
    features: list[str]
    location: Location
    availability: Availability
    idle_share: float
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


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
    price: Price
    eligible_requester_kinds: list[ActorKind]
    max_distance_km: float
    valid_from: datetime
    valid_to: datetime
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


class Need(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    owner_id: UUID
    requester_kind: ActorKind
    territory_id: UUID
    status: NeedStatus
    title: str
    description: str
    category: str
    quantity: float
    unit: Unit
    required_features: list[str]
    weekly_windows: list[WeeklySlot]
    dated_windows: list[DatedWindow]
    min_duration_minutes: int
    location: Location
    max_distance_km: float
    budget: Budget
    urgency: Urgency
    expires_at: datetime
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


A = TypeVar("A", Asset, Offer, Need)


def _next(aggregate: A, now: datetime, **changes: Any) -> A:
    """The next version of an aggregate; the changes are validated like a new value."""
    fields = {**dict(aggregate), **changes, "version": aggregate.version + 1, "updated_at": now}
    return type(aggregate).model_validate(fields)


# --- rules shared by assets and needs ---------------------------------------------------------


def check_category_and_unit(category: str, unit: Unit) -> None:
    """The category exists in the taxonomy and the unit is one that fits it."""
    if not taxonomy.is_known(category):
        raise InvalidInput(f"unknown category {category!r}", field="category")
    fitting = taxonomy.units_for(category)
    if unit not in fitting:
        allowed = ", ".join(str(u) for u in fitting)
        raise InvalidInput(
            f"unit {unit!s} does not fit {category!r} (use one of: {allowed})", field="unit"
        )


def _location(given: Location | None, actor: ActorRecord) -> Location:
    if given is not None:
        return Location(lat=given.lat, lon=given.lon, commune=given.commune)
    if actor.location is None:
        raise InvalidInput("give a location: your actor has none to default to", field="location")
    return actor.location


def _must_be_future(moment: datetime, now: datetime, field: str) -> None:
    if moment <= now:
        raise InvalidInput(f"{field} must lie in the future", field=field)


def _merge(
    draft_type: type[BaseModel], current: dict[str, Any], changes: BaseModel
) -> tuple[Any, list[str]]:
    """The draft `current` with `changes` applied, and the names of the fields that changed.

    Fields are replaced whole; null restores a field's default where it has one and is refused
    where it has none.
    """
    given = changes.model_dump(exclude_unset=True)
    before = draft_type.model_validate(current)
    try:
        after = draft_type.model_validate({**current, **given})
    except ValidationError as invalid:
        error = invalid.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(f"{field}: {error['msg']}", field=field) from None
    old, new = before.model_dump(), after.model_dump()
    return after, sorted(name for name in given if old[name] != new[name])


# --- assets -----------------------------------------------------------------------------------


def declare_asset(draft: AssetDraft, *, asset_id: UUID, owner: ActorRecord, now: datetime) -> Asset:
    """A new dormant asset of `owner`, located where the owner is unless told otherwise."""
    check_category_and_unit(draft.category, draft.unit)
    fields = draft.model_dump(exclude={"location"})
    return Asset(
        id=asset_id,
        owner_id=owner.actor_id,
        territory_id=owner.territory_id,
        **fields,
        location=_location(draft.location, owner),
        version=1,
        created_at=now,
        updated_at=now,
    )


def _asset_draft(asset: Asset) -> dict[str, Any]:
    return asset.model_dump(include=set(AssetDraft.model_fields))


def change_asset(
    asset: Asset, changes: AssetChanges, *, owner: ActorRecord, now: datetime
) -> tuple[Asset, list[str]]:
    """Apply the fields given; return the new asset and the names of the fields that changed."""
    draft, changed = _merge(AssetDraft, _asset_draft(asset), changes)
    if not changed:
        return asset, []
    check_category_and_unit(draft.category, draft.unit)
    fields = draft.model_dump(exclude={"location"})
    return _next(asset, now, **fields, location=_location(draft.location, owner)), changed


# --- offers -----------------------------------------------------------------------------------


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
        _must_be_future(end, now, "valid_to")
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
    draft, changed = _merge(OfferDraft, _offer_draft(offer), changes)
    if not changed:
        return offer, []
    valid_from, valid_to = _validity(
        draft.valid_from,
        draft.valid_to,
        now=now,
        default=default_validity,
        check_future="valid_to" in changed or "valid_from" in changed,
    )
    return _next(
        offer,
        now,
        title=draft.title,
        description=draft.description,
        performance=[Indicator.model_validate(i.model_dump()) for i in draft.performance],
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
    return _next(offer, now, status=OfferStatus.PUBLISHED)


def pause_offer(offer: Offer, *, now: datetime) -> Offer:
    if offer.status != OfferStatus.PUBLISHED:
        raise Conflict(
            f"only a published offer can be paused; this one is {offer.status}", field="status"
        )
    return _next(offer, now, status=OfferStatus.PAUSED)


def withdraw_offer(offer: Offer, *, now: datetime) -> Offer:
    if offer.status == OfferStatus.WITHDRAWN:
        raise Conflict("the offer is already withdrawn", field="status")
    return _next(offer, now, status=OfferStatus.WITHDRAWN)


def follow_asset(offer: Offer, *, now: datetime) -> Offer:
    """A new version of an offer whose asset changed: its events carry the asset's new state."""
    return _next(offer, now)


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


def may_see_asset(principal: Principal, asset: Asset) -> bool:
    return principal.actor_id == str(asset.owner_id) or principal.facilitates(
        str(asset.territory_id)
    )


# --- needs ------------------------------------------------------------------------------------

OPEN_NEED = (NeedStatus.OPEN, NeedStatus.MATCHED)


def _check_need(draft: NeedDraft, *, now: datetime, check_expiry: bool = True) -> None:
    check_category_and_unit(draft.category, draft.unit)
    if not draft.weekly_windows and not draft.dated_windows:
        raise InvalidInput("give at least one weekly or dated window", field="weekly_windows")
    longest = max(_window_minutes(draft.weekly_windows, draft.dated_windows))
    if draft.min_duration_minutes > longest:
        raise InvalidInput(
            f"a use of {draft.min_duration_minutes} min fits in no window (longest: {longest})",
            field="min_duration_minutes",
        )
    if draft.expires_at is not None and check_expiry:
        _must_be_future(draft.expires_at, now, "expires_at")


def _window_minutes(weekly: Iterable[WeeklySlot], dated: Iterable[DatedWindow]) -> list[int]:
    minutes = [slot.end_minute - slot.start_minute for slot in weekly]
    minutes += [int((window.end - window.start).total_seconds() // 60) for window in dated]
    return minutes


def publish_need(
    draft: NeedDraft,
    *,
    need_id: UUID,
    requester: ActorRecord,
    now: datetime,
    default_ttl: timedelta,
) -> Need:
    """A new open need of an admitted actor, located where it is unless told otherwise."""
    ensure_may_publish(requester)
    _check_need(draft, now=now)
    fields = draft.model_dump(exclude={"location", "expires_at"})
    return Need(
        id=need_id,
        owner_id=requester.actor_id,
        requester_kind=requester.kind,
        territory_id=requester.territory_id,
        status=NeedStatus.OPEN,
        **fields,
        location=_location(draft.location, requester),
        expires_at=draft.expires_at or now + default_ttl,
        version=1,
        created_at=now,
        updated_at=now,
    )


def change_need(
    need: Need,
    changes: NeedChanges,
    *,
    requester: ActorRecord,
    now: datetime,
    default_ttl: timedelta,
) -> tuple[Need, list[str]]:
    """Apply the fields given to an open or matched need."""
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need no longer changes", field="status")
    current = need.model_dump(include=set(NeedDraft.model_fields))
    draft, changed = _merge(NeedDraft, current, changes)
    if not changed:
        return need, []
    _check_need(draft, now=now, check_expiry="expires_at" in changed)
    fields = draft.model_dump(exclude={"location", "expires_at"})
    return _next(
        need,
        now,
        **fields,
        location=_location(draft.location, requester),
        expires_at=draft.expires_at or now + default_ttl,
    ), changed


def withdraw_need(need: Need, *, now: datetime) -> Need:
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need cannot be withdrawn", field="status")
    return _next(need, now, status=NeedStatus.WITHDRAWN)


def fulfil_need(need: Need, *, now: datetime) -> Need:
    """open or matched → fulfilled: declared by the requester, or by an agreement's completion."""
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need cannot be fulfilled", field="status")
    return _next(need, now, status=NeedStatus.FULFILLED)


def expire_need(need: Need, *, now: datetime) -> Need:
    if need.status not in OPEN_NEED or need.expires_at > now:
        raise Conflict("only an open need past its expiry date expires", field="expires_at")
    return _next(need, now, status=NeedStatus.EXPIRED)


def may_change_need(principal: Principal, need: Need) -> None:
    if principal.actor_id != str(need.owner_id):
        raise Forbidden("only the need's requester may change it")


def may_see_need(principal: Principal, need: Need) -> bool:
    """Open and matched needs are public; the others, to their requester and facilitators."""
    return (
        need.status in OPEN_NEED
        or principal.actor_id == str(need.owner_id)
        or principal.facilitates(str(need.territory_id))
    )


# --- staleness --------------------------------------------------------------------------------


def going_stale(expiry: datetime, *, now: datetime, notice: timedelta) -> bool:
    """Whether an aggregate ending at `expiry` is within the notice period (and not ended yet)."""
    return now < expiry <= now + notice


# --- event payloads: the full current state ---------------------------------------------------


def asset_state(asset: Asset) -> dict[str, Any]:
    return {
        "asset_id": str(asset.id),
        "owner_id": str(asset.owner_id),
        "territory_id": str(asset.territory_id),
        "category": asset.category,
        "title": asset.title,
        "description": asset.description,
        "capacity": asset.capacity,
        "unit": asset.unit,
        "features": list(asset.features),
        "location": asset.location,
        "availability": asset.availability,
        "idle_share": asset.idle_share,
        "version": asset.version,
    }


def offer_state(offer: Offer, asset: Asset) -> dict[str, Any]:
    return {
        "offer_id": str(offer.id),
        "provider_id": str(offer.owner_id),
        "territory_id": str(offer.territory_id),
        "status": offer.status,
        "title": offer.title,
        "description": offer.description,
        "asset": asset_state(asset),
        "performance": list(offer.performance),
        "price": offer.price,
        "eligible_requester_kinds": list(offer.eligible_requester_kinds),
        "max_distance_km": offer.max_distance_km,
        "valid_from": offer.valid_from,
        "valid_to": offer.valid_to,
        "version": offer.version,
    }


def need_state(need: Need) -> dict[str, Any]:
    return {
        "need_id": str(need.id),
        "requester_id": str(need.owner_id),
        "requester_kind": need.requester_kind,
        "territory_id": str(need.territory_id),
        "status": need.status,
        "title": need.title,
        "description": need.description,
        "category": need.category,
        "quantity": need.quantity,
        "unit": need.unit,
        "required_features": list(need.required_features),
        "weekly_windows": list(need.weekly_windows),
        "dated_windows": list(need.dated_windows),
        "min_duration_minutes": need.min_duration_minutes,
        "location": need.location,
        "max_distance_km": need.max_distance_km,
        "budget": need.budget,
        "urgency": need.urgency,
        "expires_at": need.expires_at,
        "version": need.version,
    }
