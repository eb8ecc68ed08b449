"""The pure rules of access and privacy: who gets in, who is admitted, what leaves actors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.actors import ActorKind, ActorStatus, Location
from services.actors import domain
from services.actors.domain import Actor
from services.runtime.access import NotKnownYet, Standing, judge
from services.runtime.errors import Conflict, Forbidden, Unauthorized
from services.runtime.principal import Principal

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TERRITORY = str(uuid.uuid4())


def principal(*, key_id: str = "0123456789abcdef", actor_id: str | None = None) -> Principal:
    return Principal(
        actor_id=actor_id or str(uuid.uuid4()),
        territory_id=TERRITORY,
        kind="business",
        roles=frozenset(),
        token_id="t",
        key_id=key_id,
    )


def actor(status: ActorStatus, kind: ActorKind = ActorKind.BUSINESS, **fields: object) -> Actor:
    return Actor.model_validate(
        {
            "id": uuid.uuid4(),
            "territory_id": TERRITORY,
            "kind": kind,
            "name": "Camille Martin",
            "email": "camille@example.org",
            "phone": "0475000000",
            "location": Location(lat=44.753812, lon=5.370423, commune="Die"),
            "siret": None,
            "status": status,
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            **fields,
        }
    )


@pytest.mark.parametrize("status", ["pending", "active"])
def test_pending_and_active_actors_get_in_with_their_status(status: str) -> None:
    let_in = judge(principal(), Standing(status, key_revoked=False))
    assert let_in.status == status and let_in.admitted == (status == "active")


def test_a_principal_is_not_admitted_until_checked() -> None:
    assert not principal().admitted


@pytest.mark.parametrize(
    ("standing", "refusal"),
    [
        (None, NotKnownYet),
        (Standing("active", key_revoked=True), Unauthorized),
        (Standing("suspended", key_revoked=False), Forbidden),
    ],
)
def test_unknown_revoked_and_suspended_are_refused(
    standing: Standing | None, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        judge(principal(), standing)


def test_unknown_actors_are_told_when_to_retry_and_tokens_without_a_key_are_refused() -> None:
    with pytest.raises(NotKnownYet) as unknown:
        judge(principal(), None)
    assert unknown.value.retry_after_s == 1
    with pytest.raises(Unauthorized):
        judge(principal(key_id=""), Standing("active", key_revoked=False))


def test_admission_is_for_pending_actors_only_and_reinstatement_for_suspended_ones() -> None:
    assert domain.admit(actor(ActorStatus.PENDING), now=NOW).status == ActorStatus.ACTIVE
    for status in (ActorStatus.ACTIVE, ActorStatus.SUSPENDED):
        with pytest.raises(Conflict):
            domain.admit(actor(status), now=NOW)
    assert domain.reinstate(actor(ActorStatus.SUSPENDED), now=NOW).status == ActorStatus.ACTIVE
    for status in (ActorStatus.ACTIVE, ActorStatus.PENDING):
        with pytest.raises(Conflict):
            domain.reinstate(actor(status), now=NOW)


def test_erasure_keeps_the_id_blanks_the_person_and_is_final() -> None:
    before = actor(ActorStatus.ACTIVE, siret="73282932000074")
    erased = domain.erase(before, now=NOW)
    assert erased.id == before.id and erased.version == before.version + 1
    assert (erased.name, erased.email, erased.phone, erased.location, erased.siret) == (
        "",
        "",
        None,
        None,
        None,
    )
    assert erased.status == ActorStatus.SUSPENDED
    with pytest.raises(Conflict):
        domain.erase(erased, now=NOW)
    with pytest.raises(Conflict):
        domain.reinstate(erased, now=NOW)


def test_a_citizens_place_leaves_rounded_and_an_organisations_exact() -> None:
    citizen = domain.state(actor(ActorStatus.ACTIVE, ActorKind.CITIZEN))
    business = domain.state(actor(ActorStatus.ACTIVE))
    assert citizen["location"] == Location(lat=44.75, lon=5.37, commune="Die")
    assert business["location"] == Location(lat=44.753812, lon=5.370423, commune="Die")
    assert not {"email", "phone"} & set(citizen)


def test_an_actor_not_admitted_sees_itself_only() -> None:
    me = actor(ActorStatus.PENDING)
    other = actor(ActorStatus.ACTIVE)
    pending = judge(principal(actor_id=str(me.id)), Standing("pending", key_revoked=False))
    admitted = judge(principal(actor_id=str(me.id)), Standing("active", key_revoked=False))
    assert domain.may_see(pending, me) and not domain.may_see(pending, other)
    assert domain.may_see(admitted, other)
    elsewhere = other.model_copy(update={"territory_id": uuid.uuid4()})
    assert not domain.may_see(admitted, elsewhere)
