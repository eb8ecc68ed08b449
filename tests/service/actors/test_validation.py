"""Bad input gets a 4xx problem naming the field, never a 500."""

from __future__ import annotations

import pytest

from tests.scenario import registration


async def post_registration(actors, body):
    return await actors.client.post("/v1/actors", json=body)


def fields(response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


async def test_unknown_field_gets_422(actors, territory) -> None:
    response = await post_registration(actors, registration(territory.id, website="https://x"))
    assert response.status_code == 422
    assert fields(response) == ["website"]
    assert response.json()["errors"][0]["in"] == "body"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"siret": "73282932000075"}, "siret"),
        ({"kind": "multinational"}, "kind"),
        ({"email": "not-an-email"}, "email"),
        ({"name": "   "}, "name"),
        ({"location": {"lat": 91, "lon": 5}}, "location.lat"),
        ({"location": {"lat": 44, "lon": -181}}, "location.lon"),
        ({"territory_id": "not-a-uuid"}, "territory_id"),
    ],
)
async def test_invalid_registration_names_the_field(actors, territory, override, field) -> None:
    response = await post_registration(actors, {**registration(territory.id), **override})
    assert response.status_code == 422
    assert fields(response) == [field]


async def test_unknown_territory_is_422_on_territory_id(actors, territory) -> None:
    response = await post_registration(actors, registration("00000000-0000-4000-8000-000000000000"))
    assert response.status_code == 422
    assert fields(response) == ["territory_id"]


async def test_duplicate_siret_in_a_territory_is_409(actors, territory) -> None:
    assert (await post_registration(actors, registration(territory.id))).status_code == 201
    again = await post_registration(actors, registration(territory.id, name="Autre nom"))
    assert again.status_code == 409
    assert fields(again) == ["siret"]


async def test_bad_cursor_and_limit(actors, territory) -> None:
    auth = territory.facilitator
    assert (await actors.client.get("/v1/actors?cursor=zzz", headers=auth)).status_code == 422
    assert (await actors.client.get("/v1/actors?limit=1000", headers=auth)).status_code == 422


async def test_malformed_json_is_422(actors, territory) -> None:
    response = await actors.client.post(
        "/v1/actors", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_listing_pages_through_a_territory(actors, territory) -> None:
    for i in range(5):
        body = registration(territory.id, siret=None, name=f"Asso {i}", kind="association")
        assert (await post_registration(actors, body)).status_code == 201
    seen: list[str] = []
    url = "/v1/actors?limit=2&kind=association&status=pending"
    while url:
        page = (await actors.client.get(url, headers=territory.facilitator)).json()
        assert len(page["items"]) <= 2
        seen += [item["name"] for item in page["items"]]
        url = (
            f"/v1/actors?limit=2&kind=association&status=pending&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert sorted(seen) == [f"Asso {i}" for i in range(5)]
