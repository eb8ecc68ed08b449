"""In-memory indexes that find the offers a need could match, and the needs an offer could.

An item is filed under keys (territory, category, unit, price model, and for offers the
weekday) and, under each key, in the cell of a square grid that holds its location. A query
visits only the keys the other side can match (the categories the taxonomy makes compatible,
the same unit, the price models the need pays with, the weekdays both sides share) and only
the cells that the querying side's radius reaches. Inside them it keeps the items that pass
the cheap hard filters on values stored beside each item: inside both sides' radius bounds,
the amount fits (an offer's capacity covers a need's quantity), a weekday shared, the price
within the budget, the requester eligible. It never scans the read model.

The answer is a superset of the pairs that pass the hard filters, which the caller applies;
no passing pair is left out, because each of those narrowing steps is implied by a hard
filter. An offer has one price model and a need one unit and territory, so apart from the
weekday, under which an offer is filed once per day it is available, an item is reachable
from a query through one key only; the weekday repeat is skipped by looking at the item's
weekday mask. Nothing is returned twice.

Needs are fewer than offers and each offer query reaches few of them, so the need index files
a need once (its weekdays are checked from its mask) in coarser cells: a query then reads a
handful of short lists instead of many near-empty ones.

Updates are idempotent by version: an item replaces the stored one only if its version is
newer, and a removal leaves a tombstone so that an older version redelivered afterwards does
not bring the item back.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from contracts.taxonomy import descendants, lineage
from services.matching.columns import OfferColumns
from services.matching.geo import Cell, CellBox, Grid
from services.matching.model import Location, NeedView, OfferView, PriceModel

DEFAULT_GRID = Grid(cell_km=10.0)
NEED_GRID = Grid(cell_km=40.0)

Key = tuple[Hashable, ...]


class _Indexable(Protocol):
    @property
    def location(self) -> Location: ...
    @property
    def max_distance_km(self) -> float: ...
    @property
    def weekdays(self) -> int: ...
    @property
    def version(self) -> int: ...


T = TypeVar("T", bound=_Indexable)
# What a cell holds per item, flat so that a query reads no attribute of the view:
# (lat, lon, lat_lo, lat_hi, lon_lo, lon_hi, weekday mask, amount, price, kinds, item). The
# bounds are those of the item's own radius; the amount is an offer's capacity or a need's
# quantity; the price an offer's unit price in euros (0 when free or in time credits) or a
# need's ceiling (infinite when none); the kinds the requester kinds an offer admits (empty:
# all) or a need's requester kind.
_Entry = tuple[float, float, float, float, float, float, int, float, float, frozenset[str] | str, T]


class _BucketIndex(ABC, Generic[T]):
    by_weekday = True
    """Whether an item is filed once per weekday of its mask (else once, the mask checked)."""

    def __init__(self, grid: Grid = DEFAULT_GRID) -> None:
        self._grid = grid
        self._items: dict[str, T] = {}
        self._versions: dict[str, int] = {}
        # key -> grid cell -> item id -> entry
        self._buckets: dict[Key, dict[Cell, dict[str, _Entry[T]]]] = {}

    @abstractmethod
    def _identity(self, item: T) -> str: ...

    @abstractmethod
    def _amount(self, item: T) -> float: ...

    @abstractmethod
    def _price(self, item: T) -> float: ...

    @abstractmethod
    def _kinds(self, item: T) -> frozenset[str] | str: ...

    @abstractmethod
    def _keys(self, item: T) -> Iterable[Key]:
        """Keys an item is filed under, weekday aside."""

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> T | None:
        """The stored version of `item_id`, if any."""
        return self._items.get(item_id)

    def add(self, item: T) -> bool:
        """Insert or replace `item` unless a version at least as new is known; True if stored."""
        item_id = self._identity(item)
        known = self._versions.get(item_id)
        if known is not None and known >= item.version:
            return False
        self._unlink(item_id)
        self._versions[item_id] = item.version
        self._items[item_id] = item
        point = item.location
        cell = self._grid.cell_of(point.lat, point.lon)
        reach = self._grid.box(point.lat, point.lon, item.max_distance_km)
        entry = (
            point.lat,
            point.lon,
            reach.lat_lo,
            reach.lat_hi,
            reach.lon_lo,
            reach.lon_hi,
            item.weekdays,
            self._amount(item),
            self._price(item),
            self._kinds(item),
            item,
        )
        for key in self._filed_keys(item):
            self._buckets.setdefault(key, {}).setdefault(cell, {})[item_id] = entry
        return True

    def update(self, item: T) -> bool:
        """Same as `add`: events may arrive out of order, so an update may come first."""
        return self.add(item)

    def discard(self, item_id: str, version: int) -> bool:
        """Remove `item_id` unless a newer version is known, leaving a tombstone."""
        known = self._versions.get(item_id)
        if known is not None and known > version:
            return False
        self._versions[item_id] = version
        return self._unlink(item_id)

    def _filed_keys(self, item: T) -> list[Key]:
        if not self.by_weekday:
            return list(self._keys(item))
        return [(*key, day) for key in self._keys(item) for day in _days(item.weekdays)]

    def _unlink(self, item_id: str) -> bool:
        item = self._items.pop(item_id, None)
        if item is None:
            return False
        cell = self._grid.cell_of(item.location.lat, item.location.lon)
        for key in self._filed_keys(item):
            cells = self._buckets[key]
            entries = cells[cell]
            del entries[item_id]
            if not entries:
                del cells[cell]
                if not cells:
                    del self._buckets[key]
        return True

    def _reached(
        self, keys: Iterable[Key], weekdays: int, box: CellBox
    ) -> Iterator[tuple[int, dict[str, _Entry[T]]]]:
        """The cells of each key (and weekday, when filed by weekday) that the circle reaches,
        each with the query's weekdays under which an earlier cell held the same items: an
        item sharing one of those was yielded there (none when items are filed once)."""
        days = _days(weekdays) if self.by_weekday else (None,)
        for key in keys:
            for day in days:
                cells = self._buckets.get(key if day is None else (*key, day))
                if not cells:
                    continue
                earlier = 0 if day is None else weekdays & ((1 << day) - 1)
                if box.cells is None:
                    for entries in cells.values():
                        yield earlier, entries
                else:
                    for cell in cells.keys() & box.cells:
                        yield earlier, cells[cell]


def _days(mask: int) -> tuple[int, ...]:
    return _DAYS[mask & 0b111_1111]


_DAYS = tuple(tuple(day for day in range(7) if mask >> day & 1) for mask in range(128))


def _payable(need: NeedView) -> frozenset[PriceModel]:
    """Price models a need can pay with: free always, time credits when accepted."""
    return need.accepted_price_models | {PriceModel.FREE}


def _euros(offer: OfferView) -> float:
    """The unit price a budget ceiling applies to (none for free and time-credit offers)."""
    if offer.price_model in (PriceModel.FREE, PriceModel.TIME_CREDITS):
        return 0.0
    return offer.unit_price


class OfferIndex(_BucketIndex[OfferView]):
    """Published offers, found from a need; also kept as columns for a full re-match."""

    def __init__(self, grid: Grid = DEFAULT_GRID) -> None:
        super().__init__(grid)
        self.columns = OfferColumns()

    def add(self, item: OfferView) -> bool:
        stored = super().add(item)
        if stored:
            self.columns.put(item)
        return stored

    def _unlink(self, item_id: str) -> bool:
        removed = super()._unlink(item_id)
        if removed:
            self.columns.remove(item_id)
        return removed

    def _identity(self, item: OfferView) -> str:
        return item.offer_id

    def _amount(self, item: OfferView) -> float:
        return item.capacity

    def _price(self, item: OfferView) -> float:
        return _euros(item)

    def _kinds(self, item: OfferView) -> frozenset[str]:
        return item.eligible_requester_kinds

    def _keys(self, item: OfferView) -> list[Key]:
        return [(item.territory_id, item.category, item.unit, item.price_model)]

    def candidates_for_need(self, need: NeedView) -> Iterator[OfferView]:
        """Offers of the need's territory, of its category or one below it, in its unit, with
        the capacity for its quantity, under a price model it pays with and within its budget,
        admitting its requester, available on a weekday of its windows, inside the bounds of
        both radii."""
        keys = [
            (need.territory_id, category, need.unit, model)
            for category in descendants(need.category)
            for model in _payable(need)
        ]
        reach = self._grid.box(need.location.lat, need.location.lon, need.max_distance_km)
        lat_lo, lat_hi, lon_lo, lon_hi = reach.lat_lo, reach.lat_hi, reach.lon_lo, reach.lon_hi
        lat, lon = need.location.lat, need.location.lon
        quantity, kind, weekdays = need.quantity, need.requester_kind, need.weekdays
        ceiling = math.inf if need.max_unit_price is None else need.max_unit_price
        for earlier, entries in self._reached(keys, weekdays, reach):
            for (
                o_lat,
                o_lon,
                lo1,
                hi1,
                lo2,
                hi2,
                days,
                capacity,
                price,
                kinds,
                offer,
            ) in entries.values():
                if (
                    capacity >= quantity
                    and days & weekdays
                    and not days & earlier
                    and lat_lo <= o_lat <= lat_hi
                    and lon_lo <= o_lon <= lon_hi
                    and lo1 <= lat <= hi1
                    and lo2 <= lon <= hi2
                    and price <= ceiling
                    and (not kinds or kind in kinds)
                ):
                    yield offer


class NeedIndex(_BucketIndex[NeedView]):
    """Open needs, found from an offer."""

    by_weekday = False

    def __init__(self, grid: Grid = NEED_GRID) -> None:
        super().__init__(grid)

    def _identity(self, item: NeedView) -> str:
        return item.need_id

    def _amount(self, item: NeedView) -> float:
        return item.quantity

    def _price(self, item: NeedView) -> float:
        return math.inf if item.max_unit_price is None else item.max_unit_price

    def _kinds(self, item: NeedView) -> str:
        return item.requester_kind

    def _keys(self, item: NeedView) -> list[Key]:
        return [(item.territory_id, item.category, item.unit, model) for model in _payable(item)]

    def candidates_for_offer(self, offer: OfferView) -> Iterator[NeedView]:
        """Needs of the offer's territory for its category or a broader one, in its unit, for
        at most its capacity, paying with its price model with a budget for its price, of a
        requester it admits, sharing a weekday, inside the bounds of both radii."""
        keys = [
            (offer.territory_id, category, offer.unit, offer.price_model)
            for category in lineage(offer.category)
        ]
        reach = self._grid.box(offer.location.lat, offer.location.lon, offer.max_distance_km)
        lat_lo, lat_hi, lon_lo, lon_hi = reach.lat_lo, reach.lat_hi, reach.lon_lo, reach.lon_hi
        lat, lon = offer.location.lat, offer.location.lon
        capacity, price, kinds = offer.capacity, _euros(offer), offer.eligible_requester_kinds
        weekdays = offer.weekdays
        for earlier, entries in self._reached(keys, weekdays, reach):
            for (
                n_lat,
                n_lon,
                lo1,
                hi1,
                lo2,
                hi2,
                days,
                quantity,
                ceiling,
                kind,
                need,
            ) in entries.values():
                if (
                    quantity <= capacity
                    and days & weekdays
                    and not days & earlier
                    and lat_lo <= n_lat <= lat_hi
                    and lon_lo <= n_lon <= lon_hi
                    and lo1 <= lat <= hi1
                    and lo2 <= lon <= hi2
                    and price <= ceiling
                    and (not kinds or kind in kinds)
                ):
                    yield need
