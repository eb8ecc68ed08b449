"""Matching's use cases: events that change the read model, and the parties' commands.

Event handlers run in the inbox transaction of their event: they store the new version (older
and repeated versions change nothing), update the indexes, cancel the open matches the change
ends, and propose what it makes possible, all in that transaction. Commands run in their own
transaction, retried when PostgreSQL breaks a deadlock between two of them.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import asyncpg
from pydantic import ValidationError

from contracts.actors import ActorState, ActorStatus
from contracts.governance import AllocateCommonAsset, DecisionMadeV1, Outcome, ProposalKind
from contracts.matches import (
    CancelReason,
    MatchAcceptedV1,
    MatchCancelledV1,
    MatchConfirmedV1,
    MatchDeclinedV1,
    MatchExpiredV1,
    MatchProposedV1,
    MatchStatus,
    Party,
)
from contracts.needs import NeedState
from contracts.offers import OfferState, OfferStatus
from services.matching import lifecycle, ownership, policies, projection, store
from services.matching.capacity import ALWAYS_OPEN, Booking, Opening, Windows, fits
from services.matching.filters import HARD_FILTERS, Reason, first_failure
from services.matching.lifecycle import Match
from services.matching.model import Candidate, NeedView, OfferView
from services.matching.ownership import Territories
from services.matching.policies import TerritoryPolicy
from services.matching.proposals import (
    Rematch,
    cancel_matches,
    emit_match,
    propose_for_need,
    propose_for_offer,
    rematch_territory,
    widened,
)
from services.matching.ranking import rank_for_need
from services.matching.readmodel import ReadModel
from services.matching.scoring import score_pair
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection, in_transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.principal import Principal

log = logging.getLogger(__name__)

T = TypeVar("T")


def _still_suits(offer: OfferView | None, need: NeedView | None) -> bool:
    """Whether a proposed pair still passes the hard filters (unknown sides are left be)."""
    return offer is None or need is None or first_failure(offer, need) is None


# --- events, in the first stage: the read model ------------------------------------------------


async def adopt_policy(conn: Connection, decision: DecisionMadeV1) -> bool:
    """An adopted change of the matching policy: store the territory's next version; False
    when the decision is not one, or was stored already. Invalid parameters raise InvalidInput.
    """
    if decision.outcome != Outcome.ADOPTED:
        return False
    if decision.kind != ProposalKind.CHANGE_MATCHING_POLICY:
        return False
    if await store.decision_applied(conn, decision.decision_id):
        return False
    # From the database, not a cache: a retried event must not count its own change twice.
    current = await store.current_policy(conn, decision.territory_id)
    try:
        adopted = policies.changed_policy(
            current, decision.parameters, decision_id=decision.decision_id, at=decision.decided_at
        )
    except ValueError as invalid:  # the decision itself is wrong: no retry can help
        raise InvalidInput(str(invalid), field="parameters") from None
    await store.insert_policy(conn, adopted)
    return True


# --- events, at the territory's owner (`model` is the territory's) ----------------------------


async def apply_offer(conn: Connection, model: ReadModel, state: OfferState, ctx: Context) -> None:
    """A new version of an offer, stored already: published ones are indexed and proposed to
    open needs; a paused or withdrawn one leaves the index and its open matches are cancelled.
    A version the store has gone past changes nothing: the newer one's record follows."""
    if await store.offer_version(conn, state.offer_id) != state.version:
        return
    view = projection.matchable_offer(state)
    if view is None:
        model.offers.discard(state.offer_id, state.version)
    else:
        model.offers.add(view)
    if not model.proposing:
        return
    now = clock.now()
    open_matches = await store.open_matches(conn, offer_id=state.offer_id)
    if view is None:
        withdrawn = state.status == OfferStatus.WITHDRAWN
        reason = CancelReason.OFFER_WITHDRAWN if withdrawn else CancelReason.OFFER_PAUSED
        ended = open_matches
    else:
        reason = CancelReason.OFFER_CHANGED
        ended = [m for m in open_matches if not _still_suits(view, model.needs.get(m.need_id))]
    for need_id in sorted(await cancel_matches(conn, ended, reason, ctx, now)):
        await propose_for_need(conn, model, need_id, ctx, now=now)
    if view is not None:
        await propose_for_offer(conn, model, view, ctx, now=now)


async def apply_need(conn: Connection, model: ReadModel, state: NeedState, ctx: Context) -> None:
    """A new version of a need, stored already: an open one is indexed and gets proposals; a
    closed one leaves the index and its open matches are cancelled. A version the store has
    gone past changes nothing: the newer one's record follows."""
    if await store.need_version(conn, state.need_id) != state.version:
        return
    view = projection.matchable_need(state, model.policy(state.territory_id))
    if view is None:
        model.needs.discard(state.need_id, state.version)
    else:
        model.needs.add(view)
    if not model.proposing:
        return
    now = clock.now()
    open_matches = await store.open_matches(conn, need_id=state.need_id)
    if state.status in projection.CLOSED_NEED:
        await cancel_matches(conn, open_matches, CancelReason.NEED_CLOSED, ctx, now)
        return
    if view is None:
        return
    ended = [m for m in open_matches if not _still_suits(model.offers.get(m.offer_id), view)]
    await cancel_matches(conn, ended, CancelReason.NEED_CHANGED, ctx, now)
    await propose_for_need(conn, model, state.need_id, ctx, now=now)


async def apply_actor(
    conn: Connection, model: ReadModel, state: ActorState, territory_id: str, ctx: Context
) -> None:
    """A suspension cancels the open matches of the territory where the actor is a party, and
    the needs it provided for get other proposals."""
    if not model.proposing or state.status != ActorStatus.SUSPENDED:
        return
    now = clock.now()
    open_matches = await store.open_matches(
        conn, actor_id=state.actor_id, territory_id=territory_id
    )
    needs = await cancel_matches(conn, open_matches, CancelReason.ACTOR_SUSPENDED, ctx, now)
    for need_id in sorted(needs):
        await propose_for_need(conn, model, need_id, ctx, now=now)


async def apply_decision(
    conn: Connection, model: ReadModel, decision: DecisionMadeV1, ctx: Context
) -> Rematch | None:
    """An adopted decision at the territory's owner: an allocation confirms its pair; a policy
    change (stored already by `adopt_policy`) re-matches the territory under the policy now in
    force."""
    if decision.outcome != Outcome.ADOPTED:
        return None
    if decision.kind == ProposalKind.ALLOCATE_COMMON_ASSET:
        await allocate_by_decision(conn, model, decision, ctx)
        return None
    if decision.kind != ProposalKind.CHANGE_MATCHING_POLICY:
        return None  # the other kinds are for other services
    adopted = await store.current_policy(conn, decision.territory_id)
    held = model.policy(decision.territory_id)
    if adopted.version != held.version:
        model.set_policy(adopted)
        if adopted.social_priority != held.social_priority:
            # The indexed needs carry their priority: index them again under the new policy.
            rows = await store.open_needs(conn, decision.territory_id)
            model.replace_needs(projection.need_views((r.state for r in rows), model.policy))
    if not model.proposing:
        return None
    return await rematch_territory(
        conn, model, decision.territory_id, ctx, now=clock.now(), cancel_stale=True
    )


async def allocate_by_decision(
    conn: Connection, model: ReadModel, decision: DecisionMadeV1, ctx: Context
) -> Match | None:
    """An adopted `allocate_common_asset` decision gives the contested offer to the chosen need:
    the pair's open match (or a new one) is confirmed without waiting for acceptances, the need's
    other proposals and the offer's proposals that no longer fit end, and their needs are
    matched again. A pair confirmed already changes nothing (the decision came again)."""
    try:
        chosen = AllocateCommonAsset.model_validate(decision.parameters)
    except ValidationError as invalid:
        raise InvalidInput(str(invalid), field="parameters") from None
    now = clock.now()
    offer_row = (await store.lock_offers(conn, [chosen.offer_id], exclusive=True)).get(
        chosen.offer_id
    )
    need_row = (await store.lock_needs(conn, [chosen.need_id])).get(chosen.need_id)
    # Not NotYet: this group reads every topic in one subscriber, so waiting here would hold
    # back the very offer or need events it waits for. A vote takes longer than their delivery.
    if offer_row is None or need_row is None:
        raise InvalidInput(
            "the allocation names an offer or a need unknown here", field="parameters"
        )
    for row in (offer_row, need_row):
        if str(row.state["territory_id"]) != decision.territory_id:
            raise InvalidInput("the decision allocates across territories", field="parameters")
    latest = (await store.pairs_of(conn, chosen.need_id, [chosen.offer_id])).get(chosen.offer_id)
    if latest is not None and latest.status is MatchStatus.CONFIRMED:
        return None
    policy = model.policy(decision.territory_id)
    candidate = await _workable_pair(
        conn, chosen.need_id, need_row, chosen.offer_id, offer_row, policy
    )
    if latest is not None and latest.status in lifecycle.OPEN:
        match = await store.get_match(conn, latest.id, for_update=True)
        assert match is not None
    else:
        match = lifecycle.propose_by_hand(candidate, policy.policy, match_id=uuid.uuid4(), now=now)
        await store.insert_match(conn, match)
        await emit_match(conn, MatchProposedV1, match, ctx)
    confirmed = lifecycle.allocate(match, now=now)
    await store.update_match(conn, confirmed)
    await emit_match(conn, MatchConfirmedV1, confirmed, ctx, confirmed_at=now)
    held = (await store.bookings(conn, [chosen.offer_id])).get(chosen.offer_id, [])
    capacity = float(offer_row.state["asset"]["capacity"])
    rematch = await _settle(conn, confirmed, capacity, held, Opening.of(candidate.offer), ctx, now)
    if model.proposing:
        for need_id in sorted(rematch):
            await propose_for_need(conn, model, need_id, ctx, now=now)
    return confirmed


# --- commands ---------------------------------------------------------------------------------


def _party(match: Match | None, principal: Principal) -> tuple[Match, Party]:
    """The match and the caller's side in it; 404 for anyone but its two parties."""
    party = match.party_of(principal.actor_id) if match else None
    if match is None or party is None:
        raise NotFound("no such match")
    return match, party


async def get_match(pool: asyncpg.Pool, match_id: uuid.UUID, principal: Principal) -> Match:
    async with pool.acquire() as conn:
        match, _ = _party(await store.get_match(conn, match_id), principal)
    return match


async def list_matches(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Match]:
    async with pool.acquire() as conn:
        return await store.list_matches(
            conn, principal.actor_id, status=status, after=after, limit=limit
        )


async def _propose(
    conn: Connection, *, territories: Territories, territory_id: str, need_id: str, ctx: Context
) -> object:
    model = await territories.borrow(conn, territory_id, locked=True)
    return await propose_for_need(conn, model, need_id, ctx, now=clock.now())


@dataclass
class _Acceptance:
    match: Match
    refused: bool = False  # the offer had no room left: the match was cancelled
    rematch: set[str] = field(default_factory=set)


async def accept_match(
    pool: asyncpg.Pool,
    territories: Territories,
    match_id: uuid.UUID,
    principal: Principal,
    ctx: Context,
) -> Match:
    """The caller accepts as provider or requester; the second acceptance confirms the match
    if the offer still has the capacity for it at those times, else cancels it (409).

    Acceptances take the territory's lock, as every transaction that changes the territory's
    matches does (and the offer's row, whoever else locks it). A confirmed match ends the need's
    other proposals, and the offer's proposals that no longer fit; the needs those were for, and
    the need of a refused match, are re-matched once this commits, each in a transaction of its
    own that holds the territory's lock.
    """
    now = clock.now()

    async def accept(conn: Connection) -> _Acceptance:
        seen, party = _party(await store.get_match(conn, match_id), principal)
        # The territory's lock first, as every transaction that changes its matches takes it:
        # a confirmation ends proposals of other offers and needs, and taking their rows in
        # another order than a concurrent confirmation or proposer would deadlock.
        await ownership.lock(conn, seen.territory_id)
        offer = (await store.lock_offers(conn, [seen.offer_id], exclusive=True))[seen.offer_id]
        match = await store.get_match(conn, match_id, for_update=True)
        assert match is not None
        accepted = lifecycle.accept(match, party, now=now)
        if accepted is match:
            return _Acceptance(match)
        if not accepted.ready:
            await store.update_match(conn, accepted)
            await emit_match(conn, MatchAcceptedV1, accepted, ctx, by=party)
            return _Acceptance(accepted)
        capacity = float(offer.state["asset"]["capacity"])
        held = (await store.bookings(conn, [match.offer_id])).get(match.offer_id, [])
        opening = _opening(offer)
        if not fits(capacity, held, match.quantity, match.windows, opening):
            needs = await cancel_matches(conn, [match], CancelReason.CAPACITY_TAKEN, ctx, now)
            refused = lifecycle.cancel(match, CancelReason.CAPACITY_TAKEN, now=now)
            return _Acceptance(refused, refused=True, rematch=needs)
        confirmed = lifecycle.confirm(accepted, now=now)
        await store.update_match(conn, confirmed)
        await emit_match(conn, MatchAcceptedV1, accepted, ctx, by=party)
        await emit_match(conn, MatchConfirmedV1, confirmed, ctx, confirmed_at=now)
        rematch = await _settle(conn, confirmed, capacity, held, opening, ctx, now)
        return _Acceptance(confirmed, rematch=rematch)

    outcome = await in_transaction(pool, accept)
    if territories.proposing:
        territory_id = outcome.match.territory_id
        for need_id in sorted(outcome.rematch):
            propose = functools.partial(
                _propose, territories=territories, territory_id=territory_id, need_id=need_id
            )
            await in_transaction(pool, functools.partial(propose, ctx=ctx))
    if outcome.refused:
        raise Conflict(
            "another match took the offer's capacity at these times; the need is proposed "
            "other offers",
            field="status",
        )
    return outcome.match


def _opening(offer_row: store.Row) -> Opening:
    """The offer's opening hours as its row states them (every moment, if it cannot be read)."""
    try:
        return Opening.of(projection.offer_view(projection.offer_state(offer_row.state)))
    except ValueError:
        return ALWAYS_OPEN


async def _settle(
    conn: Connection,
    confirmed: Match,
    capacity: float,
    held: list[Booking],
    opening: Opening,
    ctx: Context,
    now: datetime,
) -> set[str]:
    """After a confirmation: end the need's other proposals and the offer's proposals that no
    longer fit beside the new booking; return the needs to match again."""
    served = await store.open_matches(conn, need_id=confirmed.need_id)
    await cancel_matches(conn, served, CancelReason.NEED_SERVED, ctx, now)
    held.append(Booking(confirmed.quantity, confirmed.windows))
    crowded = [
        m
        for m in await store.open_matches(conn, offer_id=confirmed.offer_id)
        if not fits(capacity, held, m.quantity, m.windows, opening)
    ]
    return await cancel_matches(conn, crowded, CancelReason.CAPACITY_TAKEN, ctx, now)


async def _propose_next(
    conn: Connection, model: ReadModel, ended: Match, ctx: Context, now: datetime
) -> None:
    """After a proposal ends without a deal: the need gets its next candidate, and the offer
    may go to other needs (a batch allocation may have held it back from them)."""
    await propose_for_need(conn, model, ended.need_id, ctx, now=now)
    offer = model.offers.get(ended.offer_id)
    if offer is not None:
        await propose_for_offer(conn, model, offer, ctx, now=now)


async def decline_match(
    pool: asyncpg.Pool,
    territories: Territories,
    match_id: uuid.UUID,
    reason: str,
    principal: Principal,
    ctx: Context,
) -> Match:
    """The caller turns the proposal down; its need is proposed the next candidate at once."""
    now = clock.now()

    async def decline(conn: Connection) -> Match:
        seen, party = _party(await store.get_match(conn, match_id), principal)
        model = await territories.borrow(conn, seen.territory_id, locked=True)
        await store.get_need(conn, seen.need_id, share=True)  # needs are locked before matches
        match = await store.get_match(conn, match_id, for_update=True)
        assert match is not None
        declined = lifecycle.decline(match, party, reason, now=now)
        await store.update_match(conn, declined)
        assert declined.reason is not None
        await emit_match(conn, MatchDeclinedV1, declined, ctx, by=party, reason=declined.reason)
        if model.proposing:
            await _propose_next(conn, model, match, ctx, now)
        return declined

    return await in_transaction(pool, decline)


async def expire_lapsed(
    pool: asyncpg.Pool, territories: Territories, ctx: Context, *, now: datetime, batch: int = 200
) -> int:
    """Expire the open proposals past their time-to-live, proposing the next candidate for each
    need; one transaction per match, skipping a match another transaction holds."""
    expired = 0

    async def expire(conn: Connection, match_id: uuid.UUID) -> bool:
        seen = await store.get_match(conn, match_id)
        if seen is None or not lifecycle.is_lapsed(seen, now):
            return False
        model = await territories.borrow(conn, seen.territory_id, locked=True)
        await store.get_need(conn, seen.need_id, share=True)
        match = await store.get_match_skip_locked(conn, match_id)
        if match is None or not lifecycle.is_lapsed(match, now):
            return False
        lapsed = lifecycle.expire(match, now=now)
        await store.update_match(conn, lapsed)
        await emit_match(conn, MatchExpiredV1, lapsed, ctx)
        await _propose_next(conn, model, match, ctx, now)
        return True

    while True:
        async with pool.acquire() as conn:
            due = await store.lapsed_match_ids(conn, now, batch)
        for match_id in due:
            if await in_transaction(pool, functools.partial(expire, match_id=match_id)):
                expired += 1
        if len(due) < batch:
            return expired


@dataclass(frozen=True)
class Explained:
    """A need's best candidates, each with its score and where the pair stands."""

    need_id: str
    policy: TerritoryPolicy
    candidates: list[Candidate]
    titles: dict[str, str]
    matches: dict[str, Match]


async def explain_candidates(
    pool: asyncpg.Pool, territories: Territories, need_id: str, principal: Principal, *, limit: int
) -> Explained:
    """The need's best offers under the territory's policy, for the need's requester only."""
    async with pool.acquire() as conn:
        row = await store.get_need(conn, need_id)
        if row is None or row.state["requester_id"] != principal.actor_id:
            raise NotFound("no such need")
        territory_id = str(row.state["territory_id"])
        model = await territories.borrow(conn, territory_id, locked=False)
        policy = model.policy(territory_id)
        need = model.needs.get(need_id)
        if need is None or need.version != row.version:
            need = projection.matchable_need(projection.need_state(row.state), policy)
        ranked = (
            rank_for_need(need, model.offers, widened(policy.policy, limit))[:limit] if need else []
        )
        offer_ids = [c.offer.offer_id for c in ranked]
        offers = await store.get_offers(conn, offer_ids)
        pairs = await store.pairs_of(conn, need_id, offer_ids)
    titles = {oid: str(row.state["title"]) for oid, row in offers.items()}
    return Explained(need_id, policy, ranked, titles, pairs)


async def rematch(
    pool: asyncpg.Pool, territories: Territories, principal: Principal, ctx: Context
) -> Rematch:
    """A facilitator re-matches its territory: every open need's free slots, with contested
    capacity shared out by allocation."""
    if not principal.is_facilitator:
        raise Forbidden("only a facilitator of the territory may re-match it")
    if not territories.proposing:
        raise Conflict("this instance keeps the read model only and proposes nothing")
    territory_id = principal.territory_id

    async def run(conn: Connection) -> Rematch:
        model = await territories.borrow(conn, territory_id, locked=True)
        return await rematch_territory(
            conn, model, territory_id, ctx, now=clock.now(), cancel_stale=False
        )

    return await in_transaction(pool, run)


# --- a party ends its booking -----------------------------------------------------------------


async def cancel_match(
    pool: asyncpg.Pool,
    territories: Territories,
    match_id: uuid.UUID,
    principal: Principal,
    ctx: Context,
) -> Match:
    """A party ends its confirmed match (the only way a booking ends before an agreement does);
    the offer's capacity at those times goes to other needs, and the need gets other offers
    once the offers service has opened it again."""
    now = clock.now()

    async def cancel(conn: Connection) -> Match:
        seen, party = _party(await store.get_match(conn, match_id), principal)
        model = await territories.borrow(conn, seen.territory_id, locked=True)
        await store.get_need(conn, seen.need_id, share=True)  # needs are locked before matches
        match = await store.get_match(conn, match_id, for_update=True)
        assert match is not None
        ended = lifecycle.end_booking(match, now=now)
        await store.update_match(conn, ended)
        await emit_match(conn, MatchCancelledV1, ended, ctx, reason=CancelReason.BY_PARTY, by=party)
        offer = model.offers.get(ended.offer_id)
        if model.proposing and offer is not None:
            await propose_for_offer(conn, model, offer, ctx, now=now)
        return ended

    return await in_transaction(pool, cancel)


# --- facilitators: needs left without a candidate, pairs proposed by hand ----------------------


@dataclass(frozen=True)
class Unmatched:
    """An open need with no live match and no offer the engine could still propose."""

    need_id: str
    requester_id: str
    title: str
    category: str
    quantity: float
    unit: str
    expires_at: datetime


async def unmatched_needs(
    pool: asyncpg.Pool, territories: Territories, principal: Principal
) -> list[Unmatched]:
    """The facilitator's territory's open needs that wait in vain: no proposal under way and
    no candidate left that their requesters have not already passed on."""
    if not principal.is_facilitator:
        raise Forbidden("only a facilitator of the territory lists its unmatched needs")
    territory = principal.territory_id
    async with pool.acquire() as conn:
        model = await territories.borrow(conn, territory, locked=False)
        policy = model.policy(territory)
        needs = sorted(model.needs, key=lambda n: n.need_id)
        standing = await store.need_matches(conn, [n.need_id for n in needs])
        rows = {n.need_id: await store.get_need(conn, n.need_id) for n in needs}
    found = []
    for need in needs:
        held = standing[need.need_id]
        if held.served or held.open:
            continue
        ranked = rank_for_need(
            need, model.offers, widened(policy.policy, len(held.settled_offers) + 1)
        )
        if any(c.offer.offer_id not in held.settled_offers for c in ranked):
            continue
        row = rows[need.need_id]
        if row is None or row.status != projection.LIVE_NEED:
            continue
        state = projection.need_state(row.state)
        found.append(
            Unmatched(
                need_id=state.need_id,
                requester_id=state.requester_id,
                title=state.title,
                category=state.category,
                quantity=state.quantity,
                unit=str(state.unit),
                expires_at=state.expires_at,
            )
        )
    return found


ESSENTIAL = frozenset(
    {
        Reason.TERRITORY,
        Reason.ELIGIBILITY,
        Reason.UNIT,
        Reason.CAPACITY,
        Reason.VALIDITY,
        Reason.TIME,
    }
)
"""What a pair proposed by hand must meet all the same: the rest (category, price, distance) is
the facilitator's judgement, which the parties confirm by accepting."""


async def propose_by_hand(
    pool: asyncpg.Pool,
    territories: Territories,
    need_id: str,
    offer_id: str,
    principal: Principal,
    ctx: Context,
) -> Match:
    """A facilitator proposes an offer for an open need of its territory. The pair is scored
    for the record, must meet the essential filters and fit the offer's capacity beside its
    bookings, and waits for both parties' acceptance like any other."""
    if not principal.is_facilitator:
        raise Forbidden("only a facilitator of the territory may pair by hand")
    now = clock.now()

    async def pair(conn: Connection) -> Match:
        model = await territories.borrow(conn, principal.territory_id, locked=True)
        need_row = (await store.lock_needs(conn, [need_id])).get(need_id)
        if need_row is None or not principal.facilitates(str(need_row.state["territory_id"])):
            raise InvalidInput("no such need in your territory", field="need_id")
        offer_row = (await store.lock_offers(conn, [offer_id])).get(offer_id)
        if offer_row is None or not principal.facilitates(str(offer_row.state["territory_id"])):
            raise InvalidInput("no such offer in your territory", field="offer_id")
        policy = model.policy(principal.territory_id)
        candidate = await _workable_pair(conn, need_id, need_row, offer_id, offer_row, policy)
        match = lifecycle.propose_by_hand(candidate, policy.policy, match_id=uuid.uuid4(), now=now)
        if not await store.insert_match(conn, match):
            raise Conflict("the pair already has a live match", field="offer_id")
        await emit_match(conn, MatchProposedV1, match, ctx)
        return match

    return await in_transaction(pool, pair)


async def _workable_pair(
    conn: Connection,
    need_id: str,
    need_row: store.Row,
    offer_id: str,
    offer_row: store.Row,
    policy: TerritoryPolicy,
) -> Candidate:
    """The pair scored for the record, once it meets the essential filters and fits the offer's
    capacity beside its bookings (a Conflict naming the reason otherwise)."""
    if need_row.status != projection.LIVE_NEED:
        raise Conflict(f"the need is {need_row.status}, not open", field="need_id")
    if offer_row.status != projection.LIVE_OFFER:
        raise Conflict(f"the offer is {offer_row.status}, not published", field="offer_id")
    try:
        need = projection.need_view(projection.need_state(need_row.state), policy.social_priority)
        offer = projection.offer_view(projection.offer_state(offer_row.state))
    except ValueError as error:
        raise Conflict(f"the pair cannot be matched: {error}") from None
    broken = [str(r) for r, passes in HARD_FILTERS if r in ESSENTIAL and not passes(offer, need)]
    if broken:
        raise Conflict(f"the pair cannot work: {', '.join(broken)}", field="offer_id")
    if offer.provider_id == need.requester_id:
        raise Conflict("the provider and the requester are the same actor", field="offer_id")
    if await store.suspended_among(conn, {offer.provider_id, need.requester_id}):
        raise Conflict("a party is suspended", field="offer_id")
    if (await store.need_matches(conn, [need_id]))[need_id].served:
        raise Conflict("the need already has a confirmed match", field="need_id")
    held = (await store.bookings(conn, [offer_id])).get(offer_id, [])
    if not fits(
        offer.capacity, held, need.quantity, Windows(need.week, need.dated), Opening.of(offer)
    ):
        raise Conflict("the offer's capacity is booked at these times", field="offer_id")
    return Candidate(offer, need, score_pair(offer, need, policy.policy))
