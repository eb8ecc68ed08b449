"""The pure rules of people: which actor a session acts for, who manages people, where links
may lead."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.actors import ActorStatus
from services.actors.domain import digest
from services.actors.people import (
    Membership,
    Role,
    SignInRequest,
    choose_actor,
    ensure_admin,
    ensure_not_last_admin,
    new_secret,
    new_session_id,
)
from services.runtime.errors import Conflict, Forbidden
from services.runtime.principal import Principal

memberships = st.lists(
    st.builds(
        Membership,
        actor_id=st.uuids(),
        actor_name=st.just("x"),
        role=st.sampled_from(Role),
        status=st.sampled_from(ActorStatus),
    ),
    max_size=6,
    unique_by=lambda m: m.actor_id,
)


@given(memberships)
def test_by_default_the_first_admitted_actor_else_the_first_usable_never_a_suspended_one(
    ms: list[Membership],
) -> None:
    usable = [m for m in ms if m.status != ActorStatus.SUSPENDED]
    if not usable:
        with pytest.raises(Forbidden):
            choose_actor(ms, None)
        return
    chosen = choose_actor(ms, None)
    admitted = [m for m in ms if m.status == ActorStatus.ACTIVE]
    assert chosen == (admitted[0] if admitted else usable[0])


@given(memberships, st.uuids())
def test_a_named_actor_must_be_ones_own_and_not_suspended(
    ms: list[Membership], stranger: uuid.UUID
) -> None:
    for m in ms:
        if m.status == ActorStatus.SUSPENDED:
            with pytest.raises(Forbidden):
                choose_actor(ms, m.actor_id)
        else:
            assert choose_actor(ms, m.actor_id) == m
    if stranger not in {m.actor_id for m in ms}:
        with pytest.raises(Forbidden) as refused:
            choose_actor(ms, stranger)
        assert refused.value.field == "actor_id"


def principal(actor_id: uuid.UUID, person_id: str = "") -> Principal:
    return Principal(
        actor_id=str(actor_id),
        territory_id=str(uuid.uuid4()),
        kind="business",
        roles=frozenset(),
        token_id="t",
        person_id=person_id,
    )


def test_only_a_person_who_administers_the_actor_manages_its_people() -> None:
    actor = uuid.uuid4()
    ensure_admin(principal(actor, "p"), actor, Role.ADMIN)
    for who, role in [
        (principal(actor, "p"), Role.MEMBER),
        (principal(actor, "p"), None),
        (principal(actor), Role.ADMIN),  # an API key is no person
        (principal(uuid.uuid4(), "p"), Role.ADMIN),  # a session of another actor
    ]:
        with pytest.raises(Forbidden):
            ensure_admin(who, actor, role)


def test_the_last_admin_stays() -> None:
    with pytest.raises(Conflict):
        ensure_not_last_admin(Role.ADMIN, 1)
    ensure_not_last_admin(Role.ADMIN, 2)
    ensure_not_last_admin(Role.MEMBER, 1)


@pytest.mark.parametrize("target", ["/", "/offres?x=1", "/connexion/suite"])
def test_links_may_return_to_a_page_of_the_portal(target: str) -> None:
    assert SignInRequest(email="a@b.example", return_to=target).return_to == target


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "/\\evil.example", "offres", ""]
)
def test_links_never_return_elsewhere(target: str) -> None:
    with pytest.raises(ValidationError):
        SignInRequest(email="a@b.example", return_to=target)


def test_secrets_are_random_and_stored_as_digests_and_sessions_are_not_api_keys() -> None:
    (a, a_digest), (b, _) = new_secret(), new_secret()
    assert a != b and len(a) >= 43 and a_digest == digest(a) and a.encode() != a_digest
    session = new_session_id()
    assert session.startswith("ses_") and len(session) != 16  # never an API key's id
