"""Immutable views of offers and needs, the matching policy and the results of matching.

The views are the matching service's read model of the offers service's aggregates, reduced
to what matching needs; the enumerations are the contracts' own, re-exported here. Times are
wall-clock times of the territory (naive datetimes), as in the contracts. Each view derives,
once, the fields that filters, scores and indexes read on every comparison (merged time
intervals, weekday masks, the text profile), so a comparison never re-parses anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from contracts.needs import Urgency as Urgency
from contracts.offers import Currency as Currency
from contracts.offers import PriceModel as PriceModel
from contracts.taxonomy import Unit as Unit
from contracts.taxonomy import is_known, units_for
from services.matching import availability
from services.matching.availability import Interval
from services.matching.text import TextProfile, profile


@dataclass(frozen=True, slots=True)
class Location:
    """A point in degrees (WGS 84), with its radians and cosine of latitude kept for
    distance computations."""

    lat: float
    lon: float
    phi: float = field(init=False, repr=False, compare=False)
    lam: float = field(init=False, repr=False, compare=False)
    cos_phi: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not -90 <= self.lat <= 90:
            raise ValueError(f"lat out of range: {self.lat}")
        if not -180 <= self.lon <= 180:
            raise ValueError(f"lon out of range: {self.lon}")
        object.__setattr__(self, "phi", math.radians(self.lat))
        object.__setattr__(self, "lam", math.radians(self.lon))
        object.__setattr__(self, "cos_phi", math.cos(self.phi))


@dataclass(frozen=True, slots=True)
class WeeklySlot:
    """A weekly recurring stretch of one day: weekday 0 = Monday, minutes since midnight."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday out of range: {self.weekday}")
        if not 0 <= self.start_minute < self.end_minute <= availability.MINUTES_PER_DAY:
            raise ValueError(f"slot must satisfy 0 <= start < end <= 1440: {self}")


@dataclass(frozen=True, slots=True)
class DatedWindow:
    """A dated stretch [start, end) in the territory's wall-clock time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("dated windows are naive wall-clock times of the territory")
        if self.end <= self.start:
            raise ValueError(f"window ends before it starts: {self}")

    @property
    def minutes(self) -> Interval:
        """The window in absolute minutes."""
        return availability.absolute_minute(self.start), availability.absolute_minute(self.end)


def _check_category_and_unit(category: str, unit: Unit) -> None:
    if not is_known(category):
        raise ValueError(f"unknown category: {category!r}")
    if unit not in units_for(category):
        raise ValueError(f"unit {unit!s} does not fit category {category!r}")


def _check_wall_clock(*moments: datetime | None) -> None:
    if any(moment is not None and moment.tzinfo is not None for moment in moments):
        raise ValueError("times of the views are naive wall-clock times, like dated windows")


def _check_share(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]: {value}")


@dataclass(frozen=True, slots=True)
class OfferView:
    """A published usage offer with the asset it puts to use.

    `eligible_requester_kinds` empty means every kind of requester is eligible. An offer with no
    weekly slot is never available. `exceptions` are dated closures. `valid_from`..`valid_to` is
    the offer's validity (None: unbounded on that side).
    """

    offer_id: str
    asset_id: str
    provider_id: str
    territory_id: str
    category: str
    capacity: float
    unit: Unit
    location: Location
    max_distance_km: float
    weekly_slots: tuple[WeeklySlot, ...]
    price_model: PriceModel
    unit_price: float
    currency: Currency = Currency.EUR
    exceptions: tuple[DatedWindow, ...] = ()
    features: frozenset[str] = frozenset()
    eligible_requester_kinds: frozenset[str] = frozenset()
    idle_share: float = 0.0
    description: str = ""
    version: int = 0
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    week: tuple[Interval, ...] = field(init=False, repr=False, compare=False)
    closures: tuple[Interval, ...] = field(init=False, repr=False, compare=False)
    weekdays: int = field(init=False, repr=False, compare=False)
    text: TextProfile = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Plain strings from a mapper become enums, so that filters may compare with `is`.
        object.__setattr__(self, "unit", Unit(self.unit))
        object.__setattr__(self, "price_model", PriceModel(self.price_model))
        object.__setattr__(self, "currency", Currency(self.currency))
        _check_category_and_unit(self.category, self.unit)
        if self.capacity <= 0:
            raise ValueError(f"capacity must be positive: {self.capacity}")
        if self.max_distance_km < 0:
            raise ValueError(f"max_distance_km must not be negative: {self.max_distance_km}")
        if self.unit_price < 0:
            raise ValueError(f"unit_price must not be negative: {self.unit_price}")
        credits = self.currency is Currency.TIME_CREDIT_HOURS
        if self.price_model is not PriceModel.FREE and credits != (
            self.price_model is PriceModel.TIME_CREDITS
        ):
            raise ValueError("time credits are the currency of the time_credits model only")
        _check_share("idle_share", self.idle_share)
        _check_wall_clock(self.valid_from, self.valid_to)
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must come after valid_from")
        week = availability.week_intervals(
            (slot.weekday, slot.start_minute, slot.end_minute) for slot in self.weekly_slots
        )
        object.__setattr__(self, "week", week)
        object.__setattr__(
            self, "closures", availability.merge(window.minutes for window in self.exceptions)
        )
        object.__setattr__(self, "weekdays", availability.week_weekdays(week))
        object.__setattr__(self, "text", profile(self.description))


@dataclass(frozen=True, slots=True)
class NeedView:
    """An open resource request.

    A need has weekly windows, dated windows or both; a use lasts at least
    `min_duration_minutes` within one window. `max_unit_price` None means no budget ceiling.
    `social_priority` comes from the policy governance sets for the requester. Weekly windows
    recur until `expires_at` (None: no end known).
    """

    need_id: str
    requester_id: str
    requester_kind: str
    territory_id: str
    category: str
    quantity: float
    unit: Unit
    location: Location
    max_distance_km: float
    accepted_price_models: frozenset[PriceModel]
    weekly_windows: tuple[WeeklySlot, ...] = ()
    dated_windows: tuple[DatedWindow, ...] = ()
    min_duration_minutes: int = 60
    max_unit_price: float | None = None
    accepts_time_credits: bool = False
    required_features: frozenset[str] = frozenset()
    urgency: Urgency = Urgency.NORMAL
    description: str = ""
    social_priority: float = 0.0
    version: int = 0
    expires_at: datetime | None = None
    project_id: str | None = None  # the territorial project it serves, carried to its matches
    week: tuple[Interval, ...] = field(init=False, repr=False, compare=False)
    dated: tuple[Interval, ...] = field(init=False, repr=False, compare=False)
    weekdays: int = field(init=False, repr=False, compare=False)
    text: TextProfile = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", Unit(self.unit))
        object.__setattr__(self, "urgency", Urgency(self.urgency))
        # Listing time credits among the accepted models and the flag say the same thing.
        models = frozenset(map(PriceModel, self.accepted_price_models))
        credits = self.accepts_time_credits or PriceModel.TIME_CREDITS in models
        if credits:
            models |= {PriceModel.TIME_CREDITS}
        object.__setattr__(self, "accepts_time_credits", credits)
        object.__setattr__(self, "accepted_price_models", models)
        _check_category_and_unit(self.category, self.unit)
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive: {self.quantity}")
        if self.max_distance_km < 0:
            raise ValueError(f"max_distance_km must not be negative: {self.max_distance_km}")
        if not self.weekly_windows and not self.dated_windows:
            raise ValueError("a need has at least one weekly or dated window")
        if self.min_duration_minutes <= 0:
            raise ValueError(f"min_duration_minutes must be positive: {self.min_duration_minutes}")
        if self.max_unit_price is not None and self.max_unit_price < 0:
            raise ValueError(f"max_unit_price must not be negative: {self.max_unit_price}")
        _check_share("social_priority", self.social_priority)
        _check_wall_clock(self.expires_at)
        week = availability.week_intervals(
            (slot.weekday, slot.start_minute, slot.end_minute) for slot in self.weekly_windows
        )
        dated = availability.merge(window.minutes for window in self.dated_windows)
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "dated", dated)
        object.__setattr__(
            self,
            "weekdays",
            availability.week_weekdays(week) | availability.dated_weekdays(dated),
        )
        object.__setattr__(self, "text", profile(self.description))


PARTS: tuple[str, ...] = (
    "distance",
    "time_overlap",
    "capacity_fit",
    "price_fit",
    "features",
    "text_similarity",
    "dormancy",
    "social_priority",
)
"""Names of the score's parts, in the order a breakdown lists them."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Matching rules that only a governance decision changes.

    `weights` gives each part of the score a non-negative weight (a part left out weighs 0);
    `threshold` is the lowest total proposed; `top_k` the most proposals per need; `ttl` how
    long a proposal waits for both acceptances; `fairness_cap` the most needs of one requester
    that one allocation round may serve.
    """

    version: int
    weights: Mapping[str, float]
    threshold: float
    top_k: int
    ttl: timedelta
    fairness_cap: int
    weight_sum: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown score parts: {sorted(unknown)}")
        if any(weight < 0 for weight in self.weights.values()):
            raise ValueError("weights must not be negative")
        if sum(self.weights.values()) <= 0:
            raise ValueError("at least one weight must be positive")
        _check_share("threshold", self.threshold)
        if self.top_k < 1 or self.fairness_cap < 1:
            raise ValueError("top_k and fairness_cap must be at least 1")
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        weights = {part: float(self.weights.get(part, 0.0)) for part in PARTS}
        object.__setattr__(self, "weights", MappingProxyType(weights))
        object.__setattr__(self, "weight_sum", math.fsum(weights.values()))


DEFAULT_POLICY = Policy(
    version=1,
    weights={
        "distance": 0.15,
        "time_overlap": 0.15,
        "capacity_fit": 0.10,
        "price_fit": 0.15,
        "features": 0.15,
        "text_similarity": 0.10,
        "dormancy": 0.10,
        "social_priority": 0.10,
    },
    threshold=0.4,
    top_k=5,
    ttl=timedelta(hours=72),
    fairness_cap=3,
)
"""Policy in force until the territory's first governance decision.

Closeness, timing, price and the features asked for weigh most, because they decide whether
the use is practical; fit of capacity, wording, dormancy of the asset and the social priority
set by governance break ties among practical offers. A total below 0.4 is not proposed, each
need gets at most five proposals, a proposal expires after three days, and one requester gets
at most three needs served per allocation round.
"""


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """Why a pair scored what it did: each part in [0, 1], the weights and the total."""

    parts: Mapping[str, float]
    weights: Mapping[str, float]
    total: float
    policy_version: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair that passed every hard filter, with its score."""

    offer: OfferView
    need: NeedView
    breakdown: ScoreBreakdown

    @property
    def score(self) -> float:
        """Total score of the pair."""
        return self.breakdown.total
