"""Proposals for many needs at once, when they compete for the same offers' capacity.

A batch re-match (after a policy change, or asked by a facilitator) fills each need's free
proposal slots in rounds. Each round is an allocation (`allocation.allocate`): at most one more
offer per need, at most the policy's fairness cap of needs per requester, the largest total
score; what a round proposes of an offer's capacity is gone for the next rounds. So a batch
never proposes more of an offer than it has left, and a need gets a second or third proposal
only from capacity that no other need's earlier proposal holds. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.matching.allocation import allocate
from services.matching.model import Candidate


def allocation_rounds(
    candidates: Mapping[str, Sequence[Candidate]],
    slots: Mapping[str, int],
    capacities: Mapping[str, float],
    fairness_cap: int,
) -> list[list[Candidate]]:
    """The pairs to propose, round by round.

    `candidates` maps a need id to its admissible candidates, `slots` to how many more
    proposals it may get; `capacities` maps an offer id to the capacity it has left (an offer
    it does not list has its full capacity).
    """
    remaining = {need: list(found) for need, found in candidates.items() if found}
    left = {need: slots.get(need, 0) for need in remaining}
    capacity = dict(capacities)
    rounds: list[list[Candidate]] = []
    while True:
        contenders = [
            c
            for need, found in remaining.items()
            if left[need] > 0
            for c in found
            if c.need.quantity <= capacity.get(c.offer.offer_id, c.offer.capacity)
        ]
        chosen = allocate(contenders, capacity, fairness_cap) if contenders else []
        if not chosen:
            return rounds
        picked = {(a.need_id, a.offer_id) for a in chosen}
        rounds.append([c for c in contenders if (c.need.need_id, c.offer.offer_id) in picked])
        for c in rounds[-1]:
            offer_id = c.offer.offer_id
            capacity[offer_id] = capacity.get(offer_id, c.offer.capacity) - c.need.quantity
            left[c.need.need_id] -= 1
            remaining[c.need.need_id] = [
                other for other in remaining[c.need.need_id] if other.offer.offer_id != offer_id
            ]
