"""Listing offers and needs: filters (territory, category and below, status, owner, near a point)
and keyset cursor pagination."""

from __future__ import annotations

from typing import Any

from tests.scenario import (
    CREST,
    DIE,
    VALENCE,
    declare,
    need,
    new_member,
    new_territory,
    offer,
    open_offers,
)


async def ids(stack, path: str, headers: dict[str, str], **params: Any) -> list[str]:
    response = await stack.offers.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_offer_filters(stack, territory) -> None:
    die = await new_member(stack, territory, name="Frigo Diois", location=DIE)
    crest = await new_member(stack, territory, name="Garage de Crest", location=CREST)
    viewer = await new_member(stack, territory, kind="association", name="Lecteur")

    fridge = await offer(stack, die, (await declare(stack, die))["id"])
    plain = await offer(
        stack,
        crest,
        (await declare(stack, crest, category="van", location=CREST, features=[]))["id"],
    )
    car = await offer(
        stack,
        crest,
        (await declare(stack, crest, category="car", unit="seat", capacity=4, location=VALENCE))[
            "id"
        ],
    )
    room = await offer(
        stack,
        die,
        (await declare(stack, die, category="meeting_room", unit="seat", capacity=20))["id"],
    )
    paused = await offer(stack, die, (await declare(stack, die))["id"])
    await stack.offers.post(f"/v1/offers/{paused['id']}/pause", headers=die.headers)
    draft = await offer(stack, die, (await declare(stack, die))["id"], publish=False)

    everything = await ids(stack, "/v1/offers", viewer.headers)
    # Newest first; others' paused offers and drafts are not listed.
    assert everything == [room["id"], car["id"], plain["id"], fridge["id"]]

    # Category includes every sub-category: a van need is met by a refrigerated van.
    assert await ids(stack, "/v1/offers", viewer.headers, category="van") == [
        plain["id"],
        fridge["id"],
    ]
    assert await ids(stack, "/v1/offers", viewer.headers, category="refrigerated_van") == [
        fridge["id"]
    ]
    assert await ids(stack, "/v1/offers", viewer.headers, category="vehicle") == [
        car["id"],
        plain["id"],
        fridge["id"],
    ]
    assert await ids(stack, "/v1/offers", viewer.headers, category="space") == [room["id"]]

    # Near a point: Die to Crest is about 28 km, Die to Valence about 43 km.
    near_die = {"lat": DIE["lat"], "lon": DIE["lon"]}
    assert await ids(stack, "/v1/offers", viewer.headers, **near_die, radius_km=10) == [
        room["id"],
        fridge["id"],
    ]
    assert await ids(stack, "/v1/offers", viewer.headers, **near_die, radius_km=30) == [
        room["id"],
        plain["id"],
        fridge["id"],
    ]
    assert await ids(stack, "/v1/offers", viewer.headers, **near_die, radius_km=50) == everything
    assert await ids(
        stack, "/v1/offers", viewer.headers, **near_die, radius_km=30, category="vehicle"
    ) == [plain["id"], fridge["id"]]

    # Owner, and status: the owner sees its own offers in every status.
    assert await ids(stack, "/v1/offers", viewer.headers, owner_id=crest.id) == [
        car["id"],
        plain["id"],
    ]
    assert await ids(stack, "/v1/offers", die.headers, owner_id=die.id) == [
        draft["id"],
        paused["id"],
        room["id"],
        fridge["id"],
    ]
    assert await ids(stack, "/v1/offers", die.headers, status="paused") == [paused["id"]]
    assert await ids(stack, "/v1/offers", die.headers, status="draft") == [draft["id"]]
    assert await ids(stack, "/v1/offers", viewer.headers, status="paused") == []
    facilitator = territory.facilitator.headers
    assert await ids(stack, "/v1/offers", facilitator, status="draft") == [draft["id"]]


async def test_territory_filter(stack, territory) -> None:
    here = await new_member(stack, territory, name="Ici")
    elsewhere = await new_territory(stack)
    there = await new_member(stack, elsewhere, name="Là-bas")
    local = await offer(stack, here, (await declare(stack, here))["id"])
    remote = await offer(stack, there, (await declare(stack, there))["id"])
    local_need = await need(stack, here)
    remote_need = await need(stack, there)

    # The caller's own territory; another territory's offers only once it opened them.
    assert await ids(stack, "/v1/offers", here.headers) == [local["id"]]
    assert await ids(stack, "/v1/needs", there.headers) == [remote_need["id"]]
    for caller, path, params in [
        (here, "/v1/offers", {"territory_id": elsewhere.id}),
        (here, "/v1/needs", {"territory_id": elsewhere.id}),
        (here, f"/v1/offers/{remote['id']}", {}),
        (here, f"/v1/needs/{remote_need['id']}", {}),
        (there, "/v1/needs", {"territory_id": territory.id}),
        (there, f"/v1/needs/{local_need['id']}", {}),
    ]:
        response = await stack.offers.get(path, params=params, headers=caller.headers)
        assert response.status_code in (403, 404), path
        assert remote["id"] not in response.text and local_need["id"] not in response.text

    await open_offers(stack, elsewhere)
    assert await ids(stack, "/v1/offers", here.headers, territory_id=elsewhere.id) == [remote["id"]]
    seen = await stack.offers.get(f"/v1/offers/{remote['id']}", headers=here.headers)
    assert seen.status_code == 200
    # Never its needs.
    needs = await stack.offers.get(
        "/v1/needs", params={"territory_id": elsewhere.id}, headers=here.headers
    )
    assert needs.status_code == 403
    need_by_id = await stack.offers.get(f"/v1/needs/{remote_need['id']}", headers=here.headers)
    assert need_by_id.status_code == 404
    # Closed again, its offers are its own again.
    await open_offers(stack, elsewhere, public=False)
    closed = await stack.offers.get(f"/v1/offers/{remote['id']}", headers=here.headers)
    assert closed.status_code == 404


async def test_offer_pagination_with_a_cursor(stack, territory) -> None:
    member = await new_member(stack, territory)
    asset = await declare(stack, member)
    made = [(await offer(stack, member, asset["id"], title=f"Offre {i}"))["id"] for i in range(5)]

    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await stack.offers.get("/v1/offers", params=params, headers=member.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(len(body["items"]))
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert seen == list(reversed(made))

    assets = await stack.offers.get("/v1/assets", params={"limit": 1}, headers=member.headers)
    assert [a["id"] for a in assets.json()["items"]] == [asset["id"]]
    assert assets.json()["next_cursor"] is None


async def test_need_filters_and_pagination(stack, territory) -> None:
    near = await new_member(stack, territory, kind="association", name="Près", location=DIE)
    far = await new_member(stack, territory, kind="association", name="Loin", location=VALENCE)
    viewer = await new_member(stack, territory, name="Lecteur")
    fridge = await need(stack, near)
    plain = await need(stack, far, category="van", required_features=[])
    room = await need(
        stack,
        near,
        category="meeting_room",
        unit="seat",
        quantity=12,
        budget={"accepted_price_models": ["free"]},
        required_features=[],
    )
    gone = await need(stack, near)
    await stack.offers.post(f"/v1/needs/{gone['id']}/withdraw", headers=near.headers)

    assert await ids(stack, "/v1/needs", viewer.headers) == [room["id"], plain["id"], fridge["id"]]
    assert await ids(stack, "/v1/needs", viewer.headers, category="van") == [
        plain["id"],
        fridge["id"],
    ]
    near_die = {"lat": DIE["lat"], "lon": DIE["lon"], "radius_km": 20}
    assert await ids(stack, "/v1/needs", viewer.headers, **near_die) == [room["id"], fridge["id"]]
    assert await ids(stack, "/v1/needs", viewer.headers, owner_id=far.id) == [plain["id"]]
    assert await ids(stack, "/v1/needs", viewer.headers, status="withdrawn") == []
    assert await ids(stack, "/v1/needs", near.headers, status="withdrawn") == [gone["id"]]

    first = await stack.offers.get("/v1/needs", params={"limit": 2}, headers=viewer.headers)
    cursor = first.json()["next_cursor"]
    assert [n["id"] for n in first.json()["items"]] == [room["id"], plain["id"]] and cursor
    rest = await stack.offers.get(
        "/v1/needs", params={"limit": 2, "cursor": cursor}, headers=viewer.headers
    )
    assert [n["id"] for n in rest.json()["items"]] == [fridge["id"]]
    assert rest.json()["next_cursor"] is None


async def test_near_is_a_circle_not_a_box(stack, territory) -> None:
    # North-east of Die: inside the 30 km bounding box, yet 32.5 km away as the crow flies.
    corner = {"lat": DIE["lat"] + 0.2, "lon": DIE["lon"] + 0.3, "commune": "Coin"}
    # Due north: 27.8 km away.
    north = {"lat": DIE["lat"] + 0.25, "lon": DIE["lon"], "commune": "Nord"}
    member = await new_member(stack, territory)
    far = await offer(stack, member, (await declare(stack, member, location=corner))["id"])
    close = await offer(stack, member, (await declare(stack, member, location=north))["id"])
    around_die = {"lat": DIE["lat"], "lon": DIE["lon"]}
    assert await ids(stack, "/v1/offers", member.headers, **around_die, radius_km=30) == [
        close["id"]
    ]
    assert await ids(stack, "/v1/offers", member.headers, **around_die, radius_km=33) == [
        close["id"],
        far["id"],
    ]
