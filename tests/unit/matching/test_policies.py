"""Policy changes decided by governance: what they may change, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.matching import policies
from services.matching.model import DEFAULT_POLICY

AT = datetime(2026, 6, 1, tzinfo=UTC)
START = policies.default_policy("t")


def change(parameters: dict[str, object]) -> policies.TerritoryPolicy:
    return policies.changed_policy(START, parameters, decision_id="d1", at=AT)


def test_the_default_is_version_one() -> None:
    assert START.version == 1 and START.policy is DEFAULT_POLICY
    assert dict(START.social_priority) == {}


def test_a_change_gives_the_next_version_and_keeps_what_it_does_not_name() -> None:
    new = change({"top_k": 2, "ttl_hours": 24})
    assert new.version == 2 and new.decision_id == "d1" and new.adopted_at == AT
    assert new.policy.top_k == 2 and new.policy.ttl == timedelta(hours=24)
    assert new.policy.threshold == DEFAULT_POLICY.threshold
    assert dict(new.policy.weights) == dict(DEFAULT_POLICY.weights)
    again = policies.changed_policy(new, {"threshold": 0.6}, decision_id="d2", at=AT)
    assert again.version == 3 and again.policy.top_k == 2 and again.policy.threshold == 0.6


def test_new_weights_replace_all_weights() -> None:
    new = change({"weights": {"distance": 1, "dormancy": 1}})
    assert new.policy.weights["distance"] == 1 and new.policy.weights["price_fit"] == 0


def test_social_priority_per_requester_kind() -> None:
    new = change({"social_priority": {"association": 0.8}})
    assert dict(new.social_priority) == {"association": 0.8}


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"threshold": 1.5},
        {"top_k": 0},
        {"ttl_hours": -1},
        {"fairness_cap": 0},
        {"weights": {"charm": 1}},
        {"weights": {"distance": 0}},
        {"weights": {"distance": -1, "dormancy": 2}},
        {"social_priority": {"association": 2}},
        {"social_priority": {"aliens": 0.5}},
        {"top_k": 3, "unknown": True},
    ],
)
def test_invalid_parameters_are_refused_with_value_error(parameters: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        change(parameters)


def test_stored_form_round_trips() -> None:
    new = change({"top_k": 2, "social_priority": {"citizen": 0.3}, "weights": {"distance": 2}})
    stored = policies.to_json(new)
    back = policies.from_json("t", 2, stored, decision_id="d1", adopted_at=AT)
    assert back.policy == new.policy
    assert dict(back.social_priority) == dict(new.social_priority)
