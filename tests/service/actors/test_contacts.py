"""actors tells notifications, on the private topic `mcvt.contacts`, where an actor's people are
reached: its address and its first admin's at registration, each person invited, each person
removed, and everyone when the actor is erased; the public `mcvt.actors` never carries them."""

from __future__ import annotations

from typing import Any

from tests.service.actors.test_people import bearer, invite, register, signed_in
from tests.support import events_of, read_topic


async def contacts_of(kafka: str, actor_id: str, count: int) -> dict[str, list[str]]:
    """What the topic says of each address of the actor (by key), in order."""

    def of_actor(records: list[Any]) -> list[dict[str, Any]]:
        return [e for e in events_of(records) if e["data"]["actor_id"] == actor_id]

    records = await read_topic(kafka, "mcvt.contacts", until=lambda r: len(of_actor(r)) >= count)
    told: dict[str, list[str]] = {}
    for event in of_actor(records):
        data = event["data"]
        assert event["subject"] == f"{actor_id}/{data['person_id'] or 'actor'}"
        told.setdefault(data["person_id"], []).append(data.get("email", "removed"))
    return told


async def test_people_come_and_go_on_the_private_topic(actors, territory, mailbox, kafka) -> None:
    someone = await register(actors, territory, mailbox, name="Régie de quartier")
    admin = await signed_in(actors, mailbox, someone["email"])
    admin_id = admin["person"]["id"]
    invited = (await invite(actors, someone["id"], bearer(admin))).json()
    removed = await actors.client.delete(
        f"/v1/actors/{someone['id']}/people/{invited['id']}", headers=bearer(admin)
    )
    assert removed.status_code == 204, removed.text
    erased = await actors.client.delete("/v1/me", headers=someone["auth"])
    assert erased.status_code == 204, erased.text

    assert await contacts_of(kafka, someone["id"], 6) == {
        "": [someone["email"], "removed"],
        admin_id: [someone["email"], "removed"],
        invited["id"]: [invited["email"], "removed"],
    }

    def to_the_erasure(records: list[Any]) -> bool:
        return bool(events_of(records, subject=someone["id"], type="mcvt.actor.erased.v1"))

    public = await read_topic(kafka, "mcvt.actors", until=to_the_erasure)
    assert invited["email"] not in str([e["data"] for e in events_of(public)])
    # The records of the addresses left actors' outbox with the erasure.
    kept = await actors.pool.fetch(
        "SELECT payload FROM outbox WHERE key LIKE $1 AND published_at IS NOT NULL",
        f"{someone['id']}/%",
    )
    assert someone["email"] not in str([row["payload"] for row in kept])
