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
from services.matching.filters import within_both_radii, within_validity
from services.matching.geo import EARTH_RADIUS_KM
from services.matching.model import (
    PARTS,
    Candidate,
    NeedView,
    OfferView,
    Policy,
    PriceModel,
    Unit,
)
from services.matching.scoring import score_pair

MARGIN = 1e-9
"""Room left for roundings of the array arithmetic, in km and in score (they are ~1e-15)."""

_MODEL_BIT = {model: 1 << number for number, model in enumerate(PriceModel)}
_UNPRICED = (PriceModel.FREE, PriceModel.TIME_CREDITS)
_MAX_WORDS = 62  # kinds or features a bit mask holds (int64, sign bit spare)

GroupKey = tuple[str, str, Unit]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class _Vocabulary:
    """Bits for strings (requester kinds, features), so that sets become int64 masks."""

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}
        self.overflow = False

    def mask(self, words: Iterable[str]) -> int:
        mask = 0
        for word in words:
            bit = self.bits.get(word)
            if bit is None:
                if len(self.bits) >= _MAX_WORDS:
                    self.overflow = True
                    continue
                bit = self.bits[word] = 1 << len(self.bits)
            mask |= bit
        return mask

    @property
    def full(self) -> bool:
        """Whether some word got no bit (the masks are then not to be used)."""
        return self.overflow


_HOURS = 168


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
    minutes = np.zeros((count, _HOURS), dtype=dtype)
    np.add.at(minutes, (owner, hour % _HOURS), (hi - lo).astype(dtype))
    times = np.zeros((count, _HOURS), dtype=dtype)
    np.add.at(times, (owner, hour % _HOURS), 1)
    return minutes, times


def _intervals(lists: Sequence[Sequence[tuple[int, int]]], shift: int = 0) -> tuple[I64, I64, I64]:
    starts, ends, owners = [], [], []
    for owner, intervals in enumerate(lists):
        for start, end in intervals:
            starts.append(start - shift)
            ends.append(end - shift)
            owners.append(owner)
    return (
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array(owners, dtype=np.int64),
    )


class _Offers:
    """The columns of the offers that the group arithmetic reads, each computed once."""

    def __init__(self, offers: Sequence[OfferView], kinds: _Vocabulary, features: _Vocabulary):
        self.items = offers
        # One pass over the offers, one number per column.
        table = np.array(
            [
                (
                    o.capacity,
                    _MODEL_BIT[o.price_model],
                    o.price_model in _UNPRICED,
                    o.unit_price,
                    o.weekdays,
                    o.location.phi,
                    o.location.lam,
                    o.location.cos_phi,
                    o.max_distance_km,
                    o.idle_share,
                    o.valid_from is not None or o.valid_to is not None,
                    len(o.text),
                )
                for o in offers
            ],
            dtype=np.float64,
        ).reshape(-1, 12)
        self.capacity = table[:, 0].copy()
        self.model = table[:, 1].astype(np.int64)
        self.unpriced = table[:, 2] != 0
        self.price = table[:, 3].copy()
        self.euros = np.where(self.unpriced, 0.0, self.price)
        self.days = table[:, 4].astype(np.int64)
        self.phi, self.lam, self.cos_phi = (
            table[:, 5].copy(),
            table[:, 6].copy(),
            table[:, 7].copy(),
        )
        self.radius, self.idle = table[:, 8].copy(), table[:, 9].copy()
        self.bounded = table[:, 10] != 0
        self.grams = table[:, 11].copy()
        self.kinds = np.array([kinds.mask(o.eligible_requester_kinds) for o in offers], np.int64)
        self.features = np.array([features.mask(o.features) for o in offers], dtype=np.int64)
        # Minutes open in each hour of the week (at most 60, so one byte each).
        self.hours = _hour_minutes(*_intervals([o.week for o in offers]), len(offers), np.uint8)[0]


class _Needs:
    """The same for the needs of a group."""

    def __init__(self, needs: Sequence[NeedView], kinds: _Vocabulary, features: _Vocabulary):
        self.items = needs
        self.quantity = np.array([n.quantity for n in needs], dtype=np.float64)
        self.payable = np.array(
            [
                sum(_MODEL_BIT[m] for m in n.accepted_price_models | {PriceModel.FREE})
                for n in needs
            ],
            dtype=np.int64,
        )
        self.ceiling = np.array(
            [math.inf if n.max_unit_price is None else n.max_unit_price for n in needs],
            dtype=np.float64,
        )
        self.kind = np.array([kinds.bits[n.requester_kind] for n in needs], dtype=np.int64)
        self.days = np.array([n.weekdays for n in needs], dtype=np.int64)
        self.phi = np.array([n.location.phi for n in needs], dtype=np.float64)
        self.lam = np.array([n.location.lam for n in needs], dtype=np.float64)
        self.cos_phi = np.array([n.location.cos_phi for n in needs], dtype=np.float64)
        self.radius = np.array([n.max_distance_km for n in needs], dtype=np.float64)
        self.required = np.array([features.mask(n.required_features) for n in needs], np.int64)
        self.social = np.array([n.social_priority for n in needs], dtype=np.float64)
        self.grams = np.array([len(n.text) for n in needs], dtype=np.float64)
        self.shortest = np.array([n.min_duration_minutes for n in needs], dtype=np.float64)
        self.requested = np.array(
            [sum(e - s for s, e in n.week) + sum(e - s for s, e in n.dated) for n in needs],
            dtype=np.float64,
        )
        self.week = _hour_minutes(*_intervals([n.week for n in needs]), len(needs), np.int64)[0]
        # Dated windows on the same hours of the week: absolute minute 1440 (day 1) is a Monday.
        self.dated_minutes, self.dated_times = _hour_minutes(
            *_intervals([n.dated for n in needs], shift=MINUTES_PER_DAY), len(needs), np.int64
        )
        self.has_dated = np.array([bool(n.dated) for n in needs], dtype=bool)


def _haversine(phi1: F64, lam1: F64, cos1: F64, phi2: F64, lam2: F64, cos2: F64) -> F64:
    """The formula of `geo.haversine_radians_km`, on arrays."""
    h = np.sin((phi2 - phi1) / 2) ** 2 + cos1 * cos2 * np.sin((lam2 - lam1) / 2) ** 2
    distance: F64 = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return distance


def _clamp(values: F64) -> F64:
    return np.minimum(1.0, np.maximum(0.0, values))


def rematch_all(
    needs: Iterable[NeedView], offers: Iterable[OfferView], policy: Policy
) -> dict[str, list[Candidate]] | None:
    """`rank_for_need` for every need against `offers`, by need id; None when the offers or
    needs name more requester kinds or features than a bit mask holds (the caller then ranks
    need by need)."""
    kinds, features = _Vocabulary(), _Vocabulary()
    listed = list(offers)
    by_key: dict[GroupKey, list[int]] = defaultdict(list)
    for number, offer in enumerate(listed):
        by_key[(offer.territory_id, offer.category, offer.unit)].append(number)
    groups: dict[GroupKey, list[NeedView]] = defaultdict(list)
    for need in needs:
        groups[(need.territory_id, need.category, need.unit)].append(need)
        kinds.mask((need.requester_kind,))
        features.mask(need.required_features)
    table = _Offers(listed, kinds, features)
    if kinds.full or features.full:
        return None
    found: dict[str, list[Candidate]] = {}
    for (territory, category, unit), members in groups.items():
        served = [
            number
            for sub in sorted(descendants(category))
            for number in by_key.get((territory, sub, unit), ())
        ]
        found.update(
            _rank_group(_Needs(members, kinds, features), table, np.array(served, np.intp), policy)
        )
    return found


def _rank_group(
    needs: _Needs, offers: _Offers, served: NDArray[np.intp], policy: Policy
) -> dict[str, list[Candidate]]:
    none: dict[str, list[Candidate]] = {need.need_id: [] for need in needs.items}
    if served.size == 0:
        return none
    # The filters that compare one number of each side, for every need and offer at once.
    fit = (
        (offers.capacity[served] >= needs.quantity[:, None])
        & (offers.model[served] & needs.payable[:, None] != 0)
        & (offers.euros[served] <= needs.ceiling[:, None])
        & ((offers.kinds[served] == 0) | (offers.kinds[served] & needs.kind[:, None] != 0))
        & (offers.days[served] & needs.days[:, None] != 0)
    )
    rows, cols = np.nonzero(fit)
    cols = served[cols]
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
    open_hours = offers.hours[cols].astype(np.int64)
    total = np.minimum(needs.week[rows], open_hours).sum(axis=1)
    dated = needs.has_dated[rows]
    if dated.any():
        total[dated] += np.minimum(
            needs.dated_minutes[rows[dated]], needs.dated_times[rows[dated]] * open_hours[dated]
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
        return none
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
    required = needs.required[rows]
    wanted = np.where(required == 0, 1, np.bitwise_count(required)).astype(np.float64)
    parts["features"] = np.where(
        required == 0, 1.0, np.bitwise_count(required & offers.features[cols]) / wanted
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
    starts = np.searchsorted(rows, np.arange(len(needs.items) + 1)).tolist()
    listed_cols = cols[order].tolist()
    listed_known = known[order].tolist()
    listed_ceiling = ceiling[order].tolist()
    listed_doubt = doubtful[order].tolist()
    found = {}
    for number, need in enumerate(needs.items):
        lo, hi = starts[number], starts[number + 1]
        found[need.need_id] = _rank_need(
            need,
            offers.items,
            listed_cols[lo:hi],
            listed_known[lo:hi],
            listed_ceiling[lo:hi],
            listed_doubt[lo:hi],
            policy,
        )
    return found


def _similarities(
    needs: _Needs, offers: _Offers, rows: NDArray[np.intp], cols: NDArray[np.intp]
) -> F64:
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
    offers: Sequence[OfferView],
    cols: list[int],
    known: list[float],
    bound: list[float],  # known parts and the time overlap's bound, over the weight sum
    doubtful: list[bool],
    policy: Policy,
) -> list[Candidate]:
    """The need's best pairs, visiting them best bound first until no bound left can beat the
    `top_k` already found."""
    threshold, top_k = policy.threshold, policy.top_k
    w_time = policy.weights["time_overlap"] / policy.weight_sum
    pool: list[tuple[float, OfferView, Overlap]] = []
    sure: list[float] = []  # a min-heap of the best `top_k` approximate totals above threshold
    week, dated, days, shortest = need.week, need.dated, need.weekdays, need.min_duration_minutes
    for col, part_sum, ceiling, doubt in zip(cols, known, bound, doubtful, strict=True):
        if ceiling < threshold - MARGIN:
            break
        if len(sure) == top_k and ceiling < sure[0] - MARGIN:
            break
        offer = offers[col]
        if doubt and not (within_both_radii(offer, need) and within_validity(offer, need)):
            continue
        if not offer.weekdays & days:
            continue
        shared = overlap(offer.week, offer.closures, week, dated)
        if shared.longest < shortest:
            continue
        time_part = min(1.0, max(0.0, shared.total / shared.requested)) if shared.requested else 0
        total = min(1.0, max(0.0, part_sum + w_time * time_part))
        if total < threshold - MARGIN:
            continue
        pool.append((total, offer, shared))
        if total >= threshold + MARGIN:
            if len(sure) < top_k:
                heapq.heappush(sure, total)
            elif total > sure[0]:
                heapq.heapreplace(sure, total)
    if len(sure) == top_k:
        pool = [entry for entry in pool if entry[0] >= sure[0] - 2 * MARGIN]
    scored = [Candidate(o, need, score_pair(o, need, policy, shared)) for _, o, shared in pool]
    kept = [c for c in scored if c.score >= threshold]
    kept.sort(key=lambda c: (-c.score, c.offer.offer_id))
    return kept[:top_k]
