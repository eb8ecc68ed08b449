"""Pledged contributions: assets, time, money, skills; fulfilled when a carrier confirms."""

from __future__ import annotations

from tests.harness import Stack
from tests.scenario import new_member, new_territory
from tests.service.projects.steps import client, get, start


async def test_pledges_are_counted_per_kind_and_confirmed_by_a_carrier(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    giver = await new_member(stack, town, kind="citizen", name="Jeanne Martin")
    project = await start(stack, carrier)
    path = f"/v1/projects/{project['id']}/pledges"
    bodies = [
        {"kind": "time", "amount": 6, "note": "Deux samedis"},
        {"kind": "money", "amount": 5000},
        {"kind": "skill", "amount": 10, "note": "Mécanique"},
        {"kind": "asset", "amount": 20, "unit": "h", "note": "Le pont élévateur"},
    ]
    made = []
    for body in bodies:
        response = await client(stack).post(path, json=body, headers=giver.headers)
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert [p["unit"] for p in made] == ["h", "cents EUR", "h", "h"]

    refused = await client(stack).post(f"{path}/{made[1]['id']}/confirm", headers=giver.headers)
    confirmed = await client(stack).post(f"{path}/{made[1]['id']}/confirm", headers=carrier.headers)
    again = await client(stack).post(f"{path}/{made[1]['id']}/confirm", headers=carrier.headers)

    assert refused.status_code == 403
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "fulfilled"
    assert confirmed.json()["confirmed_by"] == carrier.id
    assert again.status_code == 409
    pledged = (await get(stack, carrier, project["id"]))["pledged"]
    money = [p for p in pledged if p["kind"] == "money"]
    assert money == [
        {"kind": "money", "unit": "cents EUR", "status": "fulfilled", "amount": 5000, "pledges": 1}
    ]
    first = await client(stack).get(path, params={"limit": 3}, headers=carrier.headers)
    rest = await client(stack).get(
        path, params={"limit": 3, "cursor": first.json()["next_cursor"]}, headers=carrier.headers
    )
    listed = [p["id"] for p in first.json()["items"] + rest.json()["items"]]
    assert listed == [p["id"] for p in reversed(made)] and rest.json()["next_cursor"] is None


async def test_a_pledge_names_its_unit_and_a_need_of_the_project(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    project = await start(stack, carrier)
    path = f"/v1/projects/{project['id']}/pledges"
    asset = await client(stack).post(
        path, json={"kind": "asset", "amount": 3}, headers=carrier.headers
    )
    cents = await client(stack).post(
        path, json={"kind": "money", "amount": 10.5}, headers=carrier.headers
    )
    need = await client(stack).post(
        path,
        json={"kind": "time", "amount": 1, "need_id": project["id"]},
        headers=carrier.headers,
    )
    negative = await client(stack).post(
        path, json={"kind": "time", "amount": -1}, headers=carrier.headers
    )

    assert [r.status_code for r in (asset, cents, need, negative)] == [422] * 4
    assert [r.json()["errors"][0]["field"] for r in (asset, cents, need, negative)] == [
        "unit",
        "amount",
        "need_id",
        "amount",
    ]
