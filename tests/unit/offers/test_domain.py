"""Pure tests of the offers domain: no database, no broker, no HTTP."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.actors import ActorKind, ActorStatus, Location
from contracts.needs import NeedStatus
from contracts.offers import Currency, OfferStatus, PriceModel, WeeklySlot
from contracts.taxonomy import Unit
from services.offers import domain, geo
from services.offers.domain import ActorRecord
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

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
TTL = timedelta(days=60)
DIE = Location(lat=44.7536, lon=5.37, commune="Die")


def actor(
    kind: ActorKind = ActorKind.BUSINESS,
    status: ActorStatus = ActorStatus.ACTIVE,
    location: Location | None = DIE,
    version: int = 2,
) -> ActorRecord:
    return ActorRecord(
        actor_id=uuid.uuid4(),
        territory_id=uuid.UUID(int=1),
        kind=kind,
        status=status,
        location=location,
        version=version,
    )


def principal(of: ActorRecord, *roles: str) -> Principal:
    return Principal(
        actor_id=str(of.actor_id),
        territory_id=str(of.territory_id),
        kind=str(of.kind),
        roles=frozenset(roles),
        token_id="t",
    )


def asset_draft(**overrides: Any) -> AssetDraft:
    body = {
        "category": "refrigerated_van",
        "title": "Fourgon",
        "capacity": 12,
        "unit": "m3",
        "features": ["refrigerated", "tail_lift", "refrigerated"],
        "availability": {"weekly": [{"weekday": 5, "start_minute": 420, "end_minute": 780}]},
        "idle_share": 0.8,
    }
    return AssetDraft.model_validate({**body, **overrides})


def offer_draft(asset_id: uuid.UUID, **overrides: Any) -> OfferDraft:
    body = {
        "asset_id": str(asset_id),
        "title": "Transport frigorifique",
        "price": {"model": "per_use", "unit_price": 35},
        "max_distance_km": 25,
    }
    return OfferDraft.model_validate({**body, **overrides})


def need_draft(**overrides: Any) -> NeedDraft:
    body = {
        "title": "Fourgon le samedi",
        "category": "van",
        "quantity": 8,
        "unit": "m3",
        "weekly_windows": [{"weekday": 5, "start_minute": 480, "end_minute": 720}],
        "min_duration_minutes": 240,
        "max_distance_km": 15,
        "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
    }
    return NeedDraft.model_validate({**body, **overrides})


def field_of(error: pytest.ExceptionInfo[Any]) -> str | None:
    return error.value.field


# --- taxonomy rules ---------------------------------------------------------------------------


def test_category_must_exist_and_unit_must_fit_it() -> None:
    domain.check_category_and_unit("refrigerated_van", Unit.M3)  # inherited from van
    with pytest.raises(InvalidInput) as unknown:
        domain.check_category_and_unit("spaceship", Unit.M3)
    assert field_of(unknown) == "category"
    with pytest.raises(InvalidInput) as unfit:
        domain.check_category_and_unit("refrigerated_van", Unit.SEAT)
    assert field_of(unfit) == "unit"


# --- assets -----------------------------------------------------------------------------------


def test_declared_asset_defaults_to_its_owners_location_and_dedupes_features() -> None:
    owner = actor()
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    assert asset.location == DIE and asset.owner_id == owner.actor_id
    assert asset.territory_id == owner.territory_id
    assert asset.features == ["refrigerated", "tail_lift"]
    assert asset.version == 1


def test_an_asset_without_location_needs_an_owner_with_one() -> None:
    with pytest.raises(InvalidInput) as error:
        domain.declare_asset(
            asset_draft(), asset_id=uuid.uuid4(), owner=actor(location=None), now=NOW
        )
    assert field_of(error) == "location"


def test_changing_an_asset_bumps_its_version_and_names_the_fields() -> None:
    owner = actor()
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    later = NOW + timedelta(hours=1)
    changed, names = domain.change_asset(
        asset, AssetChanges(capacity=10, title="Fourgon"), owner=owner, now=later
    )
    assert names == ["capacity"] and changed.version == 2 and changed.updated_at == later
    same, none = domain.change_asset(asset, AssetChanges(title="Fourgon"), owner=owner, now=later)
    assert none == [] and same is asset


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": None}, "title"),
        ({"unit": "seat"}, "unit"),
        ({"category": "meeting_room"}, "unit"),
        ({"category": "nowhere"}, "category"),
    ],
)
def test_asset_changes_are_validated_as_a_whole(changes: dict[str, Any], field: str) -> None:
    owner = actor()
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    with pytest.raises(InvalidInput) as error:
        domain.change_asset(asset, AssetChanges.model_validate(changes), owner=owner, now=NOW)
    assert field_of(error) == field


# --- offers -----------------------------------------------------------------------------------


def test_price_currency_follows_the_model() -> None:
    assert (
        domain.resolve_price(PriceIn(model=PriceModel.PER_USE, unit_price=35)).currency
        == Currency.EUR
    )
    credits = domain.resolve_price(PriceIn(model=PriceModel.TIME_CREDITS, unit_price=2))
    assert credits.currency == Currency.TIME_CREDIT_HOURS
    free = PriceIn(model=PriceModel.FREE, currency=Currency.TIME_CREDIT_HOURS)
    assert domain.resolve_price(free).unit_price == 0
    with pytest.raises(InvalidInput) as error:
        domain.resolve_price(
            PriceIn(model=PriceModel.PER_HOUR, currency=Currency.TIME_CREDIT_HOURS)
        )
    assert field_of(error) == "price.currency"
    with pytest.raises(InvalidInput) as error:
        domain.resolve_price(PriceIn(model=PriceModel.FREE, unit_price=3))
    assert field_of(error) == "price.unit_price"


def make_offer(owner: ActorRecord, **overrides: Any) -> domain.Offer:
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    return domain.create_offer(
        offer_draft(asset.id, **overrides),
        offer_id=uuid.uuid4(),
        asset=asset,
        owner=owner,
        now=NOW,
        default_validity=YEAR,
    )


def test_an_offer_is_made_on_ones_own_asset_only() -> None:
    owner, other = actor(), actor()
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    with pytest.raises(Forbidden) as error:
        domain.create_offer(
            offer_draft(asset.id),
            offer_id=uuid.uuid4(),
            asset=asset,
            owner=other,
            now=NOW,
            default_validity=YEAR,
        )
    assert field_of(error) == "asset_id"


def test_new_offer_is_published_valid_for_the_default_period() -> None:
    offer = make_offer(actor())
    assert offer.status == OfferStatus.PUBLISHED and offer.version == 1
    assert (offer.valid_from, offer.valid_to) == (NOW, NOW + YEAR)


def test_a_pending_actor_may_draft_but_not_publish() -> None:
    pending = actor(status=ActorStatus.PENDING)
    with pytest.raises(Forbidden):
        make_offer(pending)
    draft = make_offer(pending, publish=False)
    assert draft.status == OfferStatus.DRAFT
    with pytest.raises(Forbidden):
        domain.publish_offer(draft, owner=pending, now=NOW)


def test_offer_validity_must_end_after_it_starts_and_in_the_future() -> None:
    with pytest.raises(InvalidInput) as backwards:
        make_offer(actor(), valid_from="2026-07-01T00:00:00Z", valid_to="2026-06-15T00:00:00Z")
    assert field_of(backwards) == "valid_to"
    with pytest.raises(InvalidInput) as past:
        make_offer(actor(), valid_to="2026-05-01T00:00:00Z")
    assert field_of(past) == "valid_to"


def test_offer_lifecycle() -> None:
    owner = actor()
    draft = make_offer(owner, publish=False)
    published = domain.publish_offer(draft, owner=owner, now=NOW)
    paused = domain.pause_offer(published, now=NOW)
    resumed = domain.publish_offer(paused, owner=owner, now=NOW)
    withdrawn = domain.withdraw_offer(resumed, now=NOW)
    assert [o.status for o in (draft, published, paused, resumed, withdrawn)] == [
        "draft",
        "published",
        "paused",
        "published",
        "withdrawn",
    ]
    assert [o.version for o in (draft, published, paused, resumed, withdrawn)] == [1, 2, 3, 4, 5]
    for move in (
        lambda: domain.publish_offer(published, owner=owner, now=NOW),
        lambda: domain.pause_offer(draft, now=NOW),
        lambda: domain.withdraw_offer(withdrawn, now=NOW),
        lambda: domain.publish_offer(withdrawn, owner=owner, now=NOW),
        lambda: domain.change_offer(
            withdrawn, OfferChanges(title="x"), now=NOW, default_validity=YEAR
        ),
    ):
        with pytest.raises(Conflict):
            move()


def test_an_offer_whose_validity_ended_is_resumed_only_once_extended() -> None:
    owner = actor()
    paused = domain.pause_offer(make_offer(owner, valid_to="2026-06-10T00:00:00Z"), now=NOW)
    later = datetime(2026, 6, 11, tzinfo=UTC)
    with pytest.raises(Conflict) as error:
        domain.publish_offer(paused, owner=owner, now=later)
    assert field_of(error) == "valid_to"
    # An unrelated change is still allowed on the ended offer; extending it makes it publishable.
    retitled, names = domain.change_offer(
        paused, OfferChanges(title="Nouveau titre"), now=later, default_validity=YEAR
    )
    assert names == ["title"]
    extended, names = domain.change_offer(
        retitled,
        OfferChanges.model_validate({"valid_to": "2026-09-01T00:00:00Z"}),
        now=later,
        default_validity=YEAR,
    )
    assert names == ["valid_to"]
    assert domain.publish_offer(extended, owner=owner, now=later).status == "published"


def test_following_an_asset_change_is_a_new_version() -> None:
    offer = make_offer(actor())
    assert domain.follow_asset(offer, now=NOW).version == offer.version + 1


# --- needs ------------------------------------------------------------------------------------


def make_need(requester: ActorRecord | None = None, **overrides: Any) -> domain.Need:
    return domain.publish_need(
        need_draft(**overrides),
        need_id=uuid.uuid4(),
        requester=requester or actor(kind=ActorKind.ASSOCIATION),
        now=NOW,
        default_ttl=TTL,
    )


def test_a_new_need_is_open_with_the_requesters_kind_and_location() -> None:
    requester = actor(kind=ActorKind.ASSOCIATION)
    need = make_need(requester)
    assert need.status == NeedStatus.OPEN and need.version == 1
    assert need.requester_kind == ActorKind.ASSOCIATION and need.location == DIE
    assert need.expires_at == NOW + TTL


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weekly_windows": []}, "weekly_windows"),
        ({"min_duration_minutes": 241}, "min_duration_minutes"),
        ({"expires_at": "2026-05-31T00:00:00Z"}, "expires_at"),
        ({"category": "meeting_room"}, "unit"),
    ],
)
def test_need_rules(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        make_need(**overrides)
    assert field_of(error) == field


def test_a_dated_window_alone_is_enough() -> None:
    need = make_need(
        weekly_windows=[],
        dated_windows=[{"start": "2026-06-06T08:00:00+02:00", "end": "2026-06-06T10:00:00Z"}],
    )
    assert need.dated_windows[0].end.hour == 12  # wall-clock time in the territory (CEST)


def test_only_an_admitted_actor_publishes_a_need() -> None:
    with pytest.raises(Forbidden):
        make_need(actor(status=ActorStatus.PENDING))


def test_need_lifecycle() -> None:
    requester = actor(kind=ActorKind.ASSOCIATION)
    need = make_need(requester)
    changed, names = domain.change_need(
        need, NeedChanges(quantity=6), requester=requester, now=NOW, default_ttl=TTL
    )
    assert names == ["quantity"] and changed.version == 2
    fulfilled = domain.fulfil_need(changed, now=NOW)
    assert fulfilled.status == NeedStatus.FULFILLED and fulfilled.version == 3
    for move in (
        lambda: domain.fulfil_need(fulfilled, now=NOW),
        lambda: domain.withdraw_need(fulfilled, now=NOW),
        lambda: domain.change_need(
            fulfilled, NeedChanges(quantity=1), requester=requester, now=NOW, default_ttl=TTL
        ),
    ):
        with pytest.raises(Conflict):
            move()
    matched = need.model_copy(update={"status": NeedStatus.MATCHED})
    assert domain.withdraw_need(matched, now=NOW).status == NeedStatus.WITHDRAWN


def test_a_need_expires_only_past_its_date() -> None:
    need = make_need(expires_at="2026-06-03T00:00:00Z")
    with pytest.raises(Conflict):
        domain.expire_need(need, now=NOW)
    expired = domain.expire_need(need, now=datetime(2026, 6, 3, tzinfo=UTC))
    assert expired.status == NeedStatus.EXPIRED and expired.version == 2


# --- who may do what --------------------------------------------------------------------------


def test_visibility_and_moderation() -> None:
    owner, other = actor(), actor()
    facilitator = principal(actor(), "facilitator")
    offer = make_offer(owner, publish=False)
    assert domain.may_see_offer(principal(owner), offer)
    assert not domain.may_see_offer(principal(other), offer)
    assert domain.may_see_offer(facilitator, offer)
    published = domain.publish_offer(offer, owner=owner, now=NOW)
    assert domain.may_see_offer(principal(other), published)
    with pytest.raises(Forbidden):
        domain.may_change_offer(principal(other), published)
    with pytest.raises(Forbidden):
        domain.may_change_offer(facilitator, published)
    domain.may_pause_offer(facilitator, published)
    with pytest.raises(Forbidden):
        domain.may_pause_offer(principal(other), published)

    need = make_need()
    assert domain.may_see_need(principal(other), need)
    withdrawn = domain.withdraw_need(need, now=NOW)
    assert not domain.may_see_need(principal(other), withdrawn)


def test_writers_must_be_known_and_not_suspended() -> None:
    me = actor()
    with pytest.raises(Forbidden):
        domain.ensure_may_write(principal(me), None)
    with pytest.raises(Forbidden):
        domain.ensure_may_write(principal(me), actor(status=ActorStatus.SUSPENDED))
    assert domain.ensure_may_write(principal(me), me) is me


# --- contract value rules ---------------------------------------------------------------------


def test_weekly_slot_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError) as error:
        WeeklySlot(weekday=5, start_minute=600, end_minute=600)
    assert error.value.errors()[0]["loc"] == ("end_minute",)


def test_event_state_carries_the_full_offer_and_asset() -> None:
    owner = actor()
    asset = domain.declare_asset(asset_draft(), asset_id=uuid.uuid4(), owner=owner, now=NOW)
    offer = domain.create_offer(
        offer_draft(asset.id),
        offer_id=uuid.uuid4(),
        asset=asset,
        owner=owner,
        now=NOW,
        default_validity=YEAR,
    )
    state = domain.offer_state(offer, asset)
    assert state["asset"]["category"] == "refrigerated_van"
    assert state["asset"]["availability"] == asset.availability
    assert state["provider_id"] == str(owner.actor_id) and state["version"] == 1


# --- geography --------------------------------------------------------------------------------

latitudes = st.floats(-89.0, 89.0)
longitudes = st.floats(-180.0, 180.0)


@given(
    lat=latitudes,
    lon=longitudes,
    radius=st.floats(0.1, 500.0),
    bearing=st.floats(0, 2 * math.pi),
    fraction=st.floats(0, 1),
)
def test_the_bounding_box_holds_every_point_within_the_radius(
    lat: float, lon: float, radius: float, bearing: float, fraction: float
) -> None:
    # The point at `fraction` of the radius along `bearing` (spherical destination formula).
    angle = radius * fraction / geo.EARTH_RADIUS_KM
    phi, lam = math.radians(lat), math.radians(lon)
    phi2 = math.asin(
        math.sin(phi) * math.cos(angle) + math.cos(phi) * math.sin(angle) * math.cos(bearing)
    )
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(phi),
        math.cos(angle) - math.sin(phi) * math.sin(phi2),
    )
    lat2 = math.degrees(phi2)
    lon2 = (math.degrees(lam2) + 540) % 360 - 180
    assert geo.haversine_km(lat, lon, lat2, lon2) <= radius + 1e-6
    box = geo.bounding_box(lat, lon, radius)
    assert box.min_lat <= lat2 <= box.max_lat
    if box.min_lon is not None and box.max_lon is not None:
        assert box.min_lon <= lon2 <= box.max_lon


def test_haversine_knows_the_drome() -> None:
    assert geo.haversine_km(44.7536, 5.37, 44.7283, 5.0224) == pytest.approx(27.6, abs=0.3)
    assert geo.haversine_km(44.7536, 5.37, 44.7536, 5.37) == 0
