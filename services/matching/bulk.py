"""A full re-match with array arithmetic: every need ranked at once, as `rank_for_need` would.

Needs are taken in groups that read the same offers (same territory, category and unit). For
a group, the conditions that compare one number of each side (capacity, price model, budget,
requester kind, a shared weekday) and the chord of the need's radius (a straight line through
the Earth, cheaper than the great circle: one matrix product of the points) are evaluated for
every need and offer at once; the pairs of all groups left then get, as arrays, their
distance, their time overlap (the integer interval arithmetic of `availability.overlap`, on
the week's intervals padded to a common width) and every part of the score. A pair the arrays
do not cover (an offer with more week intervals than its row holds, a dated window longer
than a week, a closure within a dated window) gets its overlap from `availability.overlap`
itself. The text, the costliest part, is compared only for the pairs that may still reach the
threshold and a need's `top_k`.

The answer is exactly `rank_for_need`'s: the array distance may differ from the scalar one by a
rounding, so a pair within a hair of a radius is checked with the scalar filter, and every
comparison of totals leaves a margin far wider than any rounding; the pairs finally proposed
get the scalar distance (the same operations, the sines and arcsine by `math`'s functions) and
totals (Python's `sum` of each pair's products), and are ordered by them as `rank_for_need`
orders them. Every other part is the same arithmetic on the same numbers, so the same to the
last bit. Pure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from contracts.taxonomy import descendants
from services.matching.availability import MINUTES_PER_DAY, MINUTES_PER_WEEK, overlap
from services.matching.columns import (
    MODEL_BIT,
    OTHER_KIND,
    WIDTH,
    GroupKey,
    OfferColumns,
)
from services.matching.filters import within_both_radii, within_validity
from services.matching.geo import EARTH_RADIUS_KM
from services.matching.model import (
    PARTS,
    Candidate,
    NeedView,
    OfferView,
    Policy,
    PriceModel,
    ScoreBreakdown,
)
from services.runtime.collector import collector_paused

MARGIN = 1e-9
"""Room left for roundings of the array arithmetic, in km and in score (they are ~1e-15)."""

CHORD_MARGIN = 1e-9
"""Room left for roundings of the chords, in Earth radii."""

DOT_MARGIN = 1e-12
"""Room left for roundings of a dot product of two points of the unit sphere (~1e-16)."""

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bools = NDArray[np.bool_]


def _padded(lists: Sequence[Sequence[tuple[int, int]]]) -> tuple[I64, I64]:
    """Interval lists as two arrays (starts, ends), one row each, padded with (0, 0)."""
    width = max(1, max(map(len, lists), default=1))
    rows = [[*intervals, *[(0, 0)] * (width - len(intervals))] for intervals in lists]
    table = np.array(rows, dtype=np.int64).reshape(len(lists), width, 2)
    return table[:, :, 0].copy(), table[:, :, 1].copy()


class _Payable(dict[frozenset[PriceModel], int]):
    """The mask of the price models a need accepts, free always among them; one per set."""

    def __missing__(self, models: frozenset[PriceModel]) -> int:
        mask = self[models] = sum(MODEL_BIT[model] for model in models) | MODEL_BIT[PriceModel.FREE]
        return mask


class _Needs:
    """The columns of the needs, each computed once."""

    def __init__(self, needs: Sequence[NeedView], offers: OfferColumns):
        self.items = needs
        kinds, features = offers.kinds_vocabulary, offers.features_vocabulary
        payable = _Payable()
        table = np.array(
            [
                (
                    n.quantity,
                    payable[n.accepted_price_models],
                    math.inf if n.max_unit_price is None else n.max_unit_price,
                    n.weekdays,
                    n.location.phi,
                    n.location.lam,
                    n.location.cos_phi,
                    n.max_distance_km,
                    len(n.required_features),
                    n.social_priority,
                    len(n.text),
                    n.min_duration_minutes,
                    bool(n.dated),
                )
                for n in needs
            ],
            dtype=np.float64,
        ).reshape(-1, 13)
        self.quantity = table[:, 0].copy()
        self.payable = table[:, 1].astype(np.uint8)
        self.ceiling = table[:, 2].copy()
        # Masks apart: a float does not hold 62 bits.
        self.kind = np.array(
            [kinds.bits.get(n.requester_kind, OTHER_KIND) for n in needs], np.int64
        )
        self.days = table[:, 3].astype(np.uint8)
        self.phi, self.lam, self.cos_phi = (
            table[:, 4].copy(),
            table[:, 5].copy(),
            table[:, 6].copy(),
        )
        self.radius = table[:, 7].copy()
        self.xyz = np.stack(
            [self.cos_phi * np.cos(self.lam), self.cos_phi * np.sin(self.lam), np.sin(self.phi)],
            axis=1,
        )
        # The chord of the radius (the straight line through the Earth, in Earth radii; 2 beyond
        # half the circumference), as the least dot product of two points of the unit sphere
        # within it: |a - b|^2 = 2 - 2 a.b (a bound: the roundings are far within the margins).
        chord = 2 * np.sin(np.minimum(self.radius / (2 * EARTH_RADIUS_KM), math.pi / 2))
        self.closest_dot = 1 - (chord + CHORD_MARGIN) ** 2 / 2 - DOT_MARGIN
        self.required = np.array([features.known(n.required_features) for n in needs], np.int64)
        self.wanted = table[:, 8].copy()
        self.social = table[:, 9].copy()
        self.grams = table[:, 10].copy()
        self.shortest = table[:, 11].copy()
        self.has_dated = table[:, 12] != 0
        starts, ends = _padded([n.week for n in needs])
        self.week_starts, self.week_ends = starts.astype(np.int32), ends.astype(np.int32)
        weekly = (ends - starts).sum(axis=1)
        # A dated window as a stretch of the week line doubled: from its minute of the week
        # (absolute minute 1440, day 1, is a Monday) for its length, at most a week (a longer
        # one is compared pair by pair).
        starts, ends = _padded([n.dated for n in needs])
        # Every minute asked for (the padding's intervals are empty).
        self.requested = (weekly + (ends - starts).sum(axis=1)).astype(np.float64)
        self.dated_lo = np.where(self.has_dated, starts[:, 0], 0)
        self.dated_hi = ends.max(axis=1)
        self.long: Bools = np.any(ends - starts > MINUTES_PER_WEEK, axis=1)
        self.length = np.minimum(ends - starts, MINUTES_PER_WEEK).astype(np.int32)
        self.from_ = ((starts - MINUTES_PER_DAY) % MINUTES_PER_WEEK).astype(np.int32)


def _haversine(phi1: F64, lam1: F64, cos1: F64, phi2: F64, lam2: F64, cos2: F64) -> F64:
    """The formula of `geo.haversine_radians_km`, on arrays."""
    h = np.sin((phi2 - phi1) / 2) ** 2 + cos1 * cos2 * np.sin((lam2 - lam1) / 2) ** 2
    distance: F64 = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return distance


def _clamp(values: F64) -> F64:
    return np.minimum(1.0, np.maximum(0.0, values))


def rematch_all(
    needs: Iterable[NeedView], offers: Iterable[OfferView] | OfferColumns, policy: Policy
) -> dict[str, list[Candidate]] | None:
    """`rank_for_need` for every need against `offers` (views, or the columns an `OfferIndex`
    keeps), by need id; None when the offers name more requester kinds or features than a
    bit mask holds (the caller then ranks need by need)."""
    table = offers if isinstance(offers, OfferColumns) else OfferColumns.of(offers)
    if table.full and isinstance(offers, OfferColumns):
        # Words of offers gone may hold bits: the offers in place may need fewer.
        table = OfferColumns.of(offer for offer in offers.items if offer is not None)
    if table.full:
        return None
    listed = list(needs)
    found: dict[str, list[Candidate]] = {need.need_id: [] for need in listed}
    if not listed:
        return found
    columns = _Needs(listed, table)
    groups: dict[GroupKey, list[int]] = defaultdict(list)
    for number, need in enumerate(listed):
        groups[(need.territory_id, need.category, need.unit)].append(number)
    with _uninterrupted():
        # The pairs of every group, then everything else at once on them.
        all_rows, all_cols = [], []
        for (territory, category, unit), members in groups.items():
            served = np.concatenate(
                [table.filed((territory, sub, unit)) for sub in sorted(descendants(category))]
            )
            if served.size:
                rows, cols = _fitting(columns, table, np.array(members), served)
                all_rows.append(rows)
                all_cols.append(cols)
        if all_rows:
            found.update(
                _rank(columns, table, np.concatenate(all_rows), np.concatenate(all_cols), policy)
            )
    return found


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """One BLAS thread and the garbage collector paused (`collector`: the candidates made
    hold no cycle). The groups' matrix products are small: split over threads that wait
    spinning for one another, they took longer."""
    with collector_paused(), threadpool_limits(limits=1, user_api="blas"):
        yield


def _fitting(needs: _Needs, offers: OfferColumns, members: I64, served: I64) -> tuple[I64, I64]:
    """The pairs of needs and offers of a group that pass the filters comparing one number of
    each side and lie within the need's chord, evaluated for every need and offer at once."""
    capacity, model, euros = offers.capacity[served], offers.model[served], offers.euros[served]
    kinds, days = offers.kinds[served], offers.days[served]
    # Within the need's chord: one matrix product of the points (the offer's own radius is
    # compared with the distances, later).
    fit = (
        (needs.xyz[members] @ offers.xyz[served].T >= needs.closest_dot[members, None])
        & (capacity >= needs.quantity[members, None])
        & (model & needs.payable[members, None] != 0)
        & (euros <= needs.ceiling[members, None])
        & (kinds & needs.kind[members, None] != 0)
        & (days & needs.days[members, None] != 0)
    )
    # The flat positions divided by the row's width: faster than `nonzero` of two dimensions.
    flat = np.flatnonzero(fit)
    rows = flat // served.size
    return members[rows], served[flat - rows * served.size]


def _rank(
    needs: _Needs, offers: OfferColumns, rows: I64, cols: I64, policy: Policy
) -> dict[str, list[Candidate]]:
    distance = _haversine(
        offers.phi[cols],
        offers.lam[cols],
        offers.cos_phi[cols],
        needs.phi[rows],
        needs.lam[rows],
        needs.cos_phi[rows],
    )
    radius = np.minimum(offers.radius[cols], needs.radius[rows])
    keep = distance <= radius + MARGIN
    rows, cols, distance, radius = rows[keep], cols[keep], distance[keep], radius[keep]
    weights = policy.weights
    parts: dict[str, F64] = {}
    positive = radius > 0
    parts["distance"] = np.where(
        positive,
        _clamp(1 - distance / np.where(positive, radius, 1.0)),
        (distance == 0).astype(np.float64),
    )
    parts["time_overlap"] = np.ones(rows.size, dtype=np.float64)
    capacity, asked = offers.capacity[cols], needs.quantity[rows]
    parts["capacity_fit"] = _clamp(np.minimum(capacity, asked) / np.maximum(capacity, asked))
    price, limit = offers.price[cols], needs.ceiling[rows]
    limited = np.isfinite(limit)
    safe_limit = np.where(limited & (limit > 0), limit, 1.0)
    parts["price_fit"] = np.where(
        offers.unpriced[cols],
        1.0,
        np.where(
            ~limited,
            0.5,
            np.where(
                limit <= 0, (price <= 0).astype(np.float64), _clamp(1 - price / (2 * safe_limit))
            ),
        ),
    )
    wanted = needs.wanted[rows]
    parts["features"] = np.where(
        wanted == 0,
        1.0,
        np.bitwise_count(needs.required[rows] & offers.features[cols])
        / np.where(wanted == 0, 1.0, wanted),
    )
    parts["text_similarity"] = np.ones(rows.size, dtype=np.float64)
    parts["dormancy"] = offers.idle[cols]
    parts["social_priority"] = needs.social[rows]

    def summed() -> F64:
        result = np.zeros(rows.size, dtype=np.float64)
        for name in PARTS:
            result += weights[name] * parts[name]
        return result / policy.weight_sum

    # The time overlap only for the pairs that may reach the threshold with a full one.
    keep = summed() >= policy.threshold - MARGIN
    rows, cols, distance, radius = rows[keep], cols[keep], distance[keep], radius[keep]
    for name in PARTS:
        parts[name] = parts[name][keep]
    total, longest = _time(needs, offers, rows, cols)
    keep = longest >= needs.shortest[rows]
    # A pair within a hair of a radius, or of an offer with a validity, is checked one by one.
    doubtful = keep & ((np.abs(distance - radius) <= MARGIN) | offers.bounded[cols])
    for at in np.flatnonzero(doubtful).tolist():
        offer, need = offers.items[cols[at]], needs.items[rows[at]]
        assert offer is not None  # a slot of a pair holds an offer
        keep[at] = within_both_radii(offer, need) and within_validity(offer, need)
    rows, cols, total = rows[keep], cols[keep], total[keep]
    for name in PARTS:
        parts[name] = parts[name][keep]
    parts["time_overlap"] = _clamp(total / needs.requested[rows])
    parts["text_similarity"] = np.zeros(rows.size, dtype=np.float64)

    # The text last, and only for the pairs that may still reach the threshold and, with the
    # best text, the score the need's `top_k`-th pair has with none.
    lowest = summed()
    # At most the smaller profile is shared.
    grams = np.sort(np.stack([needs.grams[rows], offers.grams[cols]]), axis=0)
    best_text = np.sqrt(grams[0] / np.where(grams[1] > 0, grams[1], 1.0))
    highest = lowest + weights["text_similarity"] * best_text / policy.weight_sum
    cut = _kth(rows, np.where(lowest >= policy.threshold + MARGIN, lowest, -np.inf), policy.top_k)
    keep = (highest >= policy.threshold - MARGIN) & (highest >= cut[rows] - MARGIN)
    rows, cols = rows[keep], cols[keep]
    for name in PARTS:
        parts[name] = parts[name][keep]
    parts["text_similarity"] = _similarities(needs, offers, rows, cols)
    score = summed()
    # The pairs within a margin of the threshold and of the need's `top_k`-th score.
    sure = np.where(score >= policy.threshold + MARGIN, score, -np.inf)
    keep = (score >= policy.threshold - MARGIN) & (
        score >= _kth(rows, sure, policy.top_k)[rows] - 2 * MARGIN
    )
    order = np.flatnonzero(keep)
    order = order[np.argsort(rows[order], kind="stable")]
    return _candidates(needs, offers, rows[order], cols[order], parts, order, policy)


def _time(needs: _Needs, offers: OfferColumns, rows: I64, cols: I64) -> tuple[I64, I64]:
    """The total and the longest stretch of `availability.overlap` for each pair."""
    total = np.zeros(rows.size, dtype=np.int64)
    longest = np.zeros(rows.size, dtype=np.int64)
    # The pairs by how many week intervals the offer has, each lot as wide as that.
    widths = np.clip(offers.intervals[cols], 1, WIDTH)
    for width in np.unique(widths).tolist():
        lot = np.flatnonzero(widths == width)
        total[lot], longest[lot] = _time_at(needs, offers, rows[lot], cols[lot], width)
    # What the arrays do not cover is computed pair by pair.
    closed = offers.closed_from[cols] < offers.closed_to[cols]
    alone = (offers.intervals[cols] > WIDTH) | (
        needs.has_dated[rows]
        & (
            needs.long[rows]
            | (
                closed
                & (offers.closed_from[cols] < needs.dated_hi[rows])
                & (needs.dated_lo[rows] < offers.closed_to[cols])
            )
        )
    )
    for at in np.flatnonzero(alone).tolist():
        offer, need = offers.items[cols[at]], needs.items[rows[at]]
        assert offer is not None  # a slot of a pair holds an offer
        shared = overlap(offer.week, offer.closures, need.week, need.dated)
        total[at], longest[at] = shared.total, shared.longest
    return total, longest


def _time_at(
    needs: _Needs, offers: OfferColumns, rows: I64, cols: I64, width: int
) -> tuple[I64, I64]:
    o_starts, o_ends = offers.starts[cols, :width], offers.ends[cols, :width]
    # Weekly windows: each window against each slot; the week runs on from Sunday to Monday.
    lo = np.maximum(needs.week_starts[rows][:, :, None], o_starts[:, None, :])
    hi = np.minimum(needs.week_ends[rows][:, :, None], o_ends[:, None, :])
    length = np.maximum(hi - lo, 0)
    total = length.sum(axis=(1, 2), dtype=np.int64)
    longest = length.max(axis=(1, 2)).astype(np.int64)
    head = np.where(lo == 0, length, 0).sum(axis=(1, 2), dtype=np.int64)
    tail = np.where(hi == MINUTES_PER_WEEK, length, 0).sum(axis=(1, 2), dtype=np.int64)
    wraps = (head > 0) & (tail > 0) & (total < MINUTES_PER_WEEK) & (head + tail > longest)
    longest = np.where(wraps, head + tail, longest)
    # Dated windows: against the slots of two weeks in a row, the stretches meeting at the
    # turn of the week joined.
    dated = np.flatnonzero(needs.has_dated[rows])
    if dated.size:
        d_rows = rows[dated]
        starts = needs.from_[d_rows][:, :, None]
        ends = starts + needs.length[d_rows][:, :, None]
        two_starts = np.concatenate([o_starts[dated], o_starts[dated] + MINUTES_PER_WEEK], axis=1)
        two_ends = np.concatenate([o_ends[dated], o_ends[dated] + MINUTES_PER_WEEK], axis=1)
        lo = np.maximum(starts, two_starts[:, None, :])
        hi = np.minimum(ends, two_ends[:, None, :])
        length = np.maximum(hi - lo, 0)
        before = np.where(hi[:, :, :width] == MINUTES_PER_WEEK, length[:, :, :width], 0).sum(2)
        after = np.where(lo[:, :, width:] == MINUTES_PER_WEEK, length[:, :, width:], 0).sum(2)
        joined = np.where((before > 0) & (after > 0), before + after, 0)
        total[dated] += length.sum(axis=(1, 2), dtype=np.int64)
        longest[dated] = np.maximum(
            longest[dated], np.maximum(length.max(axis=2), joined).max(axis=1)
        )
    return total, longest


def _kth(rows: I64, values: F64, k: int) -> F64:
    """For each need number, the `k`-th largest of its pairs' `values` (-inf if fewer)."""
    count = int(rows.max(initial=-1)) + 1
    order = np.lexsort((-values, rows))
    ordered = values[order]
    first = np.searchsorted(rows[order], np.arange(count))
    has = np.bincount(rows, weights=np.isfinite(values), minlength=count) >= k
    kth = np.full(count, -np.inf)
    kth[has] = ordered[first[has] + k - 1]
    return kth


def _similarities(needs: _Needs, offers: OfferColumns, rows: I64, cols: I64) -> F64:
    """`text.similarity` of each pair: the shared trigrams counted, then the same division."""
    texts = [n.text for n in needs.items]
    items = offers.items
    shared = np.array(
        [len(texts[r] & items[c].text) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)],
        dtype=np.float64,
    )
    product = needs.grams[rows] * offers.grams[cols]
    empty = product == 0
    return np.where(empty, 0.0, np.minimum(1.0, shared / np.sqrt(np.where(empty, 1.0, product))))


def _candidates(
    needs: _Needs,
    offers: OfferColumns,
    rows: I64,
    cols: I64,
    parts: dict[str, F64],
    order: I64,
    policy: Policy,
) -> dict[str, list[Candidate]]:
    """The pairs left, by need, scored exactly as `scoring.breakdown` scores them (the
    distance by the scalar formula) and cut to `top_k` in `rank_for_need`'s order."""
    shares = {name: parts[name][order] for name in PARTS}
    shares["distance"] = _distance_shares(needs, offers, rows, cols)
    table = np.stack([shares[name] for name in PARTS], axis=1)
    weights = policy.weights
    # The products added one by one in the parts' order, as `scoring.breakdown` adds them.
    total = np.zeros(rows.size, dtype=np.float64)
    for name in PARTS:
        total += weights[name] * shares[name]
    total = _clamp(total / policy.weight_sum)
    kept = np.flatnonzero(total >= policy.threshold)
    rows, cols, total = rows[kept], cols[kept], total[kept]
    # Best first within each need; equal totals by offer id.
    ranked = np.lexsort((-total, rows))
    ranked = _by_offer_id(offers, rows, cols, total, ranked)
    rows, cols, kept = rows[ranked], cols[ranked], kept[ranked]
    first = np.searchsorted(rows, rows, side="left")
    cut = np.arange(rows.size) - first < policy.top_k
    found: dict[str, list[Candidate]] = {}
    items, views, version = offers.items, needs.items, policy.version
    last, listed = -1, list[Candidate]()
    for row, col, values, score in zip(
        rows[cut].tolist(),
        cols[cut].tolist(),
        table[kept[cut]].tolist(),
        total[ranked][cut].tolist(),
        strict=True,
    ):
        if row != last:
            last, listed = row, []
            found[views[row].need_id] = listed
        parts_of = MappingProxyType(dict(zip(PARTS, values, strict=False)))  # a row per part
        scored = ScoreBreakdown(parts_of, weights, score, version)
        listed.append(Candidate(_held(items[col]), views[row], scored))
    return found


def _by_offer_id(offers: OfferColumns, rows: I64, cols: I64, total: F64, ranked: I64) -> I64:
    """`ranked` (by need, then total) with each run of equal need and total put in order of
    offer id."""
    r, t = rows[ranked], total[ranked]
    tied = (r[1:] == r[:-1]) & (t[1:] == t[:-1])
    if not tied.any():
        return ranked
    ranked = ranked.copy()
    starts = np.flatnonzero(tied & ~np.concatenate(([False], tied[:-1])))
    ends = np.flatnonzero(tied & ~np.concatenate((tied[1:], [False]))) + 2
    items = offers.items
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        run = ranked[start:end].tolist()
        ids = [_held(items[col]).offer_id for col in cols[run].tolist()]
        ranked[start:end] = [at for _, at in sorted(zip(ids, run, strict=True))]
    return ranked


def _held(offer: OfferView | None) -> OfferView:
    assert offer is not None  # a slot of a pair holds an offer
    return offer


def _distance_shares(needs: _Needs, offers: OfferColumns, rows: I64, cols: I64) -> F64:
    """`scoring.distance_share` of each pair at the distance `geo.haversine_radians_km`
    gives, to the last bit: the arithmetic on arrays (the same IEEE operations in the same
    order), the sines, powers and arcsine by the functions the scalar formula calls."""
    phi1, lam1, cos1 = offers.phi[cols], offers.lam[cols], offers.cos_phi[cols]
    phi2, lam2, cos2 = needs.phi[rows], needs.lam[rows], needs.cos_phi[rows]

    def squared_sines(half: F64) -> F64:
        return np.array(list(map(pow, map(math.sin, half.tolist()), repeat(2))), np.float64)

    h = squared_sines((phi2 - phi1) / 2) + cos1 * cos2 * squared_sines((lam2 - lam1) / 2)
    arcs = map(math.asin, np.minimum(1.0, np.sqrt(h)).tolist())
    distance = 2 * EARTH_RADIUS_KM * np.array(list(arcs), np.float64)
    radius = np.minimum(offers.radius[cols], needs.radius[rows])
    positive = radius > 0
    return np.where(
        positive,
        _clamp(1 - distance / np.where(positive, radius, 1.0)),
        (distance == 0).astype(np.float64),
    )
