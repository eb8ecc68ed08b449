"""What matching does with agreements: a booking ends with its agreement, and an amendment's
new quantity or schedule is checked against the offer's capacity before the parties sign it.

- `agreement.completed`, `.terminated`, `.lapsed`: the confirmed match ends (status `ended`,
  `match.ended` published) and its capacity at those times goes to other needs at once.
- `agreement.amended` (in force): the match books the new quantity and schedule.
- `POST /v1/matches/{id}/capacity-check` (a party of the match): would the offer still hold
  the other confirmed bookings plus this one with the amended quantity and schedule? 409 if not.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from contracts.agreements import (
    AgreementAmendedV1,
    AgreementCompletedV1,
    AgreementLapsedV1,
    AgreementState,
    AgreementTerminatedV1,
)
from contracts.matches import EndReason, MatchEndedV1, MatchStatus
from contracts.offers import WeeklySlot
from services.matching import availability, lifecycle, store
from services.matching.capacity import Windows, fits
from services.matching.proposals import emit_match, propose_for_offer
from services.matching.readmodel import ReadModel
from services.runtime import clock
from services.runtime.context import Context
from services.runtime.db import Connection
from services.runtime.errors import Conflict, NotFound
from services.runtime.principal import Principal

ENDINGS: dict[type[AgreementState], EndReason] = {
    AgreementCompletedV1: EndReason.AGREEMENT_COMPLETED,
    AgreementTerminatedV1: EndReason.AGREEMENT_TERMINATED,
    AgreementLapsedV1: EndReason.AGREEMENT_LAPSED,
}


def windows_of(weekly: list[WeeklySlot], dated: list[tuple[datetime, datetime]]) -> Windows:
    """A schedule (weekly slots, dated wall-clock windows) as the capacity rule reads it."""
    return Windows(
        week=availability.week_intervals((s.weekday, s.start_minute, s.end_minute) for s in weekly),
        dated=availability.merge(
            (availability.absolute_minute(start), availability.absolute_minute(end))
            for start, end in dated
        ),
    )


async def apply_agreement(
    conn: Connection, model: ReadModel, state: AgreementState, ctx: Context
) -> None:
    reason = ENDINGS.get(type(state))
    if reason is not None:
        await _end(conn, model, state, reason, ctx)
    elif isinstance(state, AgreementAmendedV1):
        await _rebook(conn, state)


async def _end(
    conn: Connection, model: ReadModel, state: AgreementState, reason: EndReason, ctx: Context
) -> None:
    now = clock.now()
    await store.get_need(conn, state.need_id, share=True)  # needs are locked before matches
    match = await store.get_match(conn, uuid.UUID(state.match_id), for_update=True)
    if match is None:
        return  # a match this read model never held (another territory's rebuild)
    ended = lifecycle.end_with_agreement(match, reason, now=now)
    if ended is None:
        return
    await store.update_match(conn, ended)
    await emit_match(conn, MatchEndedV1, ended, ctx, reason=reason, agreement_id=state.agreement_id)
    offer = model.offers.get(ended.offer_id)
    if model.proposing and offer is not None:
        await propose_for_offer(conn, model, offer, ctx, now=now)


async def _rebook(conn: Connection, state: AgreementAmendedV1) -> None:
    match = await store.get_match(conn, uuid.UUID(state.match_id), for_update=True)
    if match is None:
        return
    terms = state.terms
    windows = windows_of(terms.weekly_windows, [(w.start, w.end) for w in terms.dated_windows])
    rebooked = lifecycle.rebook(match, terms.quantity, windows, now=clock.now())
    if rebooked is not None:
        await store.rebook_match(conn, rebooked)


async def check_capacity(
    pool: asyncpg.Pool,
    match_id: uuid.UUID,
    quantity: float,
    windows: Windows,
    principal: Principal,
) -> None:
    """Raise Conflict unless the offer can take the confirmed match with this quantity and
    schedule beside its other confirmed bookings."""
    async with pool.acquire() as conn:
        match = await store.get_match(conn, match_id)
        if match is None or match.party_of(principal.actor_id) is None:
            raise NotFound("no such match")
        if match.status is not MatchStatus.CONFIRMED:
            raise Conflict(f"the match is {match.status}, it books nothing", field="status")
        offer = (await store.get_offers(conn, [match.offer_id])).get(match.offer_id)
        if offer is None:
            raise NotFound("the match's offer is not known here")
        held = (await store.bookings(conn, [match.offer_id], except_match=match.id)).get(
            match.offer_id, []
        )
    capacity = float(offer.state["asset"]["capacity"])
    if not fits(capacity, held, quantity, windows):
        raise Conflict(
            "the asset cannot take this quantity at these times beside its other bookings",
            field="quantity",
        )
