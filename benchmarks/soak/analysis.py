"""The soak's judgements, computed from its figures alone: percentiles, trends, whether a step of
the ramp held, the lost and doubled effects, and the verdict line. Pure: no I/O."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

P99_LIMIT_S = 1.0  # the API's p99 past which the ramp stops
# A backlog "grows" over a step when it ends higher than it began by more than this many rows
# and its fitted slope is positive: the relay polls every second, so a few rows waiting at any
# instant are its normal state, not a backlog.
BACKLOG_NOISE_ROWS = 20
# A consumer group commits per batch and the scheduler claims jobs a few at a time: a lag or a
# count of jobs due "grows" over a step past this many, with a positive slope.
QUEUE_NOISE = 50
# Over the last half of the steady run, what counts as flat: a fitted rise there of at most
# this share of the mean level, or of this floor when that is larger (rows for a backlog or a
# lag, MiB for memory).
FLAT_SHARE = {"rows": 0.10, "MiB": 0.05}
FLAT_FLOOR = {"rows": 20.0, "MiB": 5.0}


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (x, y) points; 0 for fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def last_half(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if not points:
        return []
    middle = points[0][0] + (points[-1][0] - points[0][0]) / 2
    return [p for p in points if p[0] >= middle]


def grows(points: Sequence[tuple[float, float]], noise: float = BACKLOG_NOISE_ROWS) -> bool:
    """Whether a backlog grew over these (seconds, rows) samples."""
    if len(points) < 2:
        return False
    return points[-1][1] - points[0][1] > noise and slope(points) > 0


@dataclass(frozen=True)
class Step:
    """One rate of the ramp: what was asked, what was sent, how it answered."""

    rate: float  # needs per second asked
    sent_rate: float  # needs per second the client managed to send
    p99_s: float
    errors: int
    backlog: Mapping[str, Sequence[tuple[float, float]]]  # service -> (s, unpublished rows)
    # service -> (s, records its groups have not committed), and (s, scheduled jobs due)
    lag: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    jobs: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)

    def growing(self) -> list[str]:
        return sorted(name for name, points in self.backlog.items() if grows(points))

    def falling_behind(self) -> list[str]:
        """The consumers and schedulers whose queue grew over the step."""
        return sorted(
            [f"{name} lag" for name, p in self.lag.items() if grows(p, QUEUE_NOISE)]
            + [f"{name} jobs" for name, p in self.jobs.items() if grows(p, QUEUE_NOISE)]
        )

    def why_not_stable(self) -> str | None:
        """None when the step held; else why it did not."""
        if self.errors:
            return f"{self.errors} requests failed"
        if not self.p99_s <= P99_LIMIT_S:
            return f"p99 {self.p99_s:.2f}s > {P99_LIMIT_S:g}s"
        if self.sent_rate < 0.9 * self.rate:
            return f"the client sent {self.sent_rate:.1f}/s of {self.rate:g}/s (too many in flight)"
        if growing := self.growing():
            return "outbox backlog growing at " + ", ".join(growing)
        if behind := self.falling_behind():
            return "falling behind: " + ", ".join(behind)
        return None


def ramp_rates(start: float, factor: float, limit: float) -> list[float]:
    """The rates the ramp tries: from `start`, times `factor` each step (rounded), to `limit`."""
    rates: list[float] = []
    rate = start
    while rate <= limit:
        rates.append(rate)
        rate = max(rate + 1, round(rate * factor))
    return rates


def ceiling(steps: Iterable[Step]) -> float:
    """The last rate held before the first step that did not hold (0 if none held)."""
    held = 0.0
    for step in steps:
        if step.why_not_stable() is not None:
            break
        held = step.rate
    return held


# --- effects --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effects:
    """One kind of effect: how many were expected, and how many were missing or seen twice."""

    name: str
    expected: int
    lost: int
    doubled: int


def tally(name: str, expected: Iterable[str], seen: Iterable[str]) -> Effects:
    """Each expected key should be seen exactly once: lost are those never seen, doubled those
    seen more than once (a key seen that was not expected counts as doubled too: an effect
    nobody asked for)."""
    wanted = set(expected)
    counts = Counter(seen)
    lost = sum(1 for key in wanted if counts[key] == 0)
    doubled = sum(1 for key, n in counts.items() if n > 1 or key not in wanted)
    return Effects(name, len(wanted), lost, doubled)


def counted(name: str, expected: Mapping[str, int], seen: Mapping[str, int]) -> Effects:
    """Per key, `expected[key]` effects should be seen: fewer are lost, more are doubled."""
    lost = sum(max(0, n - seen.get(key, 0)) for key, n in expected.items())
    doubled = sum(max(0, n - expected.get(key, 0)) for key, n in seen.items())
    return Effects(name, sum(expected.values()), lost, doubled)


# --- the verdict ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    name: str
    unit: str  # "rows" or "MiB"
    per_minute: float  # the fitted slope over the last half of the run
    rise: float  # that slope over the last half's length
    limit: float  # the largest rise still flat
    flat: bool


def trend_of(name: str, points: Sequence[tuple[float, float]], unit: str) -> Trend:
    """The fitted trend of (seconds, level) points over their last half: flat when the rise
    it fits there stays within the share of the mean level (or the floor) of `unit`."""
    half = last_half(points)
    per_second = slope(half)
    span = half[-1][0] - half[0][0] if half else 0.0
    level = sum(y for _, y in half) / len(half) if half else 0.0
    rise = per_second * span
    limit = max(FLAT_FLOOR[unit], FLAT_SHARE[unit] * level)
    return Trend(name, unit, per_second * 60, rise, limit, rise <= limit)


def trends_by_service(
    what: str, series: Mapping[str, Sequence[tuple[float, float]]], unit: str
) -> list[Trend]:
    """A trend per service (`what` and its name): a service falling behind is not hidden by
    another catching up in a sum."""
    return [trend_of(f"{what} {name}", points, unit) for name, points in sorted(series.items())]


def verdict(trends: Sequence[Trend], effects: Sequence[Effects]) -> tuple[bool, str]:
    """Whether the run held (no upward trend, zero lost, zero doubled), with the line saying so."""
    rising = [t.name for t in trends if not t.flat]
    lost = sum(e.lost for e in effects)
    doubled = sum(e.doubled for e in effects)
    ok = not rising and lost == 0 and doubled == 0
    trend_text = "no upward trend" if not rising else "rising: " + ", ".join(rising)
    line = (
        f"verdict: {'PASS' if ok else 'FAIL'}: {trend_text}; {lost} lost, {doubled} doubled"
        f" over {sum(e.expected for e in effects)} effects"
    )
    return ok, line
