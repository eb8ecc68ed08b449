"""The score: named parts in [0, 1], weighted by the policy."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings

from services.matching.model import (
    DEFAULT_POLICY,
    PARTS,
    Location,
    NeedView,
    OfferView,
    Policy,
    PriceModel,
    WeeklySlot,
)
from services.matching.scoring import PART_FUNCTIONS, score_pair
from services.matching.text import fold, profile, similarity, words
from tests.unit.matching.strategies import needs, offers, policies, van_need, van_offer


def _only(part: str) -> Policy:
    return Policy(
        version=2, weights={part: 1.0}, threshold=0, top_k=1, ttl=timedelta(hours=1), fairness_cap=1
    )


@settings(deadline=None)
@given(offers(), needs(), policies())
def test_score_is_always_within_zero_and_one(
    offer: OfferView, need: NeedView, policy: Policy
) -> None:
    breakdown = score_pair(offer, need, policy)
    assert 0.0 <= breakdown.total <= 1.0
    assert tuple(breakdown.parts) == PARTS
    assert all(0.0 <= value <= 1.0 for value in breakdown.parts.values())
    expected = sum(policy.weights[p] * v for p, v in breakdown.parts.items())
    assert breakdown.total == pytest.approx(expected / sum(policy.weights.values()))
    assert breakdown.policy_version == policy.version


def test_every_part_has_its_function() -> None:
    assert tuple(PART_FUNCTIONS) == PARTS


def test_the_van_example_scores_well_and_explains_itself() -> None:
    breakdown = score_pair(van_offer(), van_need(), DEFAULT_POLICY)
    parts = breakdown.parts
    assert parts["time_overlap"] == 1.0
    assert parts["features"] == 1.0
    assert parts["capacity_fit"] == pytest.approx(8 / 12)
    assert parts["price_fit"] == pytest.approx(1 - 35 / 80)
    assert parts["dormancy"] == 0.8
    assert parts["social_priority"] == 0.6
    assert 0 < parts["distance"] < 1
    assert parts["text_similarity"] > 0.2
    assert breakdown.total >= DEFAULT_POLICY.threshold


def test_a_single_weight_makes_the_total_that_part() -> None:
    offer, need = van_offer(idle_share=0.3), van_need()
    assert score_pair(offer, need, _only("dormancy")).total == pytest.approx(0.3)


def test_closer_cheaper_better_fitting_offers_score_higher() -> None:
    need = van_need()
    near = van_offer(location=need.location)
    assert score_pair(near, need, _only("distance")).total == 1.0
    assert score_pair(van_offer(), need, _only("distance")).total < 1.0
    exact = van_offer(capacity=8)
    assert score_pair(exact, need, _only("capacity_fit")).total == 1.0
    free = van_offer(price_model=PriceModel.FREE, unit_price=0)
    assert score_pair(free, need, _only("price_fit")).total == 1.0
    at_ceiling = van_offer(unit_price=40)
    assert score_pair(at_ceiling, need, _only("price_fit")).total == pytest.approx(0.5)


def test_time_overlap_is_the_share_of_requested_time_covered() -> None:
    need = van_need(
        weekly_windows=(WeeklySlot(5, 8 * 60, 12 * 60), WeeklySlot(6, 8 * 60, 12 * 60)),
        min_duration_minutes=60,
    )
    assert score_pair(van_offer(), need, _only("time_overlap")).total == pytest.approx(0.5)


def test_features_part_counts_the_required_features_covered() -> None:
    need = van_need(required_features=frozenset({"refrigerated", "with_driver"}))
    assert score_pair(van_offer(), need, _only("features")).total == 0.5
    assert (
        score_pair(van_offer(), van_need(required_features=frozenset()), _only("features")).total
        == 1.0
    )


def test_french_text_is_folded_and_stopwords_dropped() -> None:
    assert fold("Réfrigéré, Œuvre, ça") == "refrigere, oeuvre, ca"
    assert words("Le camion de la ferme et des paniers") == ["camion", "ferme", "paniers"]
    assert similarity(profile("camion réfrigéré"), profile("CAMION REFRIGERE")) == 1.0
    assert similarity(profile("le camion"), profile("un camion")) == 1.0
    plural = similarity(profile("fourgon frigorifique"), profile("fourgons frigorifiques"))
    unrelated = similarity(profile("fourgon frigorifique"), profile("atelier de menuiserie"))
    assert plural > 0.7 > 0.1 > unrelated
    assert similarity(profile(""), profile("camion")) == 0.0


def test_zero_radius_scores_distance_only_at_the_same_place() -> None:
    need = van_need(max_distance_km=0)
    assert score_pair(van_offer(location=need.location), need, _only("distance")).total == 1.0
    away = van_offer(location=Location(need.location.lat + 0.01, need.location.lon))
    assert math.isclose(score_pair(away, need, _only("distance")).total, 0.0)


def test_policies_reject_bad_weights() -> None:
    for weights in ({"distance": -1.0}, {"nonsense": 1.0}, {"distance": 0.0}):
        with pytest.raises(ValueError):
            Policy(
                version=1,
                weights=weights,
                threshold=0.5,
                top_k=1,
                ttl=timedelta(hours=1),
                fairness_cap=1,
            )
    assert set(DEFAULT_POLICY.weights) == set(PARTS)
    assert math.isclose(sum(DEFAULT_POLICY.weights.values()), 1.0)
