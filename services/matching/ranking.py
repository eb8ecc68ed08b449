"""Ranked, explained candidates in both directions: offers for a need, needs for an offer."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from services.matching.bulk import rematch_all
from services.matching.candidates import NeedIndex, OfferIndex
from services.matching.filters import BEYOND_INDEX
from services.matching.model import Candidate, NeedView, OfferView, Policy
from services.matching.scoring import score_pair, score_total

_DISTANCE, _VALIDITY, _TIME = BEYOND_INDEX


def _passes(offer: OfferView, need: NeedView) -> bool:
    """The hard filters left after an index query (see `filters.BEYOND_INDEX`)."""
    return _DISTANCE(offer, need) and _VALIDITY(offer, need) and _TIME(offer, need)


def _scored(pairs: Iterable[tuple[OfferView, NeedView]], policy: Policy) -> list[Candidate]:
    kept = []
    for offer, need in pairs:
        if not _passes(offer, need):
            continue
        breakdown = score_pair(offer, need, policy)
        if breakdown.total >= policy.threshold:
            kept.append(Candidate(offer, need, breakdown))
    return kept


def rank_for_need(need: NeedView, offers: OfferIndex, policy: Policy) -> list[Candidate]:
    """The best `policy.top_k` offers for `need` that pass every hard filter and reach the
    threshold, best first (ties broken by offer id so the order is stable).

    Only the pairs kept get their breakdown: the others are ranked by their total alone.
    """
    threshold = policy.threshold
    kept = []
    for offer in offers.candidates_for_need(need):
        if _passes(offer, need):
            total = score_total(offer, need, policy)
            if total >= threshold:
                kept.append((-total, offer.offer_id, offer))
    best = heapq.nsmallest(policy.top_k, kept, key=lambda c: (c[0], c[1]))
    return [Candidate(offer, need, score_pair(offer, need, policy)) for _, _, offer in best]


def rank_for_offer(offer: OfferView, needs: NeedIndex, policy: Policy) -> list[Candidate]:
    """Every open need that `offer` passes the hard filters for and reaches the threshold,
    best first.

    Not cut to `top_k`: `top_k` counts proposals per need, so whether the offer displaces one
    of a need's current proposals is for the caller to decide with the need's other matches.
    """
    kept = _scored(((offer, need) for need in needs.candidates_for_offer(offer)), policy)
    return sorted(kept, key=lambda c: (-c.score, c.need.need_id))


def rematch(
    needs: Iterable[NeedView], offers: OfferIndex, policy: Policy
) -> dict[str, list[Candidate]]:
    """`rank_for_need` for every need, by need id: a full re-match, after a policy change or a
    rebuild of the read model. Ranked with array arithmetic (`bulk`), need by need when the
    offers name more requester kinds or features than that handles."""
    needs = list(needs)
    found = rematch_all(needs, offers.columns, policy)
    if found is None:
        found = {need.need_id: rank_for_need(need, offers, policy) for need in needs}
    return found
