"""GET /v1/categories: the taxonomy, readable by anyone over HTTP, in French."""

from __future__ import annotations

from typing import Any

from contracts import taxonomy
from tests.harness import Stack


async def categories(stack: Stack, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = await stack.offers.get("/v1/categories", headers=headers or {})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["categories"]
    return found


async def test_the_taxonomy_is_public_and_in_french(stack: Stack) -> None:
    by_code = {node["code"]: node for node in await categories(stack)}
    assert by_code["refrigerated_van"]["label"] == "Fourgon frigorifique"
    assert by_code["refrigerated_van"]["parent"] == "van"
    assert by_code["vehicle"]["parent"] is None
    assert by_code["meeting_room"]["units"] == [
        {"code": "seat", "label": "place assise"},
        {"code": "m2", "label": "mètre carré (m²)"},
        {"code": "hour", "label": "heure"},
    ]


async def test_every_category_is_listed_parents_first_with_the_units_it_accepts(
    stack: Stack,
) -> None:
    listed = await categories(stack)
    assert [node["code"] for node in listed] == list(taxonomy.CATEGORIES)
    seen: set[str] = set()
    for node in listed:
        assert node["parent"] is None or node["parent"] in seen
        seen.add(node["code"])
        assert node["label"] == taxonomy.label(node["code"])
        # A category without units of its own lists those it inherits, as assets accept them.
        assert [unit["code"] for unit in node["units"]] == list(taxonomy.units_for(node["code"]))
        assert all(unit["label"] for unit in node["units"])


async def test_a_token_is_not_needed_nor_looked_at(stack: Stack) -> None:
    anonymous = await categories(stack)
    assert await categories(stack, {"Authorization": "Bearer not-a-token"}) == anonymous
