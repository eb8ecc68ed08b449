"""A territory's matching policy: stored versions, and the change a governance decision makes.

Each territory has its own policy, since each territory governs itself. Until its first
decision it runs on `DEFAULT_POLICY` (version 1); an adopted `change_matching_policy` decision
gives the next version. The decision's `parameters` name what changes; what they leave out
stays as it was, except the weights: given, they replace every weight (a part left out then
weighs 0, as `Policy` says). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from contracts.governance import MatchingPolicyChange
from services.matching.model import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class TerritoryPolicy:
    """The policy in force in a territory, with the social priority it gives requester kinds
    (a part of the score: 0 for a kind it does not list) and the decision that set it."""

    territory_id: str
    policy: Policy
    social_priority: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    decision_id: str | None = None
    adopted_at: datetime | None = None

    @property
    def version(self) -> int:
        return self.policy.version


def default_policy(territory_id: str) -> TerritoryPolicy:
    return TerritoryPolicy(territory_id, DEFAULT_POLICY)


def changed_policy(
    current: TerritoryPolicy, parameters: Mapping[str, Any], *, decision_id: str, at: datetime
) -> TerritoryPolicy:
    """The next version of `current` with `parameters` applied.

    Raises ValueError (pydantic's ValidationError is one) for unknown names, values out of
    range, unknown score parts or weights that are all zero.
    """
    change = MatchingPolicyChange.model_validate(parameters)
    old = current.policy
    policy = Policy(
        version=old.version + 1,
        weights=change.weights if change.weights is not None else dict(old.weights),
        threshold=change.threshold if change.threshold is not None else old.threshold,
        top_k=change.top_k if change.top_k is not None else old.top_k,
        ttl=timedelta(hours=change.ttl_hours) if change.ttl_hours is not None else old.ttl,
        fairness_cap=change.fairness_cap if change.fairness_cap is not None else old.fairness_cap,
    )
    priority: Mapping[str, float] = current.social_priority
    if change.social_priority is not None:
        priority = {str(kind): value for kind, value in change.social_priority.items()}
    return TerritoryPolicy(
        current.territory_id,
        policy,
        MappingProxyType(dict(priority)),
        decision_id=decision_id,
        adopted_at=at,
    )


def to_json(record: TerritoryPolicy) -> dict[str, Any]:
    """What the policies table stores of a version (and `GET /v1/policy` shows)."""
    policy = record.policy
    return {
        "weights": dict(policy.weights),
        "threshold": policy.threshold,
        "top_k": policy.top_k,
        "ttl_hours": policy.ttl.total_seconds() / 3600,
        "fairness_cap": policy.fairness_cap,
        "social_priority": dict(record.social_priority),
    }


def from_json(
    territory_id: str,
    version: int,
    stored: Mapping[str, Any],
    *,
    decision_id: str | None,
    adopted_at: datetime | None,
) -> TerritoryPolicy:
    policy = Policy(
        version=version,
        weights=stored["weights"],
        threshold=stored["threshold"],
        top_k=stored["top_k"],
        ttl=timedelta(hours=stored["ttl_hours"]),
        fairness_cap=stored["fairness_cap"],
    )
    priority = MappingProxyType(dict(stored.get("social_priority", {})))
    return TerritoryPolicy(territory_id, policy, priority, decision_id, adopted_at)
