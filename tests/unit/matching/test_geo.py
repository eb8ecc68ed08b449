"""Distances and the grid that buckets locations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matching.geo import Grid, haversine_km

latitudes = st.floats(-90, 90)
longitudes = st.floats(-180, 180)


def test_haversine_matches_a_known_distance() -> None:
    grenoble, lyon = (45.1885, 5.7245), (45.7640, 4.8357)
    assert haversine_km(*grenoble, *lyon) == pytest.approx(94.7, abs=0.5)
    assert haversine_km(*grenoble, *grenoble) == 0


@given(
    latitudes,
    longitudes,
    st.floats(0, 3000),
    st.floats(0, 2 * math.pi),
    st.floats(0, 1),
    st.sampled_from([0.5, 5.0, 37.0]),
)
def test_the_box_holds_every_point_within_the_radius(
    lat: float, lon: float, radius: float, bearing: float, fraction: float, cell_km: float
) -> None:
    grid = Grid(cell_km)
    # Walk a great circle from the centre for a fraction of the radius.
    phi, lam, delta = math.radians(lat), math.radians(lon), radius * fraction / 6371.0088
    phi2 = math.asin(
        min(
            1.0,
            max(
                -1.0,
                math.sin(phi) * math.cos(delta)
                + math.cos(phi) * math.sin(delta) * math.cos(bearing),
            ),
        )
    )
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    point = (math.degrees(phi2), (math.degrees(lam2) + 540) % 360 - 180)
    if haversine_km(lat, lon, *point) <= radius:
        box = grid.box(lat, lon, radius)
        assert grid.cell_of(*point) in box
        assert box.holds(*point)


def test_a_small_radius_visits_few_cells() -> None:
    box = Grid(5.0).box(45.19, 5.72, 15.0)
    assert box.cells is not None and len(box.cells) <= 9 * 9
    assert Grid(5.0).box(89.9, 0.0, 50.0).cells is None
    assert Grid(5.0).box(45.19, 5.72, 5000.0).cells is None
