"""Distances and the bounding box that prefilters a "near a point" listing on indexed lat/lon."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088
# Absorbs rounding so that a point exactly on the circle stays inside the box.
_MARGIN = 1e-9


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Box:
    """Latitude and longitude bounds; `min_lon`/`max_lon` None when every longitude qualifies."""

    min_lat: float
    max_lat: float
    min_lon: float | None
    max_lon: float | None


def bounding_box(lat: float, lon: float, radius_km: float) -> Box:
    """A box holding every point within `radius_km` of (lat, lon).

    The longitude bounds are dropped when the circle reaches a pole or crosses the antimeridian:
    the exact distance check that follows the prefilter stays correct, only less selective.
    """
    angle = radius_km / EARTH_RADIUS_KM  # angular radius, in radians
    dlat = math.degrees(angle)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90:
        return Box(max(min_lat, -90.0), min(max_lat, 90.0), None, None)
    # Widest longitude span of a spherical cap (J. Matuschek, "Finding points within a distance").
    dlon = math.degrees(math.asin(math.sin(angle) / math.cos(math.radians(lat)))) + _MARGIN
    min_lon, max_lon = lon - dlon, lon + dlon
    if min_lon < -180 or max_lon > 180:
        return Box(min_lat - _MARGIN, max_lat + _MARGIN, None, None)
    return Box(min_lat - _MARGIN, max_lat + _MARGIN, min_lon, max_lon)
