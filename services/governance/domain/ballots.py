"""Who may vote what, and when: pure rules of proposals and ballots.

The server's clock judges: a vote is taken from `opens_at` (inclusive) until `closes_at`
(exclusive). A member of the frozen electorate votes while it is not suspended; a vote replaces
its current vote, and the history keeps the old ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.actors import ActorKind
from contracts.fields import Description, Moment, Title
from contracts.governance import PAYLOADS, Choice, Method, ProposalKind
from services.runtime.errors import Conflict, Forbidden, InvalidInput

DEFAULT_WEIGHTS: dict[str, int] = {str(kind): 20 for kind in ActorKind}
DEFAULT_RULES: dict[str, Any] = {
    "public_asset_agreements_need_approval": True,
    "college_quorum_percent": 50,
    "quorum_weight_percent": 50,
    "time_credit_floor": -20,
    "offers_visible_to_other_territories": False,
}
SHORTEST = timedelta(minutes=1)
LONGEST = timedelta(days=90)

ALLOWED: dict[Method, frozenset[Choice]] = {
    Method.MAJORITY: frozenset({Choice.YES, Choice.NO, Choice.ABSTAIN}),
    Method.TWO_THIRDS: frozenset({Choice.YES, Choice.NO, Choice.ABSTAIN}),
    Method.CONSENT: frozenset({Choice.YES, Choice.ABSTAIN, Choice.OBJECTION}),
}


class Draft(BaseModel):
    """A proposal as a facilitator (or governance itself) files it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ProposalKind
    title: Title
    description: Description = ""
    method: Method = Method.MAJORITY
    secret: bool = Field(
        default=False, description="Secret ballot: votes are audited as commitments."
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="The kind's payload.")
    opens_at: Moment | None = Field(default=None, description="Now when left out.")
    closes_at: Moment


def college_of(kind: str) -> str:
    """The college an admitted actor joins by default: the one of its kind."""
    return str(ActorKind(kind))


def parse_payload(kind: ProposalKind, parameters: dict[str, Any]) -> BaseModel:
    """The kind's typed payload; InvalidInput naming the first faulty field of `parameters`."""
    try:
        return PAYLOADS[kind].model_validate(parameters)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in ("parameters", *first["loc"]))
        raise InvalidInput(first["msg"], field=where) from None


def check_window(opens_at: datetime, closes_at: datetime, now: datetime) -> None:
    if closes_at <= opens_at:
        raise InvalidInput("la clôture doit suivre l'ouverture", field="closes_at")
    if closes_at - max(opens_at, now) < SHORTEST:
        raise InvalidInput("le vote doit durer au moins une minute", field="closes_at")
    if closes_at - opens_at > LONGEST:
        raise InvalidInput("un vote dure au plus 90 jours", field="closes_at")


def check_vote(
    *,
    method: Method,
    choice: Choice,
    status: str,
    opens_at: datetime,
    closes_at: datetime,
    in_electorate: bool,
    voter_status: str | None,
    now: datetime,
) -> None:
    """Refuse a vote that must not count: 409 outside the voting window or on a closed proposal,
    403 for a voter outside the frozen electorate or suspended, 422 for a choice the method
    does not take."""
    if status != "open" or now >= closes_at:
        raise Conflict("le vote est clos", field="proposal")
    if now < opens_at:
        raise Conflict("le vote n'est pas encore ouvert", field="proposal")
    if not in_electorate:
        raise Forbidden("vous ne faites pas partie du corps électoral de cette proposition")
    if voter_status != "active":
        raise Forbidden("un membre suspendu ne vote pas")
    if choice not in ALLOWED[method]:
        allowed = ", ".join(sorted(ALLOWED[method]))
        raise InvalidInput(f"choix possibles pour cette méthode : {allowed}", field="choice")
