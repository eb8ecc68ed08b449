"""The tally of a proposal, per college then weighted, in exact fractions.

The rule (also in the README):
1. A college's result is its share of yes among its yes and no votes (abstentions and
   objections count for its quorum, not for its result).
2. A college reaches its quorum when at least one of its frozen electorate voted and its voters
   are at least the rule's share of that electorate (`college_quorum_percent`).
3. The colleges that reached their quorum must carry at least `quorum_weight_percent` of the
   weight of the colleges that have members (a college nobody belongs to yet cannot vote, and
   must not stop a young territory from deciding anything); otherwise the proposal is rejected
   for lack of quorum, so a few members of one college never decide for the whole territory.
4. The proposal's result is the sum over those colleges of weight * result, the weights
   renormalised over the ones that have a result (at least one yes or no).
5. Majority adopts above 1/2, two thirds at 2/3 or more; consent adopts when the quorum is met and
   no objection stands (no current `objection` vote).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from contracts.governance import Choice, Method, Outcome

HALF = Fraction(1, 2)
TWO_THIRDS = Fraction(2, 3)


@dataclass(frozen=True)
class CollegeResult:
    college: str
    weight: int
    electorate: int
    yes: int = 0
    no: int = 0
    abstain: int = 0
    objection: int = 0
    quorum_reached: bool = False

    @property
    def voters(self) -> int:
        return self.yes + self.no + self.abstain + self.objection

    @property
    def result(self) -> Fraction | None:
        decided = self.yes + self.no
        return Fraction(self.yes, decided) if decided else None


@dataclass(frozen=True)
class Tally:
    outcome: Outcome
    reason: str  # adopted, rejected, no_quorum, objection
    result: Fraction | None
    colleges: tuple[CollegeResult, ...]


@dataclass(frozen=True)
class QuorumRule:
    college_quorum_percent: int
    quorum_weight_percent: int


def count_votes(votes: Iterable[tuple[str, Choice]]) -> Counter[tuple[str, Choice]]:
    """Votes given as (college, choice), counted."""
    return Counter(votes)


def tally_votes(
    method: Method,
    weights: Mapping[str, int],
    electorate: Mapping[str, int],
    counts: Mapping[tuple[str, Choice], int],
    rule: QuorumRule,
) -> Tally:
    """Tally the current votes, counted per (college, choice), of a frozen electorate
    (`electorate[college]` members) under frozen college `weights`."""
    colleges_seen: dict[str, dict[Choice, int]] = {
        college: dict.fromkeys(Choice, 0) for college in weights
    }
    for (college, choice), n in counts.items():
        colleges_seen.setdefault(college, dict.fromkeys(Choice, 0))[choice] += n
    counts_by = colleges_seen
    colleges = []
    for college in sorted(counts_by):
        seen = counts_by[college]
        size = electorate.get(college, 0)
        voters = sum(seen.values())
        reached = (
            size > 0
            and voters > 0
            and Fraction(voters, size) >= Fraction(rule.college_quorum_percent, 100)
        )
        colleges.append(
            CollegeResult(
                college,
                weights.get(college, 0),
                size,
                yes=seen[Choice.YES],
                no=seen[Choice.NO],
                abstain=seen[Choice.ABSTAIN],
                objection=seen[Choice.OBJECTION],
                quorum_reached=reached,
            )
        )
    return _judge(method, tuple(colleges), rule)


def _judge(method: Method, colleges: tuple[CollegeResult, ...], rule: QuorumRule) -> Tally:
    counted = [c for c in colleges if c.quorum_reached and c.weight > 0]
    total = sum(c.weight for c in colleges if c.electorate > 0)
    if not total:
        return Tally(Outcome.REJECTED, "no_quorum", None, colleges)
    if Fraction(sum(c.weight for c in counted), total) < Fraction(rule.quorum_weight_percent, 100):
        return Tally(Outcome.REJECTED, "no_quorum", None, colleges)
    result = weighted_result(counted)
    if method is Method.CONSENT:
        if any(c.objection for c in colleges):
            return Tally(Outcome.REJECTED, "objection", result, colleges)
        return Tally(Outcome.ADOPTED, "adopted", result, colleges)
    threshold_met = result is not None and (
        result > HALF if method is Method.MAJORITY else result >= TWO_THIRDS
    )
    if threshold_met:
        return Tally(Outcome.ADOPTED, "adopted", result, colleges)
    return Tally(Outcome.REJECTED, "rejected", result, colleges)


def weighted_result(colleges: Iterable[CollegeResult]) -> Fraction | None:
    """Σ weight * result over the colleges with a result, the weights renormalised over them."""
    decided = [(c.weight, c.result) for c in colleges if c.result is not None and c.weight > 0]
    weight = sum(w for w, _ in decided)
    if not weight:
        return None
    return sum((Fraction(w) * r for w, r in decided if r is not None), Fraction(0)) / weight


def as_text(value: Fraction | None) -> str | None:
    """`p/q`, as events and the API write a fraction."""
    return None if value is None else f"{value.numerator}/{value.denominator}"
