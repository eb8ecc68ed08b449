"""The tally rule: per college, then weighted over the colleges that reached their quorum, in
exact fractions."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from contracts.governance import Choice, Method, Outcome
from services.governance.domain.tally import (
    QuorumRule,
    Tally,
    count_votes,
    tally_votes,
    weighted_result,
)

COLLEGES = ("business", "association", "local_authority", "citizen", "research_training")
EVEN = dict.fromkeys(COLLEGES, 20)
NO_QUORUM_RULE = QuorumRule(college_quorum_percent=0, quorum_weight_percent=1)
DEFAULT_RULE = QuorumRule(college_quorum_percent=50, quorum_weight_percent=50)


def tallied(
    method: Method,
    weights: dict[str, int],
    electorate: dict[str, int],
    votes: list[tuple[str, Choice]],
    rule: QuorumRule,
) -> Tally:
    return tally_votes(method, weights, electorate, count_votes(votes), rule)


def ballot(college: str, yes: int = 0, no: int = 0, **other: int) -> list[tuple[str, Choice]]:
    votes = [(college, Choice.YES)] * yes + [(college, Choice.NO)] * no
    for choice, count in other.items():
        votes += [(college, Choice(choice))] * count
    return votes


weights = st.lists(st.integers(0, 100), min_size=5, max_size=5).filter(lambda w: sum(w) > 0)
counts = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 5))


@given(weights, st.lists(counts, min_size=5, max_size=5), st.integers(1, 20))
def test_the_result_is_the_weighted_mean_renormalised_over_the_counted_colleges(
    raw: list[int], votes: list[tuple[int, int, int]], scale: int
) -> None:
    given_weights = dict(zip(COLLEGES, raw, strict=True))
    cast = [
        v for c, (y, n, a) in zip(COLLEGES, votes, strict=True) for v in ballot(c, y, n, abstain=a)
    ]
    electorate = {c: sum(v) + 1 for c, v in zip(COLLEGES, votes, strict=True)}
    tally = tallied(Method.MAJORITY, given_weights, electorate, cast, NO_QUORUM_RULE)
    decided = [
        (given_weights[c], Fraction(y, y + n))
        for c, (y, n, a) in zip(COLLEGES, votes, strict=True)
        if y + n and given_weights[c]
    ]
    expected = sum(w * r for w, r in decided) / sum(w for w, _ in decided) if decided else None
    if tally.reason != "no_quorum":
        assert tally.result == expected
    # Multiplying every weight by the same number changes nothing: only shares count.
    scaled = {c: w * scale for c, w in given_weights.items()}
    again = tallied(Method.MAJORITY, scaled, electorate, cast, NO_QUORUM_RULE)
    assert again.result == tally.result and again.outcome == tally.outcome
    assert tally.result is None or 0 <= tally.result <= 1


@given(st.permutations(ballot("business", 3, 2) + ballot("citizen", 1, 4, abstain=2)))
def test_the_order_of_the_votes_does_not_matter(votes: list[tuple[str, Choice]]) -> None:
    electorate = {"business": 5, "citizen": 7}
    first = tallied(Method.MAJORITY, EVEN, electorate, votes, NO_QUORUM_RULE)
    assert (
        first.result == Fraction(1 * 3 / 5 + 1 * 1 / 5) / 2
        or first.result == (Fraction(3, 5) + Fraction(1, 5)) / 2
    )


def test_two_thirds_is_exact() -> None:
    electorate = {"business": 3000}
    exactly = tallied(
        Method.TWO_THIRDS, EVEN, electorate, ballot("business", 2000, 1000), NO_QUORUM_RULE
    )
    assert exactly.result == Fraction(2, 3) and exactly.outcome is Outcome.ADOPTED
    below = tallied(
        Method.TWO_THIRDS, EVEN, electorate, ballot("business", 1999, 1000), NO_QUORUM_RULE
    )
    assert below.result is not None and below.result < Fraction(2, 3)
    assert below.outcome is Outcome.REJECTED
    # Across colleges too: 30 % of the weight at 1/3 and 70 % at 17/21 make exactly 2/3.
    mixed = tallied(
        Method.TWO_THIRDS,
        {"business": 30, "citizen": 70},
        {"business": 3, "citizen": 21},
        ballot("business", 1, 2) + ballot("citizen", 17, 4),
        NO_QUORUM_RULE,
    )
    assert mixed.result == Fraction(30, 100) * Fraction(1, 3) + Fraction(70, 100) * Fraction(17, 21)
    assert mixed.result == Fraction(2, 3) and mixed.outcome is Outcome.ADOPTED


def test_a_majority_needs_more_than_half() -> None:
    tied = tallied(Method.MAJORITY, EVEN, {"business": 2}, ballot("business", 1, 1), NO_QUORUM_RULE)
    assert tied.result == Fraction(1, 2) and tied.outcome is Outcome.REJECTED


@given(st.integers(0, 4), st.integers(0, 20))
def test_consent_fails_on_one_standing_objection(where: int, consents: int) -> None:
    electorate = dict.fromkeys(COLLEGES, consents + 1)
    votes = [v for c in COLLEGES for v in ballot(c, consents)]
    votes.append((COLLEGES[where], Choice.OBJECTION))
    tally = tallied(Method.CONSENT, EVEN, electorate, votes, NO_QUORUM_RULE)
    assert tally.outcome is Outcome.REJECTED and tally.reason == "objection"
    without = tallied(Method.CONSENT, EVEN, electorate, votes[:-1], NO_QUORUM_RULE)
    assert without.outcome is (Outcome.ADOPTED if consents else Outcome.REJECTED)


def test_three_citizens_never_decide_for_the_territory() -> None:
    """All the citizens vote yes, nobody else votes: 20 % of the weight is not enough."""
    electorate = {"citizen": 3, "business": 10, "association": 10}
    tally = tallied(Method.MAJORITY, EVEN, electorate, ballot("citizen", 3), DEFAULT_RULE)
    assert tally.outcome is Outcome.REJECTED and tally.reason == "no_quorum"
    # With half of the businesses and associations in, 60 % of the weight counts.
    more = ballot("citizen", 3) + ballot("business", 1, 4) + ballot("association", 2, 3)
    counted = tallied(Method.MAJORITY, EVEN, electorate, more, DEFAULT_RULE)
    assert counted.reason != "no_quorum"
    assert counted.result == (Fraction(1) + Fraction(1, 5) + Fraction(2, 5)) / 3


def test_only_colleges_with_members_count_in_the_total_weight() -> None:
    """A territory whose members sit in two colleges of five decides with those two."""
    electorate = {"business": 2, "association": 3}
    votes = ballot("business", 2) + ballot("association", 1, 1)
    tally = tallied(Method.MAJORITY, EVEN, electorate, votes, DEFAULT_RULE)
    assert tally.reason == "adopted" and tally.result == (1 + Fraction(1, 2)) / 2
    half = tallied(Method.MAJORITY, EVEN, electorate, ballot("association", 3), DEFAULT_RULE)
    assert half.reason == "adopted"  # 20 of the 40 that have members: the half the rule asks
    three = {**electorate, "citizen": 4}
    alone = tallied(Method.MAJORITY, EVEN, three, ballot("association", 3), DEFAULT_RULE)
    assert alone.reason == "no_quorum"  # 20 of 60
    nobody = tallied(Method.MAJORITY, EVEN, {}, [], DEFAULT_RULE)
    assert nobody.reason == "no_quorum"


def test_a_college_below_its_quorum_is_left_out_and_the_weights_renormalise() -> None:
    electorate = {"business": 4, "citizen": 10, "association": 2}
    votes = ballot("business", 4) + ballot("association", 0, 2) + ballot("citizen", 0, 4)
    tally = tallied(Method.MAJORITY, EVEN, electorate, votes, QuorumRule(50, 40))
    citizens = next(c for c in tally.colleges if c.college == "citizen")
    assert not citizens.quorum_reached  # 4 of 10
    assert tally.result == Fraction(1, 2)  # business 1, association 0, each half the weight
    assert weighted_result([c for c in tally.colleges if c.quorum_reached]) == Fraction(1, 2)
