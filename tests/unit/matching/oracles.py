"""Independent restatements of the hard filters, written without the code under test.

Distances use Vincenty's spherical formula instead of the haversine; time uses sets of minutes
instead of interval arithmetic (validity too); the taxonomy is walked through parents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from contracts.taxonomy import CATEGORIES
from services.matching.filters import Reason
from services.matching.model import NeedView, OfferView, PriceModel

WEEK = 7 * 1440


def _week_minutes(slots: tuple[tuple[int, int, int], ...]) -> set[int]:
    return {day * 1440 + m for day, start, end in slots for m in range(start, end)}


def _dated_minutes(offer: OfferView, need: NeedView) -> set[int]:
    week = _week_minutes(
        tuple((s.weekday, s.start_minute, s.end_minute) for s in offer.weekly_slots)
    )
    closed = {m for w in offer.exceptions for m in range(*w.minutes)}
    shared = set()
    for window in need.dated_windows:
        for minute in range(*window.minutes):
            # Absolute minute 1440 (day ordinal 1) is Monday 00:00.
            if (minute - 1440) % WEEK in week and minute not in closed:
                shared.add(minute)
    return shared


def _longest(minutes: set[int], circular: bool) -> int:
    if circular and len(minutes) == WEEK:
        return WEEK
    best = 0
    for minute in minutes:
        before = (minute - 1) % WEEK if circular else minute - 1
        if before in minutes:
            continue
        length = 0
        while minute in minutes:
            length += 1
            minute = (minute + 1) % WEEK if circular else minute + 1
        best = max(best, length)
    return best


def _time(offer: OfferView, need: NeedView) -> bool:
    weekly = _week_minutes(
        tuple((s.weekday, s.start_minute, s.end_minute) for s in offer.weekly_slots)
    ) & _week_minutes(tuple((s.weekday, s.start_minute, s.end_minute) for s in need.weekly_windows))
    longest = max(_longest(weekly, circular=True), _longest(_dated_minutes(offer, need), False))
    return longest >= need.min_duration_minutes


def distance_km(offer: OfferView, need: NeedView) -> float:
    """Vincenty's formula on the sphere."""
    p1, p2 = math.radians(offer.location.lat), math.radians(need.location.lat)
    dl = math.radians(offer.location.lon - need.location.lon)
    across = math.hypot(
        math.cos(p2) * math.sin(dl),
        math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl),
    )
    along = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.atan2(across, along)


def _category(offer: OfferView, need: NeedView) -> bool:
    code: str | None = offer.category
    while code is not None:
        if code == need.category:
            return True
        code = CATEGORIES[code].parent
    return False


def _price_model(offer: OfferView, need: NeedView) -> bool:
    return (
        offer.price_model == PriceModel.FREE
        or (offer.price_model == PriceModel.TIME_CREDITS and need.accepts_time_credits)
        or offer.price_model in need.accepted_price_models
    )


def _budget(offer: OfferView, need: NeedView) -> bool:
    return (
        offer.price_model in (PriceModel.FREE, PriceModel.TIME_CREDITS)
        or need.max_unit_price is None
        or offer.unit_price <= need.max_unit_price
    )


def _distance(offer: OfferView, need: NeedView) -> bool:
    # The tolerance absorbs the rounding difference between the two formulas.
    return distance_km(offer, need) <= min(offer.max_distance_km, need.max_distance_km) + 1e-9


def _minute(moment: datetime) -> int:
    return (moment - datetime(1, 1, 1)) // timedelta(minutes=1) + 1440


def _validity(offer: OfferView, need: NeedView) -> bool:
    """Every minute the need may use lies in the offer's validity; weekly windows are used up to
    the need's last minute before it expires."""
    lo = -math.inf if offer.valid_from is None else _minute(offer.valid_from)
    hi = math.inf if offer.valid_to is None else _minute(offer.valid_to)
    used = [(_minute(w.start), _minute(w.end)) for w in need.dated_windows]
    if need.weekly_windows and need.expires_at is not None:
        last = _minute(need.expires_at)
        used.append((last - 1, last))
    return all(lo <= minute < hi for start, end in used for minute in range(start, end))


ORACLES: dict[Reason, Callable[[OfferView, NeedView], bool]] = {
    Reason.TERRITORY: lambda o, n: o.territory_id == n.territory_id,
    Reason.CATEGORY: _category,
    Reason.ELIGIBILITY: lambda o, n: (
        not o.eligible_requester_kinds or n.requester_kind in o.eligible_requester_kinds
    ),
    Reason.UNIT: lambda o, n: o.unit == n.unit,
    Reason.CAPACITY: lambda o, n: n.quantity <= o.capacity,
    Reason.PRICE_MODEL: _price_model,
    Reason.BUDGET: _budget,
    Reason.DISTANCE: _distance,
    Reason.VALIDITY: _validity,
    Reason.TIME: _time,
}


def broken(offer: OfferView, need: NeedView) -> list[Reason]:
    """Every condition the pair breaks, judged by the oracles."""
    return [reason for reason, holds in ORACLES.items() if not holds(offer, need)]
