"""Great-circle distance and the square grid that buckets locations for the spatial index."""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180
_MARGIN_DEGREES = 1e-9

Cell = tuple[int, int]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    return haversine_radians_km(
        phi1, math.radians(lon1), math.cos(phi1), phi2, math.radians(lon2), math.cos(phi2)
    )


def haversine_radians_km(
    phi1: float, lam1: float, cos_phi1: float, phi2: float, lam2: float, cos_phi2: float
) -> float:
    """Great-circle distance in km from radians and the cosines of the latitudes, which a
    caller comparing one point with many computes once."""
    h = math.sin((phi2 - phi1) / 2) ** 2 + cos_phi1 * cos_phi2 * math.sin((lam2 - lam1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class CellBox:
    """Where a query for a circle must look, conservatively: the grid cells it overlaps, and
    the latitude and longitude bounds of the circle itself.

    `cells` None means every cell (too many to list, or the circle reaches a pole). The
    longitude bounds are infinite when the circle reaches a pole or crosses the antimeridian.
    """

    cells: AbstractSet[Cell] | None
    lat_lo: float = -math.inf
    lat_hi: float = math.inf
    lon_lo: float = -math.inf
    lon_hi: float = math.inf

    def __contains__(self, cell: object) -> bool:
        return self.cells is None or cell in self.cells

    def holds(self, lat: float, lon: float) -> bool:
        """Whether (`lat`, `lon`) lies within the bounds (a point of the circle always does)."""
        return self.lat_lo <= lat <= self.lat_hi and self.lon_lo <= lon <= self.lon_hi


@dataclass(frozen=True, slots=True)
class Grid:
    """Cells of `cell_km` along a meridian; a cell's width in km shrinks with latitude.

    The number of columns is an integer so that longitude wraps cleanly at the antimeridian.
    """

    cell_km: float = 5.0
    max_box_cells: int = 4096
    columns: int = field(init=False)
    degrees: float = field(init=False)

    def __post_init__(self) -> None:
        if self.cell_km <= 0:
            raise ValueError("cell_km must be positive")
        columns = max(1, round(360 / (self.cell_km / KM_PER_DEGREE)))
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "degrees", 360 / columns)

    def cell_of(self, lat: float, lon: float) -> Cell:
        """Cell holding the point (`lat`, `lon`) in degrees."""
        row = math.floor((lat + 90) / self.degrees)
        column = math.floor((lon + 180) / self.degrees) % self.columns
        return row, column

    def box(self, lat: float, lon: float, radius_km: float) -> CellBox:
        """Cells that may hold a point within `radius_km` of (`lat`, `lon`).

        Uses the exact bounding box of a spherical cap, so no point of the circle is missed.
        """
        angle = radius_km / EARTH_RADIUS_KM
        dlat = math.degrees(angle) + _MARGIN_DEGREES
        lat_lo, lat_hi = lat - dlat, lat + dlat
        if lat_lo <= -90 or lat_hi >= 90 or angle >= math.pi / 2:
            return CellBox(None, lat_lo, lat_hi)
        ratio = math.sin(angle) / math.cos(math.radians(lat))
        if ratio >= 1:
            return CellBox(None, lat_lo, lat_hi)
        dlon = math.degrees(math.asin(ratio)) + _MARGIN_DEGREES
        lon_lo, lon_hi = lon - dlon, lon + dlon
        if lon_lo < -180 or lon_hi > 180:
            lon_lo, lon_hi = -math.inf, math.inf
        rows = range(
            math.floor((lat_lo + 90) / self.degrees), math.floor((lat_hi + 90) / self.degrees) + 1
        )
        first = math.floor((lon - dlon + 180) / self.degrees)
        last = math.floor((lon + dlon + 180) / self.degrees)
        if last - first + 1 >= self.columns or len(rows) * (last - first + 1) > self.max_box_cells:
            return CellBox(None, lat_lo, lat_hi, lon_lo, lon_hi)
        columns = [column % self.columns for column in range(first, last + 1)]
        # A plain set: `dict.keys() & set` walks the smaller side, `& frozenset` the frozenset.
        cells = {(row, column) for row in rows for column in columns}
        return CellBox(cells, lat_lo, lat_hi, lon_lo, lon_hi)
