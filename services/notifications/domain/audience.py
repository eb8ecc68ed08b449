"""Who an event concerns: the parties named in its payload, or the whole territory.

An event on a private object (a match, an agreement, a usage report, an offer's draft) concerns
the actors its payload names as parties, and nobody else below the territory's facilitators and
partners. A few governance events are the territory's own business (a proposal opened, a decision
made, the rules changed): they reach every actor of the territory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Audience = Literal["parties", "territory"]

# The payload fields that name an actor a party of the object (every aggregate's contract).
PARTY_FIELDS = (
    "actor_id",
    "owner_id",
    "provider_id",
    "requester_id",
    "beneficiary_id",
    "payer_id",
    "payee_id",
    "voter_id",
)

# Governance events addressed to the whole territory.
TERRITORY_WIDE = frozenset(
    {
        "mcvt.governance.proposal_opened.v1",
        "mcvt.governance.proposal_closed.v1",
        "mcvt.governance.decision_made.v1",
        "mcvt.governance.colleges_changed.v1",
        "mcvt.governance.territory_rules_changed.v1",
    }
)


def parties_of(data: Mapping[str, Any]) -> frozenset[str]:
    """The actor ids a payload names as parties (empty values ignored)."""
    return frozenset(str(data[name]) for name in PARTY_FIELDS if data.get(name))


def audience_of(event_type: str) -> Audience:
    return "territory" if event_type in TERRITORY_WIDE else "parties"
