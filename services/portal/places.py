"""The communes of the Jura (from the outline layer the map shows) and where they are.

Registration asks for a commune by name; its location is the centre of the commune's outline
(the mean of its outer ring's points), precise enough for distances between actors.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from pathlib import Path
from typing import Any

COMMUNES = Path(__file__).parent / "static" / "geo" / "communes-39-jura.geojson"


def _key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.replace("-", " ").replace("'", " ").lower().split())


def _centre(geometry: dict[str, Any]) -> tuple[float, float]:
    rings = geometry["coordinates"]
    ring = max((polygon[0] for polygon in rings), key=len) if geometry["type"] == "MultiPolygon" \
        else rings[0]  # fmt: skip
    lon = sum(point[0] for point in ring) / len(ring)
    lat = sum(point[1] for point in ring) / len(ring)
    return round(lat, 4), round(lon, 4)


@functools.cache
def communes() -> dict[str, dict[str, Any]]:
    """Every commune by its plain name: {"lat", "lon", "commune"} with its official name."""
    data = json.loads(COMMUNES.read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = {}
    for feature in data["features"]:
        name = feature["properties"]["nom"]
        lat, lon = _centre(feature["geometry"])
        found[_key(name)] = {"lat": lat, "lon": lon, "commune": name}
    return found


def commune_names() -> list[str]:
    return sorted(place["commune"] for place in communes().values())


def commune_location(name: str) -> dict[str, Any] | None:
    """The location of the commune called `name` (accents, case and dashes aside)."""
    return communes().get(_key(name))
