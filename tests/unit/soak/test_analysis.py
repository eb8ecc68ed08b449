"""The soak's judgements (benchmarks/soak/analysis.py) on figures made up to exercise each rule,
and the bodies its load sends, checked against the APIs' own drafts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from benchmarks.soak import analysis, load
from benchmarks.soak.analysis import Effects, Step
from services.offers.drafts import AssetDraft, NeedDraft, OfferDraft


def test_each_expected_effect_seen_once_is_neither_lost_nor_doubled() -> None:
    assert analysis.tally("x", ["a", "b"], ["b", "a"]) == Effects("x", 2, 0, 0)


def test_an_effect_missing_is_lost_and_one_seen_twice_or_unasked_is_doubled() -> None:
    found = analysis.tally("x", ["a", "b", "c"], ["a", "a", "b", "z"])
    assert (found.expected, found.lost, found.doubled) == (3, 1, 2)


def test_counts_per_key_give_what_is_missing_and_what_is_extra() -> None:
    found = analysis.counted("votes", {"v1": 3, "v2": 2}, {"v1": 2, "v2": 4, "v3": 1})
    assert (found.expected, found.lost, found.doubled) == (5, 1, 3)
    assert analysis.counted("votes", {"v1": 3}, {"v1": 3}) == Effects("votes", 3, 0, 0)


def test_percentile_interpolates_and_is_nan_without_samples() -> None:
    assert analysis.percentile([1, 2, 3, 4, 5], 50) == 3
    assert analysis.percentile([0, 10], 99) == 9.9
    assert math.isnan(analysis.percentile([], 99))


def test_a_level_that_wobbles_around_a_mean_is_flat_and_one_that_climbs_is_not() -> None:
    wobbling = [(t * 5.0, 300 + (40 if t % 2 else -40)) for t in range(120)]
    climbing = [(t * 5.0, 300 + t * 2.0) for t in range(120)]
    assert analysis.trend_of("lag", wobbling, "rows").flat
    rising = analysis.trend_of("lag", climbing, "rows")
    assert not rising.flat
    assert rising.per_minute == 24.0  # 2 rows every 5 s


def test_memory_is_flat_while_it_grows_less_than_its_share_over_the_last_half() -> None:
    # 200 MiB growing 0.5 MiB a minute for ten minutes: 2.5 MiB over the last half, flat;
    # growing 5 MiB a minute: 25 MiB, over 5 % of 200 MiB.
    slow = [(t * 10.0, 200 + t * 10 / 60 * 0.5) for t in range(61)]
    fast = [(t * 10.0, 200 + t * 10 / 60 * 5) for t in range(61)]
    assert analysis.trend_of("RSS offers", slow, "MiB").flat
    assert not analysis.trend_of("RSS offers", fast, "MiB").flat


def test_only_the_last_half_of_the_run_is_judged() -> None:
    warming = [(float(t), float(t) if t < 50 else 50.0) for t in range(100)]
    assert analysis.trend_of("backlog", warming, "rows").flat


def step(**changes: object) -> Step:
    held = {
        "rate": 4.0,
        "sent_rate": 4.0,
        "p99_s": 0.4,
        "errors": 0,
        "backlog": {"offers": [(0.0, 3), (10.0, 1), (20.0, 4), (30.0, 2)]},
    }
    return Step(**{**held, **changes})  # type: ignore[arg-type]


def test_a_step_holds_unless_slow_failing_short_of_its_rate_or_its_backlog_grows() -> None:
    assert step().why_not_stable() is None
    assert "p99" in str(step(p99_s=1.2).why_not_stable())
    assert "failed" in str(step(errors=2).why_not_stable())
    assert "client" in str(step(sent_rate=3.0).why_not_stable())
    growing = {"matching": [(0.0, 0), (10.0, 40), (20.0, 90), (30.0, 150)]}
    assert "matching" in str(step(backlog=growing).why_not_stable())
    # The consumers and the schedulers must keep up too; a batch's jitter is not a trend.
    assert "matching lag" in str(step(lag=growing).why_not_stable())
    assert "matching jobs" in str(step(jobs=growing).why_not_stable())
    jitter = {"notifications": [(0.0, 10), (10.0, 45), (20.0, 5), (30.0, 40)]}
    assert step(lag=jitter, jobs=jitter).why_not_stable() is None


def test_the_ceiling_is_the_last_rate_held_before_the_first_that_was_not() -> None:
    steps = [step(rate=1.0), step(rate=2.0), step(rate=3.0, p99_s=2.0), step(rate=5.0)]
    assert analysis.ceiling(steps) == 2.0
    assert analysis.ceiling([step(rate=1.0, errors=1)]) == 0.0
    assert analysis.ramp_rates(0.5, 1.5, 10) == [0.5, 1.5, 2.5, 4, 6, 9]


def test_each_service_is_judged_apart_so_one_catching_up_hides_none_falling_behind() -> None:
    minutes = range(0, 601, 10)
    catching_up = [(float(s), 1500.0 - 2 * s) for s in minutes]  # 1,500 records down to 300
    falling_behind = [(float(s), 100.0 + s / 3) for s in minutes]  # 100 up to 300
    total = [(a[0], a[1] + b[1]) for a, b in zip(catching_up, falling_behind, strict=True)]
    assert analysis.trend_of("consumer lag", total, "rows").flat  # the sum hides it
    trends = analysis.trends_by_service(
        "consumer lag", {"offers": catching_up, "matching": falling_behind}, "rows"
    )
    assert [(t.name, t.flat) for t in trends] == [
        ("consumer lag matching", False),
        ("consumer lag offers", True),
    ]


def test_the_verdict_passes_only_with_flat_trends_and_nothing_lost_or_doubled() -> None:
    flat = analysis.trend_of("lag", [(0.0, 5.0), (60.0, 5.0), (120.0, 5.0)], "rows")
    ok, line = analysis.verdict([flat], [Effects("needs", 10, 0, 0)])
    assert ok and line.startswith("verdict: PASS: no upward trend; 0 lost, 0 doubled")
    ok, line = analysis.verdict([flat], [Effects("needs", 10, 0, 1)])
    assert not ok and "1 doubled" in line
    climbing = analysis.trend_of("lag", [(t * 5.0, t * 10.0) for t in range(50)], "rows")
    ok, line = analysis.verdict([climbing], [Effects("needs", 10, 0, 0)])
    assert not ok and "rising: lag" in line


def test_the_bodies_the_load_sends_are_ones_the_api_accepts() -> None:
    end = datetime.now(UTC) + timedelta(hours=1)
    need = NeedDraft.model_validate(load.need_body(end))
    assert need.expires_at == end
    AssetDraft.model_validate(load.van_body())
    OfferDraft.model_validate(load.offer_body(str(uuid4())))
