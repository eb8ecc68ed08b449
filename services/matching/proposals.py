"""Choosing the pairs to propose and writing them, with their events, in the caller's transaction.

The indexes suggest candidates; the database decides. Before a pair is written, its need and
offer rows are share-locked (so neither closes or changes until the transaction ends) and the
pair is re-scored if either moved on from the version the index held. A pair is proposed only
if its need is open, has no confirmed match and fewer live proposals than the policy's `top_k`;
if neither party is suspended; if the need has not settled with that offer before (declined,
expired, under way); and if the offer's confirmed bookings leave room for the need's quantity
in the need's windows while the offer is open. The unique index on live pairs turns a concurrent
duplicate into nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.matches import CancelReason, MatchCancelledV1, MatchProposedV1, MatchState
from services.matching import lifecycle, projection, store
from services.matching.batch import allocation_rounds
from services.matching.capacity import Opening, Windows, fits
from services.matching.filters import first_failure
from services.matching.lifecycle import Match
from services.matching.model import Candidate, NeedView, OfferView, Policy
from services.matching.policies import TerritoryPolicy
from services.matching.ranking import rank_for_need, rank_for_offer
from services.matching.readmodel import ReadModel
from services.matching.scoring import score_pair
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.outbox import emit

# Candidates asked of the index beyond the free slots, for those the database turns down.
_MARGIN = 5


async def emit_match(
    conn: Connection, event: type[MatchState], match: Match, ctx: Context, **extra: object
) -> None:
    payload = event(**lifecycle.state(match), **extra)
    await emit(conn, payload, subject=match.id, territory=match.territory_id, ctx=ctx)


async def cancel_matches(
    conn: Connection, matches: Iterable[Match], reason: CancelReason, ctx: Context, now: datetime
) -> set[str]:
    """Cancel open matches (locked by the caller); return the needs that lost a proposal."""
    needs = set()
    for match in matches:
        cancelled = lifecycle.cancel(match, reason, now=now)
        await store.update_match(conn, cancelled)
        await emit_match(conn, MatchCancelledV1, cancelled, ctx, reason=reason)
        needs.add(match.need_id)
    return needs


def widened(policy: Policy, top_k: int) -> Policy:
    """The same policy asking the ranking for at least `top_k` candidates."""
    return replace(policy, top_k=max(policy.top_k, top_k))


def _need_of(row: store.Row, policy: TerritoryPolicy) -> NeedView | None:
    try:
        return projection.need_view(projection.need_state(row.state), policy.social_priority)
    except ValueError:
        return None


def _offer_of(row: store.Row) -> OfferView | None:
    try:
        return projection.offer_view(projection.offer_state(row.state))
    except ValueError:
        return None


def _current(
    candidate: Candidate,
    need_row: store.Row | None,
    offer_row: store.Row | None,
    policy: TerritoryPolicy,
) -> Candidate | None:
    """The candidate as of the locked rows: None if either left, re-scored if either moved."""
    if need_row is None or need_row.status != projection.LIVE_NEED:
        return None
    if offer_row is None or offer_row.status != projection.LIVE_OFFER:
        return None
    if candidate.need.version == need_row.version and candidate.offer.version == offer_row.version:
        return candidate
    need = candidate.need if candidate.need.version == need_row.version else None
    offer = candidate.offer if candidate.offer.version == offer_row.version else None
    need = need or _need_of(need_row, policy)
    offer = offer or _offer_of(offer_row)
    if need is None or offer is None or first_failure(offer, need) is not None:
        return None
    breakdown = score_pair(offer, need, policy.policy)
    return Candidate(offer, need, breakdown) if breakdown.total >= policy.policy.threshold else None


async def _admissible(
    conn: Connection, candidates: Sequence[Candidate], policy: TerritoryPolicy
) -> list[Candidate]:
    """The candidates that may be proposed now, in the order given (see the module docstring);
    their needs and offers stay share-locked until the transaction ends."""
    if not candidates:
        return []
    need_rows = await store.lock_needs(conn, (c.need.need_id for c in candidates))
    offer_rows = await store.lock_offers(conn, (c.offer.offer_id for c in candidates))
    current = []
    for c in candidates:
        found = _current(c, need_rows.get(c.need.need_id), offer_rows.get(c.offer.offer_id), policy)
        if found is not None and found.offer.provider_id != found.need.requester_id:
            current.append(found)
    parties = {c.offer.provider_id for c in current} | {c.need.requester_id for c in current}
    suspended = await store.suspended_among(conn, parties)
    held = await store.bookings(conn, (c.offer.offer_id for c in current))
    return [
        c
        for c in current
        if c.offer.provider_id not in suspended
        and c.need.requester_id not in suspended
        and fits(
            c.offer.capacity,
            held.get(c.offer.offer_id, []),
            c.need.quantity,
            Windows(c.need.week, c.need.dated),
            Opening.of(c.offer),
        )
    ]


async def _write(
    conn: Connection,
    chosen: Iterable[Candidate],
    policy: TerritoryPolicy,
    ctx: Context,
    now: datetime,
) -> list[Match]:
    written = []
    for candidate in chosen:
        match = lifecycle.propose(candidate, policy.policy, match_id=uuid.uuid4(), now=now)
        if await store.insert_match(conn, match):
            await emit_match(conn, MatchProposedV1, match, ctx)
            written.append(match)
    return written


async def propose_for_need(
    conn: Connection, model: ReadModel, need_id: str, ctx: Context, *, now: datetime
) -> list[Match]:
    """Fill the need's free proposal slots with its best admissible offers."""
    row = await store.get_need(conn, need_id, share=True)
    if row is None or row.status != projection.LIVE_NEED:
        return []
    need = model.needs.get(need_id)
    if need is None or need.version != row.version:
        need = _need_of(row, model.policy(str(row.state["territory_id"])))
        if need is None:
            return []
    policy = model.policy(need.territory_id)
    standing = (await store.need_matches(conn, [need_id]))[need_id]
    slots = policy.policy.top_k - standing.open
    if standing.served or slots <= 0:
        return []
    wanted = slots + len(standing.settled_offers) + _MARGIN
    while True:
        ranked = rank_for_need(need, model.offers, widened(policy.policy, wanted))
        fresh = [c for c in ranked if c.offer.offer_id not in standing.settled_offers]
        chosen = await _admissible(conn, fresh, policy)
        if len(chosen) >= slots or len(ranked) < wanted:
            break
        wanted *= 2
    return await _write(conn, chosen[:slots], policy, ctx, now)


async def propose_for_offer(
    conn: Connection, model: ReadModel, offer: OfferView, ctx: Context, *, now: datetime
) -> list[Match]:
    """Propose the offer to every open need it suits that has a free proposal slot."""
    policy = model.policy(offer.territory_id)
    ranked = rank_for_offer(offer, model.needs, policy.policy)
    if not ranked:
        return []
    standing = await store.need_matches(conn, [c.need.need_id for c in ranked])
    fresh = [
        c
        for c in ranked
        if not (s := standing[c.need.need_id]).served
        and s.open < policy.policy.top_k
        and offer.offer_id not in s.settled_offers
    ]
    return await _write(conn, await _admissible(conn, fresh, policy), policy, ctx, now)


@dataclass(frozen=True)
class Rematch:
    """What a batch re-match of a territory did."""

    policy_version: int
    needs: int
    proposed: int
    cancelled: int
    rounds: int


async def rematch_territory(
    conn: Connection,
    model: ReadModel,
    territory_id: str,
    ctx: Context,
    *,
    now: datetime,
    cancel_stale: bool,
) -> Rematch:
    """Re-match every open need of the territory at once, sharing contested capacity out by
    allocation (`batch.allocation_rounds`): what an offer has left beside its confirmed
    bookings and its open proposals, window by window.

    With `cancel_stale`, proposals that nobody accepted yet and that an older policy made are
    cancelled first, so that the new policy proposes afresh.
    """
    policy = model.policy(territory_id)
    cancelled = 0
    if cancel_stale:
        stale = [
            m
            for m in await store.open_matches(conn, territory_id=territory_id)
            if not m.accepted_by and m.score.policy_version < policy.version
        ]
        await cancel_matches(conn, stale, CancelReason.POLICY_CHANGED, ctx, now)
        cancelled = len(stale)
    needs = sorted(
        (n for n in model.needs if n.territory_id == territory_id), key=lambda n: n.need_id
    )
    standing = await store.need_matches(conn, [n.need_id for n in needs])
    slots = {
        n.need_id: policy.policy.top_k - standing[n.need_id].open
        for n in needs
        if not standing[n.need_id].served
    }
    wanted: list[Candidate] = []
    for need in needs:
        free = slots.get(need.need_id, 0)
        if free <= 0:
            continue
        settled = standing[need.need_id].settled_offers
        ask = widened(policy.policy, free + len(settled) + _MARGIN)
        wanted += [
            c for c in rank_for_need(need, model.offers, ask) if c.offer.offer_id not in settled
        ]
    by_need: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in await _admissible(conn, wanted, policy):
        by_need[candidate.need.need_id].append(candidate)
    offers = {c.offer.offer_id: c.offer for found in by_need.values() for c in found}
    held = await store.bookings(conn, offers)
    for offer_id, asked in (await store.proposed_bookings(conn, offers)).items():
        held[offer_id] += asked
    rounds = allocation_rounds(by_need, slots, held, policy.policy.fairness_cap)
    written = await _write(conn, (c for picked in rounds for c in picked), policy, ctx, now)
    return Rematch(policy.version, len(needs), len(written), cancelled, len(rounds))
