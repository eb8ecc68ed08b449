"""Allocation of contested capacity: which needs get which offers when they compete.

The model: each candidate pair is either chosen or not; a need gets at most one offer; the
needs chosen for an offer consume their quantities from the capacity the caller says is left
for the contested slot, or, when the caller gives the offer's limits (`capacity.contention`),
from the capacity left at each moment among the needs that would use the offer then; one
requester gets at most `fairness_cap` needs served in one round. The goal is the largest total
score.

Solver: `scipy.optimize.milp` (HiGHS). An assignment solver (`linear_sum_assignment` on offers
replicated per unit of capacity, or `min_weight_full_bipartite_matching`) can express the
capacities but not a cap on a group of needs belonging to one requester, and it cannot express
needs that consume different quantities. The integer program states all three constraints as
they are, and HiGHS solves instances of the size one slot's contention produces in
milliseconds (tens of milliseconds for 1,500 pairs of unit quantities; seconds when hundreds
of needs of mixed sizes compete, hence a time limit). With unit quantities the constraint
matrix is that of a flow, so its linear relaxation is already integral.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from services.matching.capacity import Limit
from services.matching.model import Candidate


@dataclass(frozen=True, slots=True)
class Assignment:
    """A need served by an offer in an allocation round."""

    need_id: str
    offer_id: str
    requester_id: str
    quantity: float
    score: float


class AllocationError(RuntimeError):
    """The solver did not reach an optimal allocation."""


def allocate(
    candidates: Sequence[Candidate],
    capacities: Mapping[str, float],
    fairness_cap: int,
    *,
    time_limit_s: float = 2.0,
    limits: Mapping[str, Sequence[Limit]] | None = None,
) -> list[Assignment]:
    """Choose pairs among `candidates` maximising the total score.

    `capacities` maps an offer id to the capacity left for the contested slot (an offer it
    does not list keeps its full capacity); `limits`, for the offers it lists, replaces that
    one capacity by the capacity left at each moment for the needs that would use it then. No
    offer's capacity is exceeded, no need is served twice, and no requester gets more than
    `fairness_cap` needs. Pairs with a score of zero add nothing and are never chosen.

    Needs of different sizes make the problem a knapsack, so a very large contention may not
    be solved to proven optimality within `time_limit_s`; the best allocation found by then is
    returned, and it still respects every constraint.
    """
    if fairness_cap < 0:
        raise ValueError("fairness_cap must not be negative")
    best: dict[tuple[str, str], Candidate] = {}
    for candidate in candidates:
        key = (candidate.need.need_id, candidate.offer.offer_id)
        if candidate.score > 0 and (key not in best or candidate.score > best[key].score):
            best[key] = candidate
    pairs = list(best.values())
    if not pairs:
        return []

    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    upper: list[float] = []
    groups: dict[tuple[str, object], int] = {}
    # Per offer with limits: need id -> the limits it takes part in.
    shared: dict[str, dict[str, list[tuple[int, Limit]]]] = {}
    for offer_id, offer_limits in (limits or {}).items():
        by_need = shared[offer_id] = {}
        for number, limit in enumerate(offer_limits):
            for need_id in limit.needs:
                by_need.setdefault(need_id, []).append((number, limit))

    def constrain(kind: str, name: object, bound: float, column: int, coefficient: float) -> None:
        row = groups.get((kind, name))
        if row is None:
            row = groups[(kind, name)] = len(upper)
            upper.append(bound)
        rows.append(row)
        columns.append(column)
        values.append(coefficient)

    for column, pair in enumerate(pairs):
        offer, need = pair.offer, pair.need
        capacity = max(0.0, capacities.get(offer.offer_id, offer.capacity))
        constrain("need", need.need_id, 1, column, 1.0)
        if offer.offer_id in shared:
            for number, limit in shared[offer.offer_id].get(need.need_id, []):
                bound = max(0.0, limit.capacity)
                constrain("limit", (offer.offer_id, number), bound, column, need.quantity)
        else:
            constrain("offer", offer.offer_id, capacity, column, need.quantity)
        constrain("requester", need.requester_id, fairness_cap, column, 1.0)

    matrix = coo_array((values, (rows, columns)), shape=(len(upper), len(pairs))).tocsr()
    result = milp(
        c=-np.array([pair.score for pair in pairs]),
        constraints=LinearConstraint(matrix, -np.inf, np.array(upper)),
        integrality=np.ones(len(pairs)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0, "time_limit": time_limit_s},
    )
    if result.x is None:
        raise AllocationError(f"allocation failed: {result.message}")
    chosen = np.round(result.x)
    # The solver works within tolerances; the rounded choice must meet the bounds exactly.
    if np.any(matrix @ chosen > np.array(upper) + 1e-9):
        raise AllocationError("the solver's allocation exceeds a capacity or the fairness cap")
    return [
        Assignment(
            need_id=pair.need.need_id,
            offer_id=pair.offer.offer_id,
            requester_id=pair.need.requester_id,
            quantity=pair.need.quantity,
            score=pair.score,
        )
        for pair, picked in zip(pairs, chosen, strict=True)
        if picked == 1
    ]
