"""Recompute every open ballot's tally from the audit chain alone.

The `proposal_opened` entry holds the frozen weights, quorum rule and electorate per college;
each `vote_cast` entry of an open ballot holds the voter, its college and its choice, the last
one of a voter being its current vote. So anyone holding the chain recomputes the result of an
open ballot without the service's tables. (A secret ballot's entries are commitments: its tally
is recomputed from the stored votes, which verification checks against those commitments.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.governance import Choice, Method
from services.governance.domain.tally import QuorumRule, Tally, count_votes, tally_votes


@dataclass
class _Ballot:
    method: Method
    weights: dict[str, int]
    electorate: dict[str, int]
    rule: QuorumRule
    secret: bool
    current: dict[str, tuple[str, Choice]] = field(default_factory=dict)
    closed: bool = False


def replay(contents: Iterable[Mapping[str, Any]]) -> dict[str, Tally]:
    """The tally of every open ballot in the chain, from its current votes at its closing (or
    now, for one still open)."""
    ballots: dict[str, _Ballot] = {}
    for content in contents:
        kind, proposal = content["type"], content.get("proposal_id", "")
        if kind == "proposal_opened":
            quorum = content["quorum"]
            ballots[proposal] = _Ballot(
                Method(content["method"]),
                dict(content["weights"]),
                dict(content["electorate"]),
                QuorumRule(quorum["college_quorum_percent"], quorum["quorum_weight_percent"]),
                bool(content["secret"]),
            )
        elif kind == "vote_cast" and "voter_id" in content:
            ballot = ballots[proposal]
            if not ballot.closed:
                vote = (content["college"], Choice(content["choice"]))
                ballot.current[content["voter_id"]] = vote
        elif kind == "proposal_closed":
            ballots[proposal].closed = True
    return {
        proposal: tally_votes(
            ballot.method,
            ballot.weights,
            ballot.electorate,
            count_votes(ballot.current.values()),
            ballot.rule,
        )
        for proposal, ballot in ballots.items()
        if not ballot.secret
    }
