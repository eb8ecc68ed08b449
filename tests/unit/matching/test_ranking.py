"""Ranking never proposes a pair that breaks a hard filter, and finds what a full scan finds."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.matching.candidates import NeedIndex, OfferIndex
from services.matching.filters import HARD_FILTERS, first_failure
from services.matching.model import DEFAULT_POLICY, Candidate, NeedView, OfferView, Policy
from services.matching.ranking import rank_for_need, rank_for_offer, rematch
from services.matching.scoring import score_pair
from tests.unit.matching.oracles import ORACLES, broken, distance_km
from tests.unit.matching.strategies import needs, offers, policies, van_need, van_offer

dense_offers = st.lists(offers(dense=True), max_size=25, unique_by=lambda o: o.offer_id)
dense_needs = st.lists(needs(dense=True), min_size=1, max_size=6, unique_by=lambda n: n.need_id)
slow = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(deadline=None)
@given(offers(dense=True), needs(dense=True))
def test_each_filter_agrees_with_its_oracle(offer: OfferView, need: NeedView) -> None:
    # Two distance formulas may round apart by a hair right on a radius.
    radius = min(offer.max_distance_km, need.max_distance_km)
    assume(abs(distance_km(offer, need) - radius) > 1e-6)
    failed = [reason for reason, passes in HARD_FILTERS if not passes(offer, need)]
    assert failed == broken(offer, need)
    assert first_failure(offer, need) == (failed[0] if failed else None)


@slow
@given(dense_offers, dense_needs, policies())
def test_no_ranked_pair_breaks_a_hard_filter(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    index = OfferIndex()
    for offer in offer_list:
        index.add(offer)
    for need in need_list:
        ranked = rank_for_need(need, index, policy)
        for candidate in ranked:
            for reason, holds in ORACLES.items():
                assert holds(candidate.offer, need), reason
            assert candidate.score >= policy.threshold
        scores = [c.score for c in ranked]
        assert scores == sorted(scores, reverse=True)
        passing = [o for o in offer_list if first_failure(o, need) is None]
        scanned = sorted(
            (o for o in passing if score_pair(o, need, policy).total >= policy.threshold),
            key=lambda o: (-score_pair(o, need, policy).total, o.offer_id),
        )[: policy.top_k]
        assert [c.offer.offer_id for c in ranked] == [o.offer_id for o in scanned]


@slow
@given(dense_offers, dense_needs, policies())
def test_ranking_for_an_offer_finds_every_need_a_scan_finds(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    index = NeedIndex()
    for need in need_list:
        index.add(need)
    for offer in offer_list:
        ranked = rank_for_offer(offer, index, policy)
        for candidate in ranked:
            assert not broken(offer, candidate.need)
        expected = {
            n.need_id
            for n in need_list
            if first_failure(offer, n) is None
            and score_pair(offer, n, policy).total >= policy.threshold
        }
        assert {c.need.need_id for c in ranked} == expected
        assert len(ranked) == len(expected)


def test_the_van_is_proposed_and_each_broken_condition_removes_it() -> None:
    index = OfferIndex()
    index.add(van_offer())
    [candidate] = rank_for_need(van_need(), index, DEFAULT_POLICY)
    assert candidate.offer.offer_id == "offer-van"
    assert candidate.breakdown.policy_version == DEFAULT_POLICY.version
    assert rank_for_need(van_need(territory_id="vercors"), index, DEFAULT_POLICY) == []
    assert rank_for_need(van_need(max_unit_price=30), index, DEFAULT_POLICY) == []


def test_top_k_and_threshold_cut_the_list() -> None:
    index = OfferIndex()
    for i in range(8):
        index.add(van_offer(offer_id=f"offer-{i}", idle_share=i / 10))
    policy = DEFAULT_POLICY
    ranked = rank_for_need(van_need(), index, policy)
    assert len(ranked) == policy.top_k
    assert [c.offer.offer_id for c in ranked] == [f"offer-{i}" for i in range(7, 2, -1)]


def test_every_hard_filter_is_checked_by_an_oracle() -> None:
    assert [reason for reason, _ in HARD_FILTERS] == list(ORACLES)


@slow
@given(dense_offers, dense_needs, policies())
def test_a_full_rematch_ranks_every_need_as_one_by_one(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    index = OfferIndex()
    for offer in offer_list:
        index.add(offer)
    expected = {need.need_id: rank_for_need(need, index, policy) for need in need_list}
    assert rematch(need_list, index, policy) == expected


def _scan_for_need(need: NeedView, offer_list: list[OfferView], policy: Policy) -> list[Candidate]:
    found = [Candidate(o, need, score_pair(o, need, policy)) for o in offer_list]
    kept = [c for c in found if first_failure(c.offer, need) is None]
    kept = [c for c in kept if c.score >= policy.threshold]
    return sorted(kept, key=lambda c: (-c.score, c.offer.offer_id))[: policy.top_k]


def _scan_for_offer(offer: OfferView, need_list: list[NeedView], policy: Policy) -> list[Candidate]:
    found = [Candidate(offer, n, score_pair(offer, n, policy)) for n in need_list]
    kept = [c for c in found if first_failure(offer, c.need) is None]
    kept = [c for c in kept if c.score >= policy.threshold]
    return sorted(kept, key=lambda c: (-c.score, c.need.need_id))


@slow
@given(dense_offers, dense_needs, policies())
def test_the_indexes_rank_exactly_as_a_scan_in_both_directions(
    offer_list: list[OfferView], need_list: list[NeedView], policy: Policy
) -> None:
    # The same candidates, scores and breakdowns, in the same order.
    offer_index, need_index = OfferIndex(), NeedIndex()
    for offer in offer_list:
        offer_index.add(offer)
    for need in need_list:
        need_index.add(need)
    for need in need_list:
        assert rank_for_need(need, offer_index, policy) == _scan_for_need(need, offer_list, policy)
    for offer in offer_list:
        ranked = rank_for_offer(offer, need_index, policy)
        assert ranked == _scan_for_offer(offer, need_list, policy)
    expected = {n.need_id: _scan_for_need(n, offer_list, policy) for n in need_list}
    assert rematch(need_list, offer_index, policy) == expected
