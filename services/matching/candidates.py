"""In-memory indexes that find the offers a need could match, and the needs an offer could.

An item is filed under keys (territory, category, unit, price model, weekday) and, under each
key, in the cell of a square grid that holds its location. A query visits only the keys the
other side can match (the categories the taxonomy makes compatible, the same unit, the price
models the need pays with, the weekdays both sides share) and only the cells that the querying
side's radius reaches, and keeps the items inside the circle's bounding box whose amount fits
(an offer's capacity covers a need's quantity). It never scans the read model.

The answer is a superset of the pairs that pass the hard filters, which the caller applies;
no passing pair is left out, because each of those narrowing steps is implied by a hard
filter. An offer has one price model and a need one unit and territory, so apart from the
weekday, under which an item is filed once per day it is available, an item is reachable
from a query through one key only; the weekday repeat is skipped by looking at the item's
weekday mask. Nothing is returned twice.

Updates are idempotent by version: an item replaces the stored one only if its version is
newer, and a removal leaves a tombstone so that an older version redelivered afterwards does
not bring the item back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from contracts.taxonomy import descendants, lineage
from services.matching.geo import Cell, Grid
from services.matching.model import Location, NeedView, OfferView, PriceModel

DEFAULT_GRID = Grid(cell_km=10.0)

Key = tuple[Hashable, ...]


class _Indexable(Protocol):
    @property
    def location(self) -> Location: ...
    @property
    def weekdays(self) -> int: ...
    @property
    def version(self) -> int: ...


T = TypeVar("T", bound=_Indexable)
# What a cell holds per item, flat so that a query reads no attribute of the view:
# (lat, lon, weekday mask, amount, item); the amount is an offer's capacity, a need's quantity.
_Entry = tuple[float, float, int, float, T]


class _BucketIndex(ABC, Generic[T]):
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
        entry = (point.lat, point.lon, item.weekdays, self._amount(item), item)
        for key in self._dated_keys(item):
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

    def _dated_keys(self, item: T) -> list[Key]:
        return [(*key, day) for key in self._keys(item) for day in _days(item.weekdays)]

    def _unlink(self, item_id: str) -> bool:
        item = self._items.pop(item_id, None)
        if item is None:
            return False
        cell = self._grid.cell_of(item.location.lat, item.location.lon)
        for key in self._dated_keys(item):
            cells = self._buckets[key]
            entries = cells[cell]
            del entries[item_id]
            if not entries:
                del cells[cell]
                if not cells:
                    del self._buckets[key]
        return True

    def _query(
        self,
        keys: Iterable[Key],
        weekdays: int,
        location: Location,
        radius_km: float,
        amount: float,
        at_least: bool,
    ) -> Iterator[T]:
        box = self._grid.box(location.lat, location.lon, radius_km)
        # Cells are coarse; the circle's own bounds drop most items of the cells it only grazes.
        lat_lo, lat_hi, lon_lo, lon_hi = box.lat_lo, box.lat_hi, box.lon_lo, box.lon_hi
        for key in keys:
            for day in _days(weekdays):
                cells = self._buckets.get((*key, day))
                if not cells:
                    continue
                if box.cells is None:
                    visited: Iterable[dict[str, _Entry[T]]] = cells.values()
                else:
                    visited = [cells[cell] for cell in cells.keys() & box.cells]
                # An item sharing an earlier weekday was already yielded under that day.
                earlier = weekdays & ((1 << day) - 1)
                for entries in visited:
                    for lat, lon, days, held, item in entries.values():
                        if (
                            (held >= amount if at_least else held <= amount)
                            and lat_lo <= lat <= lat_hi
                            and lon_lo <= lon <= lon_hi
                            and not days & earlier
                        ):
                            yield item


def _days(mask: int) -> tuple[int, ...]:
    return _DAYS[mask & 0b111_1111]


_DAYS = tuple(tuple(day for day in range(7) if mask >> day & 1) for mask in range(128))


def _payable(need: NeedView) -> frozenset[PriceModel]:
    """Price models a need can pay with: free always, time credits when accepted."""
    return need.accepted_price_models | {PriceModel.FREE}


class OfferIndex(_BucketIndex[OfferView]):
    """Published offers, found from a need."""

    def _identity(self, item: OfferView) -> str:
        return item.offer_id

    def _amount(self, item: OfferView) -> float:
        return item.capacity

    def _keys(self, item: OfferView) -> list[Key]:
        return [(item.territory_id, item.category, item.unit, item.price_model)]

    def candidates_for_need(self, need: NeedView) -> Iterator[OfferView]:
        """Offers of the need's territory, of its category or one below it, in its unit, with
        the capacity for its quantity, under a price model it pays with, available on a
        weekday of its windows, inside the bounds of its radius."""
        keys = [
            (need.territory_id, category, need.unit, model)
            for category in descendants(need.category)
            for model in _payable(need)
        ]
        return self._query(
            keys, need.weekdays, need.location, need.max_distance_km, need.quantity, True
        )


class NeedIndex(_BucketIndex[NeedView]):
    """Open needs, found from an offer."""

    def _identity(self, item: NeedView) -> str:
        return item.need_id

    def _amount(self, item: NeedView) -> float:
        return item.quantity

    def _keys(self, item: NeedView) -> list[Key]:
        return [(item.territory_id, item.category, item.unit, model) for model in _payable(item)]

    def candidates_for_offer(self, offer: OfferView) -> Iterator[NeedView]:
        """Needs of the offer's territory for its category or a broader one, in its unit, for
        at most its capacity, paying with its price model, sharing a weekday, inside the bounds
        of the offer's radius."""
        keys = [
            (offer.territory_id, category, offer.unit, offer.price_model)
            for category in lineage(offer.category)
        ]
        return self._query(
            keys, offer.weekdays, offer.location, offer.max_distance_km, offer.capacity, False
        )
