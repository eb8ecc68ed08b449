"""Only owners change their assets, offers and needs; facilitators moderate; others see little."""

from __future__ import annotations

from tests.scenario import (
    declare,
    events_for,
    need,
    need_for,
    new_member,
    new_territory,
    offer,
    offer_on,
    outbox_count,
    types,
    van,
)


async def test_another_actors_offer_cannot_be_changed_and_nothing_is_published(
    stack, territory
) -> None:
    owner = await new_member(stack, territory, name="Frigo Diois")
    intruder = await new_member(stack, territory, name="Concurrent")
    asset = await declare(stack, owner)
    published = await offer(stack, owner, asset["id"])
    offer_id = published["id"]
    before = await outbox_count(stack)

    attempts = [
        ("patch", f"/v1/offers/{offer_id}", {"title": "À moi"}),
        ("post", f"/v1/offers/{offer_id}/pause", None),
        ("post", f"/v1/offers/{offer_id}/withdraw", None),
        ("post", f"/v1/offers/{offer_id}/publish", None),
    ]
    for method, url, body in attempts:
        response = await stack.offers.request(method, url, json=body, headers=intruder.headers)
        assert response.status_code == 403, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # The asset itself is not even visible to the intruder.
    seen = await stack.offers.get(f"/v1/assets/{asset['id']}", headers=intruder.headers)
    assert seen.status_code == 404
    changed = await stack.offers.patch(
        f"/v1/assets/{asset['id']}", json={"capacity": 1}, headers=intruder.headers
    )
    assert changed.status_code == 404
    assert await outbox_count(stack) == before

    # The owner's own pause is the next event on the offer's partition: nothing came in between.
    paused = await stack.offers.post(f"/v1/offers/{offer_id}/pause", headers=owner.headers)
    assert paused.status_code == 200
    events = await events_for(stack, "mcvt.offers", offer_id, until=2)
    assert types(events) == ["mcvt.offer.published.v1", "mcvt.offer.paused.v1"]
    assert events[1]["data"]["paused_by"] == owner.id
    unchanged = await stack.offers.get(f"/v1/offers/{offer_id}", headers=owner.headers)
    assert unchanged.json()["title"] == published["title"]


async def test_drafts_and_paused_offers_are_hidden_from_others(stack, territory) -> None:
    owner = await new_member(stack, territory, name="Frigo Diois")
    other = await new_member(stack, territory, name="Voisin")
    asset = await declare(stack, owner)
    drafted = await offer(stack, owner, asset["id"], publish=False)
    for response in (
        await stack.offers.get(f"/v1/offers/{drafted['id']}", headers=other.headers),
        await stack.offers.post(f"/v1/offers/{drafted['id']}/publish", headers=other.headers),
    ):
        assert response.status_code == 404
    mine = await stack.offers.get(f"/v1/offers/{drafted['id']}", headers=owner.headers)
    assert mine.status_code == 200
    # The territory's facilitator sees it too.
    moderated = await stack.offers.get(
        f"/v1/offers/{drafted['id']}", headers=territory.facilitator.headers
    )
    assert moderated.status_code == 200


async def test_a_facilitator_pauses_any_offer_of_its_territory_only(stack, territory) -> None:
    owner = await new_member(stack, territory)
    asset = await declare(stack, owner)
    published = await offer(stack, owner, asset["id"])
    elsewhere = await new_territory(stack)
    foreign = await stack.offers.post(
        f"/v1/offers/{published['id']}/pause", headers=elsewhere.facilitator.headers
    )
    assert foreign.status_code == 404  # another territory's offer does not exist for it

    paused = await stack.offers.post(
        f"/v1/offers/{published['id']}/pause",
        json={"reason": "annonce trompeuse"},
        headers=territory.facilitator.headers,
    )
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    # Moderation is a pause, not a takeover: the facilitator still cannot edit or withdraw it.
    edit = await stack.offers.patch(
        f"/v1/offers/{published['id']}", json={"title": "x"}, headers=territory.facilitator.headers
    )
    assert edit.status_code == 403
    events = await events_for(stack, "mcvt.offers", published["id"], until=2)
    assert types(events) == ["mcvt.offer.published.v1", "mcvt.offer.paused.v1"]
    assert events[1]["data"]["paused_by"] == territory.facilitator.id
    assert events[1]["data"]["reason"] == "annonce trompeuse"


async def test_publishing_an_offer_on_someone_elses_asset_is_refused(stack, territory) -> None:
    owner = await new_member(stack, territory, name="Frigo Diois")
    intruder = await new_member(stack, territory, name="Concurrent")
    asset = await declare(stack, owner)
    before = await outbox_count(stack)
    response = await stack.offers.post(
        "/v1/offers", json=offer_on(asset["id"]), headers=intruder.headers
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "asset_id"
    # An asset of another territory does not exist for the caller.
    elsewhere = await new_territory(stack)
    stranger = await new_member(stack, elsewhere, name="Lointain")
    response = await stack.offers.post(
        "/v1/offers", json=offer_on(asset["id"]), headers=stranger.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "asset_id"
    assert await outbox_count(stack) == before


async def test_another_actors_need_cannot_be_changed(stack, territory) -> None:
    requester = await new_member(stack, territory, kind="association", name="Paniers")
    intruder = await new_member(stack, territory, kind="association", name="Autre")
    requested = await need(stack, requester)
    before = await outbox_count(stack)
    for method, url, body in [
        ("patch", f"/v1/needs/{requested['id']}", {"quantity": 1}),
        ("post", f"/v1/needs/{requested['id']}/withdraw", None),
        ("post", f"/v1/needs/{requested['id']}/fulfil", None),
    ]:
        response = await stack.offers.request(method, url, json=body, headers=intruder.headers)
        assert response.status_code == 403, (url, response.text)
    assert await outbox_count(stack) == before
    withdrawn = await stack.offers.post(
        f"/v1/needs/{requested['id']}/withdraw", headers=requester.headers
    )
    assert withdrawn.status_code == 200
    events = await events_for(stack, "mcvt.needs", requested["id"], until=2)
    assert types(events) == ["mcvt.need.published.v1", "mcvt.need.withdrawn.v1"]
    assert events[1]["data"]["withdrawn_by"] == requester.id
    # Once withdrawn, the need is no longer public.
    hidden = await stack.offers.get(f"/v1/needs/{requested['id']}", headers=intruder.headers)
    assert hidden.status_code == 404


async def test_an_actor_not_yet_admitted_uses_nothing_here(stack, territory) -> None:
    pending = await new_member(stack, territory, name="Pas encore admis", admit=False)
    member = await new_member(stack, territory, name="Admis")
    asset = await declare(stack, member)
    published = await offer(stack, member, asset["id"])
    requested = await need(stack, member)
    before = await outbox_count(stack)

    attempts = [
        await stack.offers.post("/v1/assets", json=van(), headers=pending.headers),
        await stack.offers.get("/v1/assets", headers=pending.headers),
        await stack.offers.get("/v1/offers", headers=pending.headers),
        await stack.offers.get(f"/v1/offers/{published['id']}", headers=pending.headers),
        await stack.offers.post(
            "/v1/offers", json=offer_on(asset["id"], publish=False), headers=pending.headers
        ),
        await stack.offers.get("/v1/needs", headers=pending.headers),
        await stack.offers.get(f"/v1/needs/{requested['id']}", headers=pending.headers),
        await stack.offers.post("/v1/needs", json=need_for(), headers=pending.headers),
    ]

    assert [a.status_code for a in attempts] == [403] * len(attempts)
    assert all("lat" not in a.text for a in attempts)
    assert await outbox_count(stack) == before


async def test_requests_without_a_valid_token_are_refused(stack) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await stack.offers.get("/v1/offers", headers=headers)
        assert response.status_code == 401
