"""Proposals for many needs at once, when they compete for the same offers' capacity.

A batch re-match (after a policy change, or asked by a facilitator) fills each need's free
proposal slots in rounds. Each round is an allocation (`allocation.allocate`): at most one more
offer per need, at most the policy's fairness cap of needs per requester, the largest total
score; what a round proposes of an offer is booked for the next rounds. Capacity is counted
window by window, as the capacity rule counts it (`capacity.contention`): needs that would use
an offer at different times do not compete for it, and only the moments the offer is open
count. So a batch never proposes more of an offer than it has left at any moment, and a need
gets a second or third proposal only from capacity that no other need's earlier proposal holds
at the same time. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.matching.allocation import allocate
from services.matching.capacity import Booking, Limit, Opening, contention, fits, narrowed, uses
from services.matching.model import Candidate


def allocation_rounds(
    candidates: Mapping[str, Sequence[Candidate]],
    slots: Mapping[str, int],
    held: Mapping[str, Sequence[Booking]],
    fairness_cap: int,
) -> list[list[Candidate]]:
    """The pairs to propose, round by round.

    `candidates` maps a need id to its admissible candidates, `slots` to how many more
    proposals it may get; `held` maps an offer id to what its confirmed matches and open
    proposals already book of it (an offer it does not list has nothing booked).
    """
    remaining = {need: list(found) for need, found in candidates.items() if found}
    left = {need: slots.get(need, 0) for need in remaining}
    booked: dict[str, list[Booking]] = {}
    wants: dict[tuple[str, str], Booking] = {}
    for found in remaining.values():
        for c in found:
            offer_id = c.offer.offer_id
            if offer_id not in booked:
                booked[offer_id] = narrowed(held.get(offer_id, ()), Opening.of(c.offer))
            wants[(c.need.need_id, offer_id)] = Booking(c.need.quantity, uses(c.offer, c.need))
    rounds: list[list[Candidate]] = []
    while True:
        contenders = [
            c
            for need, found in remaining.items()
            if left[need] > 0
            for c in found
            if fits(
                c.offer.capacity,
                booked[c.offer.offer_id],
                c.need.quantity,
                wants[(need, c.offer.offer_id)].windows,
            )
        ]
        chosen = allocate(contenders, {}, fairness_cap, limits=_limits(contenders, booked, wants))
        if not chosen:
            return rounds
        picked = {(a.need_id, a.offer_id) for a in chosen}
        rounds.append([c for c in contenders if (c.need.need_id, c.offer.offer_id) in picked])
        for c in rounds[-1]:
            need_id, offer_id = c.need.need_id, c.offer.offer_id
            booked[offer_id].append(wants[(need_id, offer_id)])
            left[need_id] -= 1
            remaining[need_id] = [o for o in remaining[need_id] if o.offer.offer_id != offer_id]


def _limits(
    contenders: Sequence[Candidate],
    booked: Mapping[str, Sequence[Booking]],
    wants: Mapping[tuple[str, str], Booking],
) -> dict[str, list[Limit]]:
    """Each contested offer's limits for the round."""
    wanted: dict[str, dict[str, Booking]] = {}
    capacity: dict[str, float] = {}
    for c in contenders:
        offer_id = c.offer.offer_id
        capacity[offer_id] = c.offer.capacity
        wanted.setdefault(offer_id, {})[c.need.need_id] = wants[(c.need.need_id, offer_id)]
    return {
        offer_id: contention(capacity[offer_id], booked[offer_id], needs)
        for offer_id, needs in wanted.items()
    }
