"""The offers as columns of numbers, kept up to date offer by offer, for the array re-match.

Each offer holds a slot, a row of every column; a replaced offer keeps its slot, a removed
one frees it for the next. The re-match (`bulk`) then reads the columns as they stand instead
of walking 100,000 views. Requester kinds and features become bits of an int64 mask; the
words get their bits in order of appearance and keep them (a word no offer names any more
still holds its bit, until the re-match rebuilds the columns of the offers in place), and
past 62 words `full` says the masks are not to be used. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from services.matching.model import OfferView, PriceModel, Unit

MODEL_BIT = {model: 1 << number for number, model in enumerate(PriceModel)}
UNPRICED = (PriceModel.FREE, PriceModel.TIME_CREDITS)
WIDTH = 8
"""Week intervals an offer's row holds; an offer with more is compared one pair at a time."""
_MAX_WORDS = 62  # kinds or features a bit mask holds (int64, sign bit spare)
OTHER_KIND = 1 << _MAX_WORDS
"""The bit of a requester kind that no offer names."""
_EVERY_KIND = (1 << (_MAX_WORDS + 1)) - 1  # what an offer open to every kind admits
_FIRST_SIZE = 64

GroupKey = tuple[str, str, Unit]


class Vocabulary:
    """Bits for strings (requester kinds, features), so that sets become int64 masks."""

    def __init__(self) -> None:
        self.bits: dict[str, int] = {}
        self.full = False  # some word got no bit: the masks are not to be used

    def mask(self, words: Iterable[str]) -> int:
        """The mask of `words`, giving a bit to each word not seen yet."""
        mask = 0
        for word in words:
            bit = self.bits.get(word)
            if bit is None:
                if len(self.bits) >= _MAX_WORDS:
                    self.full = True
                    continue
                bit = self.bits[word] = 1 << len(self.bits)
            mask |= bit
        return mask

    def known(self, words: Iterable[str]) -> int:
        """The mask of the words that have a bit (a word without one matches no offer)."""
        bits = self.bits
        mask = 0
        for word in words:
            mask |= bits.get(word, 0)
        return mask


F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bools = NDArray[np.bool_]

_COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    *((name, np.float64) for name in ("capacity", "price", "euros", "phi", "lam", "cos_phi")),
    *((name, np.float64) for name in ("radius", "idle", "grams")),
    *((name, np.uint8) for name in ("model", "days")),  # bytes: the filters test every pair
    *((name, np.int64) for name in ("kinds", "features")),
    ("unpriced", np.bool_),
    ("bounded", np.bool_),
    ("intervals", np.int64),  # how many intervals the week has
    ("closed_from", np.int64),  # the closures' span, in absolute minutes (empty: none)
    ("closed_to", np.int64),
    ("starts", np.int32),  # the week's first `WIDTH` intervals, padded with (0, 0)
    ("ends", np.int32),
    ("xyz", np.float64),  # the location as a point of the unit sphere
)
_WIDTHS = {"starts": WIDTH, "ends": WIDTH, "xyz": 3}


class OfferColumns:
    """Every column the array re-match reads, one row per offer slot."""

    capacity: F64
    price: F64
    euros: F64  # the price a budget applies to: 0 when free or in time credits
    phi: F64
    lam: F64
    cos_phi: F64
    radius: F64
    idle: F64
    grams: F64  # trigrams of the description
    model: NDArray[np.uint8]  # the price model's bit
    days: NDArray[np.uint8]
    kinds: I64  # the kinds of requester admitted (every bit when all are)
    features: I64
    unpriced: Bools
    bounded: Bools  # with a validity
    intervals: I64
    closed_from: I64
    closed_to: I64
    starts: NDArray[np.int32]
    ends: NDArray[np.int32]
    xyz: F64

    def __init__(self) -> None:
        self.kinds_vocabulary = Vocabulary()
        self.features_vocabulary = Vocabulary()
        self.slots: dict[str, int] = {}
        self.items: list[OfferView | None] = []
        self._free: list[int] = []
        # (territory, category, unit) -> slots of its offers, in a dict for an O(1) removal.
        self.by_key: dict[GroupKey, dict[int, None]] = {}
        self._filed: dict[GroupKey, I64] = {}  # the same as arrays, made when first asked for
        self._allocate(_FIRST_SIZE)

    @classmethod
    def of(cls, offers: Iterable[OfferView]) -> OfferColumns:
        """Columns of `offers` (the last one of an id wins)."""
        columns = cls()
        for offer in offers:
            columns.put(offer)
        return columns

    def _allocate(self, size: int) -> None:
        for name, dtype in _COLUMNS:
            old = getattr(self, name, None)
            width = _WIDTHS.get(name)
            new = np.zeros(size if width is None else (size, width), dtype=dtype)
            if old is not None:
                new[: old.shape[0]] = old
            setattr(self, name, new)
        self.items.extend([None] * (size - len(self.items)))

    def put(self, offer: OfferView) -> None:
        """Write `offer` in its slot (a new one for a new offer)."""
        slot = self.slots.get(offer.offer_id)
        if slot is None:
            if self._free:
                slot = self._free.pop()
            else:
                slot = len(self.slots)
                if slot == len(self.items):
                    self._allocate(2 * len(self.items))
            self.slots[offer.offer_id] = slot
        else:
            self._unfile(slot)
        self.items[slot] = offer
        key = (offer.territory_id, offer.category, offer.unit)
        self.by_key.setdefault(key, {})[slot] = None
        self._filed.pop(key, None)
        unpriced = offer.price_model in UNPRICED
        location = offer.location
        self.capacity[slot] = offer.capacity
        self.model[slot] = MODEL_BIT[offer.price_model]
        self.unpriced[slot] = unpriced
        self.price[slot] = offer.unit_price
        self.euros[slot] = 0.0 if unpriced else offer.unit_price
        self.days[slot] = offer.weekdays
        self.phi[slot], self.lam[slot], self.cos_phi[slot] = (
            location.phi,
            location.lam,
            location.cos_phi,
        )
        self.radius[slot] = offer.max_distance_km
        self.xyz[slot] = (
            location.cos_phi * math.cos(location.lam),
            location.cos_phi * math.sin(location.lam),
            math.sin(location.phi),
        )
        self.idle[slot] = offer.idle_share
        self.bounded[slot] = offer.valid_from is not None or offer.valid_to is not None
        self.grams[slot] = len(offer.text)
        self.kinds[slot] = self.kinds_vocabulary.mask(offer.eligible_requester_kinds) or _EVERY_KIND
        self.features[slot] = self.features_vocabulary.mask(offer.features)
        week, closures = offer.week, offer.closures
        self.intervals[slot] = len(week)
        self.closed_from[slot] = closures[0][0] if closures else 0
        self.closed_to[slot] = closures[-1][1] if closures else 0
        padded = [*week[:WIDTH], *[(0, 0)] * (WIDTH - len(week))]
        self.starts[slot] = [start for start, _ in padded]
        self.ends[slot] = [end for _, end in padded]

    def remove(self, offer_id: str) -> None:
        """Free the slot of `offer_id`, if it has one."""
        slot = self.slots.pop(offer_id, None)
        if slot is None:
            return
        self._unfile(slot)
        self.items[slot] = None
        self._free.append(slot)

    def _unfile(self, slot: int) -> None:
        offer = self.items[slot]
        if offer is None:
            return
        key = (offer.territory_id, offer.category, offer.unit)
        self._filed.pop(key, None)
        filed = self.by_key[key]
        del filed[slot]
        if not filed:
            del self.by_key[key]

    def filed(self, key: GroupKey) -> I64:
        """The slots of the offers filed under `key`."""
        slots = self._filed.get(key)
        if slots is None:
            filed = self.by_key.get(key, {})
            slots = self._filed[key] = np.fromiter(filed, dtype=np.int64, count=len(filed))
        return slots

    @property
    def full(self) -> bool:
        """Whether the offers name more requester kinds or features than a mask holds."""
        return self.kinds_vocabulary.full or self.features_vocabulary.full
