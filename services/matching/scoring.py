"""The score of an offer for a need: named parts in [0, 1], weighted by the policy.

Every part is defined for any pair, not only for pairs that pass the hard filters, and keeps
itself within [0, 1], so the total is always in [0, 1] and a breakdown can explain a rejected
pair as well.
"""

from __future__ import annotations

from types import MappingProxyType

from services.matching.availability import Overlap
from services.matching.filters import distance_km, shared_time
from services.matching.model import NeedView, OfferView, Policy, PriceModel, ScoreBreakdown
from services.matching.text import similarity


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def distance_part(offer: OfferView, need: NeedView) -> float:
    """1 at the same place, falling linearly to 0 at the smaller of the two radii."""
    return distance_share(
        distance_km(offer, need), min(offer.max_distance_km, need.max_distance_km)
    )


def distance_share(distance: float, radius: float) -> float:
    """The distance part of a pair `distance` km apart whose radii allow `radius` km."""
    if radius <= 0:
        return 1.0 if distance == 0 else 0.0
    return _clamp(1 - distance / radius)


def time_overlap_part(offer: OfferView, need: NeedView) -> float:
    """Share of the need's requested time that the offer's availability covers."""
    return _share(shared_time(offer, need))


def _share(shared: Overlap) -> float:
    return _clamp(shared.total / shared.requested) if shared.requested else 0.0


def capacity_fit_part(offer: OfferView, need: NeedView) -> float:
    """1 when the capacity is exactly what is asked; less as capacity would go to waste."""
    return _clamp(min(offer.capacity, need.quantity) / max(offer.capacity, need.quantity))


def price_fit_part(offer: OfferView, need: NeedView) -> float:
    """1 for free or time credits; from 1 down to 0.5 as the price nears the budget ceiling.

    Without a ceiling there is nothing to compare with, so a priced offer gets 0.5.
    """
    if offer.price_model in (PriceModel.FREE, PriceModel.TIME_CREDITS):
        return 1.0
    ceiling = need.max_unit_price
    if ceiling is None:
        return 0.5
    if ceiling <= 0:
        return 1.0 if offer.unit_price <= 0 else 0.0
    return _clamp(1 - offer.unit_price / (2 * ceiling))


def features_part(offer: OfferView, need: NeedView) -> float:
    """Share of the need's required features that the offer has (1 when none is required)."""
    required = need.required_features
    if not required:
        return 1.0
    return len(required & offer.features) / len(required)


def text_similarity_part(offer: OfferView, need: NeedView) -> float:
    """Similarity of the French descriptions."""
    return similarity(offer.text, need.text)


def dormancy_part(offer: OfferView, need: NeedView) -> float:
    """Share of time the asset is idle: putting dormant assets to use is the point."""
    return offer.idle_share


def social_priority_part(offer: OfferView, need: NeedView) -> float:
    """Priority governance gives the requester."""
    return need.social_priority


PART_FUNCTIONS = {
    "distance": distance_part,
    "time_overlap": time_overlap_part,
    "capacity_fit": capacity_fit_part,
    "price_fit": price_fit_part,
    "features": features_part,
    "text_similarity": text_similarity_part,
    "dormancy": dormancy_part,
    "social_priority": social_priority_part,
}
"""How each part of `PARTS` is computed."""


_PARTS = tuple(PART_FUNCTIONS.items())


def score_total(offer: OfferView, need: NeedView, policy: Policy) -> float:
    """`score_pair(offer, need, policy).total`, to the last bit, without the breakdown: the
    same parts in the same order, weighted and summed the same way."""
    weights = policy.weights
    total = 0.0
    for name, part in _PARTS:
        total += weights[name] * part(offer, need)
    return _clamp(total / policy.weight_sum)


def score_pair(
    offer: OfferView, need: NeedView, policy: Policy, shared: Overlap | None = None
) -> ScoreBreakdown:
    """Score `offer` for `need` under `policy`: the weighted mean of every part, in [0, 1].

    `shared`, when the caller has already computed it, is `shared_time(offer, need)`.
    """
    parts = {
        name: _share(shared)
        if shared is not None and part is time_overlap_part
        else part(offer, need)
        for name, part in PART_FUNCTIONS.items()
    }
    return breakdown(parts, policy)


def breakdown(parts: dict[str, float], policy: Policy) -> ScoreBreakdown:
    """The breakdown of `parts` (every part of `PARTS`, in that order) under `policy`."""
    # Added one by one in the parts' order (not `sum`, whose rounding differs between Python
    # versions), so that array arithmetic (`bulk`) finds the same total to the last bit.
    weights = policy.weights
    total = 0.0
    for name, value in parts.items():
        total += weights[name] * value
    return ScoreBreakdown(
        parts=MappingProxyType(parts),
        weights=weights,
        total=_clamp(total / policy.weight_sum),
        policy_version=policy.version,
    )
