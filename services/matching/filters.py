"""Hard filters: conditions an offer and a need must both meet before any score counts.

Each filter is a named predicate `(offer, need) -> bool`. `HARD_FILTERS` lists them cheapest
first, so `first_failure` stops early on the common rejections and reaches the time
arithmetic only for pairs that already fit in every other way.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from contracts.taxonomy import category_matches
from services.matching.availability import Overlap, overlap
from services.matching.geo import haversine_radians_km
from services.matching.model import NeedView, OfferView, PriceModel

Predicate = Callable[[OfferView, NeedView], bool]


class Reason(StrEnum):
    """Why a pair was rejected."""

    TERRITORY = "territory"
    CATEGORY = "category"
    ELIGIBILITY = "eligibility"
    UNIT = "unit"
    CAPACITY = "capacity"
    PRICE_MODEL = "price_model"
    BUDGET = "budget"
    DISTANCE = "distance"
    VALIDITY = "validity"
    TIME = "time"


def same_territory(offer: OfferView, need: NeedView) -> bool:
    """Offer and need belong to the same territory."""
    return offer.territory_id == need.territory_id


def category_compatible(offer: OfferView, need: NeedView) -> bool:
    """The offer's category is the need's or lies below it in the taxonomy."""
    return category_matches(offer.category, need.category)


def requester_eligible(offer: OfferView, need: NeedView) -> bool:
    """The requester's kind is among those the offer admits (all when none is listed)."""
    kinds = offer.eligible_requester_kinds
    return not kinds or need.requester_kind in kinds


def same_unit(offer: OfferView, need: NeedView) -> bool:
    """Capacity and quantity are expressed in the same unit."""
    return offer.unit is need.unit


def capacity_sufficient(offer: OfferView, need: NeedView) -> bool:
    """The offer's capacity covers the quantity asked for."""
    return need.quantity <= offer.capacity


def price_model_accepted(offer: OfferView, need: NeedView) -> bool:
    """Free always fits, time credits only when the need accepts them, otherwise the model
    must be one the need accepts."""
    if offer.price_model is PriceModel.FREE:
        return True
    if offer.price_model is PriceModel.TIME_CREDITS:
        return need.accepts_time_credits
    return offer.price_model in need.accepted_price_models


def within_budget(offer: OfferView, need: NeedView) -> bool:
    """The unit price in euros is at most the need's ceiling (free and time credits aside)."""
    if offer.price_model in (PriceModel.FREE, PriceModel.TIME_CREDITS):
        return True
    return need.max_unit_price is None or offer.unit_price <= need.max_unit_price


_last_distance: tuple[object, object, float] = (None, None, 0.0)


def distance_km(offer: OfferView, need: NeedView) -> float:
    """Great-circle distance between the offer's asset and the need's location.

    The last pair's answer is kept, as in `shared_time`: the radius filter and the distance
    part of the score ask for it in a row.
    """
    global _last_distance
    last_offer, last_need, distance = _last_distance
    if last_offer is offer and last_need is need:
        return distance
    a, b = offer.location, need.location
    distance = haversine_radians_km(a.phi, a.lam, a.cos_phi, b.phi, b.lam, b.cos_phi)
    _last_distance = (offer, need, distance)
    return distance


def within_both_radii(offer: OfferView, need: NeedView) -> bool:
    """The distance is within the offer's maximum distance and the need's."""
    return distance_km(offer, need) <= min(offer.max_distance_km, need.max_distance_km)


def within_validity(offer: OfferView, need: NeedView) -> bool:
    """The need falls inside the offer's validity: each dated window lies between `valid_from`
    and `valid_to`, and weekly windows, which recur until the need expires, are served that
    long (the offer is valid from before the need's expiry until at least then)."""
    start, end = offer.valid_from, offer.valid_to
    for window in need.dated_windows:
        if (start is not None and window.start < start) or (end is not None and window.end > end):
            return False
    if need.weekly_windows and need.expires_at is not None:
        if start is not None and start >= need.expires_at:
            return False
        if end is not None and end < need.expires_at:
            return False
    return True


_last_overlap: tuple[object, object, Overlap] = (None, None, Overlap(0, 0, 0))


def shared_time(offer: OfferView, need: NeedView) -> Overlap:
    """Overlap of the offer's availability with the need's windows.

    The last pair's answer is kept: ranking asks for it twice in a row, once to filter and
    once to score. The views are immutable, so identity is a safe key.
    """
    global _last_overlap
    last_offer, last_need, shared = _last_overlap
    if last_offer is offer and last_need is need:
        return shared
    shared = overlap(offer.week, offer.closures, need.week, need.dated)
    _last_overlap = (offer, need, shared)
    return shared


def time_overlaps(offer: OfferView, need: NeedView) -> bool:
    """Some stretch of availability shared with a need's window lasts the minimum duration."""
    if not offer.weekdays & need.weekdays:
        return False
    return shared_time(offer, need).longest >= need.min_duration_minutes


HARD_FILTERS: tuple[tuple[Reason, Predicate], ...] = (
    (Reason.TERRITORY, same_territory),
    (Reason.CATEGORY, category_compatible),
    (Reason.ELIGIBILITY, requester_eligible),
    (Reason.UNIT, same_unit),
    (Reason.CAPACITY, capacity_sufficient),
    (Reason.PRICE_MODEL, price_model_accepted),
    (Reason.BUDGET, within_budget),
    (Reason.DISTANCE, within_both_radii),
    (Reason.VALIDITY, within_validity),
    (Reason.TIME, time_overlaps),
)


BEYOND_INDEX: tuple[Predicate, ...] = (within_both_radii, within_validity, time_overlaps)
"""The hard filters that the indexes (`candidates`) do not apply exactly: a pair they return
passes every other one, so ranking checks only these."""


def first_failure(offer: OfferView, need: NeedView) -> Reason | None:
    """The first hard filter the pair fails, in `HARD_FILTERS` order, or None if it passes."""
    for reason, passes in HARD_FILTERS:
        if not passes(offer, need):
            return reason
    return None
