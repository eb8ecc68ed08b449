"""Who a notification reaches: types and families, scopes, parties, territories."""

from __future__ import annotations

import base64

import pytest

from services.notifications.domain.audience import audience_of, parties_of
from services.notifications.domain.subscriptions import (
    Notification,
    Scope,
    Subscriber,
    check_event_types,
    ensure_may_use,
    new_secret,
    reaches,
)
from services.runtime.errors import Forbidden, InvalidInput
from services.runtime.principal import Principal

KNOWN = {"mcvt.match.proposed.v1", "mcvt.match.confirmed.v1", "mcvt.agreement.signed.v1"}
MATCH = Notification("mcvt.match.proposed.v1", "t1", frozenset({"a", "b"}), "parties")
DECISION = Notification("mcvt.governance.decision_made.v1", "t1", frozenset(), "territory")


def subscriber(
    actor: str = "a", territory: str = "t1", scope: Scope = Scope.ACTOR, *types: str
) -> Subscriber:
    return Subscriber(actor, territory, scope, types or ("mcvt.match.*", "mcvt.governance.*"))


def principal(*roles: str) -> Principal:
    return Principal(
        actor_id="a", territory_id="t1", kind="business", roles=frozenset(roles), token_id="k"
    )


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_event_types_are_known_types_or_families_with_members() -> None:
    assert check_event_types(
        ["mcvt.match.*", "mcvt.match.*", "mcvt.agreement.signed.v1"], KNOWN
    ) == (
        "mcvt.match.*",
        "mcvt.agreement.signed.v1",
    )
    for wrong in (["mcvt.nothing.*"], ["mcvt.*"], ["*"], ["mcvt.match.proposed.v9"], []):
        with pytest.raises(InvalidInput) as refused:
            check_event_types(wrong, KNOWN)
        assert refused.value.field == "event_types"


def test_an_actor_hears_of_its_own_objects_only() -> None:
    assert reaches(subscriber("a"), MATCH)
    assert reaches(subscriber("b"), MATCH)
    assert not reaches(subscriber("c"), MATCH)


def test_the_territory_scope_hears_of_everything_in_its_territory_only() -> None:
    assert reaches(subscriber("c", scope=Scope.TERRITORY), MATCH)
    assert not reaches(subscriber("a", "t2", Scope.TERRITORY), MATCH)


def test_the_territory_business_reaches_every_actor_of_the_territory() -> None:
    assert reaches(subscriber("c"), DECISION)
    assert not reaches(subscriber("c", "t2"), DECISION)


def test_types_not_subscribed_do_not_reach() -> None:
    assert not reaches(subscriber("a", "t1", Scope.ACTOR, "mcvt.agreement.*"), MATCH)
    assert reaches(subscriber("a", "t1", Scope.ACTOR, "mcvt.match.proposed.v1"), MATCH)


def test_only_facilitators_and_partners_take_the_whole_territory() -> None:
    ensure_may_use(principal(), Scope.ACTOR)
    ensure_may_use(principal("facilitator"), Scope.TERRITORY)
    ensure_may_use(principal("partner"), Scope.TERRITORY)
    with pytest.raises(Forbidden):
        ensure_may_use(principal(), Scope.TERRITORY)


def test_parties_are_the_actors_a_payload_names() -> None:
    data = {"provider_id": "p", "requester_id": "r", "offer_id": "o", "voter_id": None}
    assert parties_of(data) == {"p", "r"}
    assert parties_of({"payer_id": "x", "payee_id": "y"}) == {"x", "y"}
    assert audience_of("mcvt.governance.proposal_opened.v1") == "territory"
    assert audience_of("mcvt.governance.vote_cast.v1") == "parties"
    assert audience_of("mcvt.match.proposed.v1") == "parties"
