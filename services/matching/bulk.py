"""A full re-match with array arithmetic: every need ranked at once, as `rank_for_need` would.

Needs are taken in groups that read the same offers (same territory, category and unit). For
a group, the conditions that compare one number of each side (capacity, price model, budget,
requester kind, a shared weekday) are evaluated for every need and offer at once; the pairs
left get their distance and every part of the score but the time overlap as arrays. The time
overlap, integer interval arithmetic, is the one part computed pair by pair, and only where it
can change the answer: a need's pairs are visited best bound first (the score with a full time
overlap), and the visit stops once `top_k` pairs already score more than any bound left.

The answer is exactly `rank_for_need`'s: the array distance may differ from the scalar one by a
rounding, so a pair within a hair of a radius is checked with the scalar filter, and every
comparison of totals leaves a margin far wider than any rounding; the pairs finally proposed
are scored by `score_pair` and ordered by that score, as `rank_for_need` orders them. Pure.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from contracts.taxonomy import descendants
from services.matching.availability import MINUTES_PER_DAY, Overlap, overlap
from services.matching.columns import HOURS, MODEL_BIT, GroupKey, OfferColumns
from services.matching.filters import within_both_radii, within_validity
from services.matching.geo import EARTH_RADIUS_KM
from services.matching.model import (
    PARTS,
    Candidate,
    NeedView,
    OfferView,
    Policy,
    PriceModel,
)
from services.matching.scoring import breakdown, distance_part

MARGIN = 1e-9
"""Room left for roundings of the array arithmetic, in km and in score (they are ~1e-15)."""

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def _hour_minutes(
    starts: I64, ends: I64, owners: I64, count: int, dtype: type[np.generic]
) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    """Minutes of [start, end) intervals (minute of the week, or absolute minutes shifted to
    start on a Monday) falling in each hour of the week, per owner; and how many distinct
    hours of each owner's intervals fall on each hour of the week."""
    first, last = starts // 60, (ends - 1) // 60
    spans = last - first + 1
    owner = np.repeat(owners, spans)
    offsets = np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans)
    hour = np.repeat(first, spans) + offsets
    lo = np.maximum(np.repeat(starts, spans), hour * 60)
    hi = np.minimum(np.repeat(ends, spans), hour * 60 + 60)
    minutes = np.zeros((count, HOURS), dtype=dtype)
    np.add.at(minutes, (owner, hour % HOURS), (hi - lo).astype(dtype))
    times = np.zeros((count, HOURS), dtype=dtype)
    np.add.at(times, (owner, hour % HOURS), 1)
    return minutes, times


def _intervals(lists: Sequence[Sequence[tuple[int, int]]], shift: int = 0) -> tuple[I64, I64, I64]:
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.array([bound for intervals in lists for pair in intervals for bound in pair])
    flat = flat.astype(np.int64).reshape(-1, 2) - shift
    owners = np.repeat(np.arange(len(lists), dtype=np.int64), counts)
    return flat[:, 0].copy(), flat[:, 1].copy(), owners


class _Needs:
    """The columns of the needs, each computed once."""

    def __init__(self, needs: Sequence[NeedView], offers: OfferColumns):
        self.items = needs
        kinds, features = offers.kinds_vocabulary, offers.features_vocabulary
        free = MODEL_BIT[PriceModel.FREE]
        table = np.array(
            [
                (
                    n.quantity,
                    sum(MODEL_BIT[m] for m in n.accepted_price_models) | free,
                    math.inf if n.max_unit_price is None else n.max_unit_price,
                    kinds.bits.get(n.requester_kind, 0),  # no bit: no offer names the kind
                    n.weekdays,
                    n.location.phi,
                    n.location.lam,
                    n.location.cos_phi,
                    n.max_distance_km,
                    features.known(n.required_features),
                    len(n.required_features),
                    n.social_priority,
                    len(n.text),
                    n.min_duration_minutes,
                    sum(e - s for s, e in n.week) + sum(e - s for s, e in n.dated),
                    bool(n.dated),
                )
                for n in needs
            ],
            dtype=np.float64,
        ).reshape(-1, 16)
        self.quantity = table[:, 0].copy()
        self.payable = table[:, 1].astype(np.int64)
        self.ceiling = table[:, 2].copy()
        self.kind = table[:, 3].astype(np.int64)
        self.days = table[:, 4].astype(np.int64)
        self.phi, self.lam, self.cos_phi = (
            table[:, 5].copy(),
            table[:, 6].copy(),
            table[:, 7].copy(),
        )
        self.radius = table[:, 8].copy()
        self.required = table[:, 9].astype(np.int64)
        self.wanted = table[:, 10].copy()
        self.social = table[:, 11].copy()
        self.grams = table[:, 12].copy()
        self.shortest = table[:, 13].copy()
        self.requested = table[:, 14].copy()
        self.has_dated = table[:, 15] != 0
        self.week = _hour_minutes(*_intervals([n.week for n in needs]), len(needs), np.uint8)[0]
        # Dated windows on the same hours of the week: absolute minute 1440 (day 1) is a Monday.
        self.dated_minutes, self.dated_times = _hour_minutes(
            *_intervals([n.dated for n in needs], shift=MINUTES_PER_DAY), len(needs), np.int64
        )


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
    # The pairs of every group, then everything else at once on them.
    all_rows, all_cols = [], []
    for (territory, category, unit), members in groups.items():
        served = [
            slot
            for sub in sorted(descendants(category))
            for slot in table.by_key.get((territory, sub, unit), ())
        ]
        if served:
            rows, cols = _fitting(columns, table, np.array(members), np.array(served))
            all_rows.append(rows)
            all_cols.append(cols)
    if all_rows:
        found.update(
            _rank(columns, table, np.concatenate(all_rows), np.concatenate(all_cols), policy)
        )
    return found


def _fitting(needs: _Needs, offers: OfferColumns, members: I64, served: I64) -> tuple[I64, I64]:
    """The pairs of needs and offers of a group that pass the filters comparing one number of
    each side, evaluated for every need and offer at once."""
    capacity, model, euros = offers.capacity[served], offers.model[served], offers.euros[served]
    kinds, days = offers.kinds[served], offers.days[served]
    fit = (
        (capacity >= needs.quantity[members, None])
        & (model & needs.payable[members, None] != 0)
        & (euros <= needs.ceiling[members, None])
        & ((kinds == 0) | (kinds & needs.kind[members, None] != 0))
        & (days & needs.days[members, None] != 0)
    )
    rows, cols = np.nonzero(fit)
    return members[rows], served[cols]


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
    # At most the minutes both sides have in each hour of the week are shared (closures only
    # take some away): a bound of the time overlap, and of its longest stretch.
    open_hours = offers.hours[cols]
    total = np.minimum(needs.week[rows], open_hours).sum(axis=1, dtype=np.int64)
    dated = needs.has_dated[rows]
    if dated.any():
        total[dated] += np.minimum(
            needs.dated_minutes[rows[dated]],
            needs.dated_times[rows[dated]] * open_hours[dated].astype(np.int64),
        ).sum(axis=1)
    keep = total >= needs.shortest[rows]
    rows, cols, distance, radius, total = (
        rows[keep],
        cols[keep],
        distance[keep],
        radius[keep],
        total[keep],
    )
    if rows.size == 0:
        return {}
    # A pair within a hair of a radius, or of an offer with a validity, is checked one by one.
    doubtful = (np.abs(distance - radius) <= MARGIN) | offers.bounded[cols]

    weights = policy.weights
    parts: dict[str, F64] = {}
    positive = radius > 0
    parts["distance"] = np.where(
        positive,
        _clamp(1 - distance / np.where(positive, radius, 1.0)),
        (distance == 0).astype(np.float64),
    )
    parts["time_overlap"] = _clamp(total / needs.requested[rows])
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

    def bound() -> F64:
        summed = np.zeros(rows.size, dtype=np.float64)
        for name in PARTS:
            summed += weights[name] * parts[name]
        return summed / policy.weight_sum

    # The text last, and only for the pairs that may still reach the threshold.
    keep = bound() >= policy.threshold - MARGIN
    rows, cols, doubtful = rows[keep], cols[keep], doubtful[keep]
    for name in PARTS:
        parts[name] = parts[name][keep]
    parts["text_similarity"] = _similarities(needs, offers, rows, cols)
    ceiling = bound()
    known = ceiling - weights["time_overlap"] * parts["time_overlap"] / policy.weight_sum

    # Each need's pairs, best bound first.
    order = np.lexsort((-ceiling, rows))
    rows = rows[order]
    numbers = np.unique(rows)
    starts = [*np.searchsorted(rows, numbers).tolist(), rows.size]
    exact = {name: parts[name][order].tolist() for name in _EXACT}
    listed = _Listed(
        cols[order].tolist(),
        known[order].tolist(),
        ceiling[order].tolist(),
        doubtful[order].tolist(),
        exact,
    )
    items = offers.items
    return {
        needs.items[number].need_id: _rank_need(
            needs.items[number], items, listed, starts[at], starts[at + 1], policy
        )
        for at, number in enumerate(numbers.tolist())
    }


_EXACT = ("capacity_fit", "price_fit", "features", "text_similarity")
"""The parts the arrays compute to the last bit as the scalar parts do (the distance may
differ by a rounding, the time overlap is only bounded)."""


class _Listed:
    """The pairs in visiting order, as lists: offer slot, the sum of the parts but the time
    overlap, the bound of the total and whether a filter is to be checked one by one; and the
    exact parts."""

    def __init__(
        self,
        cols: list[int],
        known: list[float],
        bound: list[float],
        doubtful: list[bool],
        exact: dict[str, list[float]],
    ):
        self.cols, self.known, self.bound, self.doubtful = cols, known, bound, doubtful
        self.exact = exact


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


def _rank_need(
    need: NeedView,
    offers: Sequence[OfferView | None],
    listed: _Listed,
    lo: int,
    hi: int,
    policy: Policy,
) -> list[Candidate]:
    """The need's best pairs, visiting them best bound first until no bound left can beat the
    `top_k` already found."""
    threshold, top_k = policy.threshold, policy.top_k
    w_time = policy.weights["time_overlap"] / policy.weight_sum
    pool: list[tuple[float, int, OfferView, Overlap]] = []
    sure: list[float] = []  # a min-heap of the best `top_k` approximate totals above threshold
    week, dated, days, shortest = need.week, need.dated, need.weekdays, need.min_duration_minutes
    cols, known, bound, doubtful = listed.cols, listed.known, listed.bound, listed.doubtful
    for at in range(lo, hi):
        ceiling = bound[at]
        if ceiling < threshold - MARGIN:
            break
        if len(sure) == top_k and ceiling < sure[0] - MARGIN:
            break
        offer = offers[cols[at]]
        assert offer is not None  # a slot of a pair holds an offer
        if doubtful[at] and not (within_both_radii(offer, need) and within_validity(offer, need)):
            continue
        if not offer.weekdays & days:
            continue
        shared = overlap(offer.week, offer.closures, week, dated)
        if shared.longest < shortest:
            continue
        time_part = min(1.0, max(0.0, shared.total / shared.requested)) if shared.requested else 0
        total = min(1.0, max(0.0, known[at] + w_time * time_part))
        if total < threshold - MARGIN:
            continue
        pool.append((total, at, offer, shared))
        if total >= threshold + MARGIN:
            if len(sure) < top_k:
                heapq.heappush(sure, total)
            elif total > sure[0]:
                heapq.heapreplace(sure, total)
    if len(sure) == top_k:
        pool = [entry for entry in pool if entry[0] >= sure[0] - 2 * MARGIN]
    capacity, price, features, text = (listed.exact[name] for name in _EXACT)
    kept = []
    for _, at, offer, shared in pool:
        parts = {
            "distance": distance_part(offer, need),
            "time_overlap": (
                min(1.0, max(0.0, shared.total / shared.requested)) if shared.requested else 0.0
            ),
            "capacity_fit": capacity[at],
            "price_fit": price[at],
            "features": features[at],
            "text_similarity": text[at],
            "dormancy": offer.idle_share,
            "social_priority": need.social_priority,
        }
        scored = breakdown(parts, policy)
        if scored.total >= threshold:
            kept.append(Candidate(offer, need, scored))
    kept.sort(key=lambda c: (-c.score, c.offer.offer_id))
    return kept[:top_k]
