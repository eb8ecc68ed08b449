from __future__ import annotations

from tests.scenario import registration, token_for


async def test_register_admit_and_read(actors, territory) -> None:
    response = await actors.client.post("/v1/actors", json=registration(territory.id))
    assert response.status_code == 201, response.text
    body = response.json()
    actor_id = body["actor"]["id"]
    assert body["actor"]["status"] == "pending"
    assert body["api_key"]["key"].startswith("mcvt_")

    own = await token_for(actors.client, body["api_key"]["key"])
    me = await actors.client.get("/v1/actors/me", headers=own)
    assert me.status_code == 200 and me.json()["id"] == actor_id

    admitted = await actors.client.post(
        f"/v1/actors/{actor_id}/admit", headers=territory.facilitator
    )
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "active"
    assert admitted.json()["version"] == 2
