"""The match state machine: acceptances in either order, confirmation, the ways a match ends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.matches import CancelReason, MatchStatus, Origin, Party, Score
from contracts.taxonomy import Unit
from services.matching import lifecycle
from services.matching.capacity import Windows
from services.matching.lifecycle import Match
from services.runtime.errors import Conflict

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
PROVIDER, REQUESTER = "provider-1", "requester-1"


def proposal(**overrides: object) -> Match:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(), territory_id="t", offer_id="o", offer_version=1, need_id="n",
        need_version=1, provider_id=PROVIDER, requester_id=REQUESTER,
        status=MatchStatus.PROPOSED, quantity=8, unit=Unit.M3, windows=Windows(),
        score=Score(total=0.8, parts={}, weights={}, policy_version=1), proposed_at=NOW,
        expires_at=NOW + timedelta(hours=72), updated_at=NOW,
    )  # fmt: skip
    return Match(**{**fields, **overrides})  # type: ignore[arg-type]


LATER = NOW + timedelta(hours=1)


@pytest.mark.parametrize("first", [Party.PROVIDER, Party.REQUESTER])
def test_either_party_accepts_first_then_the_other_makes_it_ready(first: Party) -> None:
    second = Party.REQUESTER if first is Party.PROVIDER else Party.PROVIDER
    one = lifecycle.accept(proposal(), first, now=LATER)
    assert one.status is MatchStatus.ACCEPTED and one.accepted_by == [first]
    assert not one.ready and one.version == 2
    both = lifecycle.accept(one, second, now=LATER)
    assert both.ready and set(both.accepted_by) == {first, second} and both.version == 3
    confirmed = lifecycle.confirm(both, now=LATER)
    assert confirmed.status is MatchStatus.CONFIRMED and confirmed.confirmed_at == LATER
    assert confirmed.version == 4


def test_accepting_twice_changes_nothing() -> None:
    once = lifecycle.accept(proposal(), Party.PROVIDER, now=LATER)
    assert lifecycle.accept(once, Party.PROVIDER, now=LATER) is once


def test_confirmation_needs_both_acceptances() -> None:
    with pytest.raises(Conflict):
        lifecycle.confirm(proposal(), now=LATER)
    with pytest.raises(Conflict):
        lifecycle.confirm(lifecycle.accept(proposal(), Party.REQUESTER, now=LATER), now=LATER)


def test_a_party_may_decline_after_accepting_but_not_after_confirmation() -> None:
    accepted = lifecycle.accept(proposal(), Party.PROVIDER, now=LATER)
    declined = lifecycle.decline(accepted, Party.PROVIDER, "", now=LATER)
    assert declined.status is MatchStatus.DECLINED and declined.reason == "by provider"
    assert declined.closed_at == LATER
    confirmed = lifecycle.confirm(lifecycle.accept(accepted, Party.REQUESTER, now=LATER), now=LATER)
    with pytest.raises(Conflict):
        lifecycle.decline(confirmed, Party.REQUESTER, "changed my mind", now=LATER)


@pytest.mark.parametrize(
    "ended",
    [
        lifecycle.decline(proposal(), Party.REQUESTER, "trop loin", now=LATER),
        lifecycle.cancel(proposal(), CancelReason.OFFER_WITHDRAWN, now=LATER),
        lifecycle.expire(proposal(), now=NOW + timedelta(hours=72)),
    ],
    ids=["declined", "cancelled", "expired"],
)
def test_an_ended_match_accepts_nothing_more(ended: Match) -> None:
    for party in Party:
        with pytest.raises(Conflict):
            lifecycle.accept(ended, party, now=LATER)
    with pytest.raises(Conflict):
        lifecycle.cancel(ended, CancelReason.NEED_CLOSED, now=LATER)


def test_a_proposal_lapses_at_its_time_to_live() -> None:
    match = proposal()
    assert not lifecycle.is_lapsed(match, match.expires_at - timedelta(seconds=1))
    assert lifecycle.is_lapsed(match, match.expires_at)
    with pytest.raises(Conflict):
        lifecycle.expire(match, now=LATER)
    with pytest.raises(Conflict, match="expired"):
        lifecycle.accept(match, Party.PROVIDER, now=match.expires_at)
    expired = lifecycle.expire(match, now=match.expires_at)
    assert expired.status is MatchStatus.EXPIRED


def test_a_confirmed_match_neither_lapses_nor_is_cancelled() -> None:
    both = lifecycle.accept(
        lifecycle.accept(proposal(), Party.PROVIDER, now=LATER), Party.REQUESTER, now=LATER
    )
    confirmed = lifecycle.confirm(both, now=LATER)
    assert not lifecycle.is_lapsed(confirmed, NOW + timedelta(days=30))
    with pytest.raises(Conflict):
        lifecycle.cancel(confirmed, CancelReason.OFFER_PAUSED, now=LATER)


def test_only_the_two_parties_have_a_side() -> None:
    match = proposal()
    assert match.party_of(PROVIDER) is Party.PROVIDER
    assert match.party_of(REQUESTER) is Party.REQUESTER
    assert match.party_of("someone-else") is None


def test_event_state_carries_the_score_and_who_accepted() -> None:
    accepted = lifecycle.accept(proposal(), Party.REQUESTER, now=LATER)
    state = lifecycle.state(accepted)
    assert state["status"] is MatchStatus.ACCEPTED
    assert state["accepted_by"] == [Party.REQUESTER]
    assert state["score"].policy_version == 1 and state["version"] == 2


def test_a_party_ends_a_confirmed_match_and_nothing_else_cancels_it() -> None:
    both = lifecycle.accept(
        lifecycle.accept(proposal(), Party.PROVIDER, now=LATER), Party.REQUESTER, now=LATER
    )
    confirmed = lifecycle.confirm(both, now=LATER)
    with pytest.raises(Conflict):
        lifecycle.cancel(confirmed, CancelReason.OFFER_CHANGED, now=LATER)
    ended = lifecycle.end_booking(confirmed, now=LATER)
    assert ended.status is MatchStatus.CANCELLED and ended.reason == CancelReason.BY_PARTY
    assert ended.closed_at == LATER and ended.version == confirmed.version + 1
    for unconfirmed in (proposal(), both, ended):
        with pytest.raises(Conflict):
            lifecycle.end_booking(unconfirmed, now=LATER)


def test_the_events_say_who_proposed_the_pair() -> None:
    assert lifecycle.state(proposal())["origin"] is Origin.ENGINE
    by_hand = proposal(origin=Origin.FACILITATOR)
    assert lifecycle.state(by_hand)["origin"] is Origin.FACILITATOR
