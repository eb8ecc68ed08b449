"""actors tells notifications, on the private topic `mcvt.contacts`, where an actor's people are
reached: its address and its first admin's at registration, each person invited, each person
removed, and everyone when the actor is erased; the public `mcvt.actors` never carries them."""

from __future__ import annotations

from typing import Any

from tests.service.actors.test_people import bearer, invite, register, signed_in
from tests.support import events_of, read_topic


async def contacts_of(kafka: str, actor_id: str, count: int) -> list[dict[str, Any]]:
    def enough(records: list[Any]) -> bool:
        return len(events_of(records, subject=actor_id)) >= count

    records = await read_topic(kafka, "mcvt.contacts", until=enough)
    return [
        {"type": e["type"].split(".")[2], "person": e["data"]["person_id"], **(
            {"email": e["data"]["email"]} if "email" in e["data"] else {}
        )}
        for e in events_of(records, subject=actor_id)
    ]  # fmt: skip


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

    assert await contacts_of(kafka, someone["id"], 6) == [
        {"type": "set", "person": "", "email": someone["email"]},
        {"type": "set", "person": admin_id, "email": someone["email"]},
        {"type": "set", "person": invited["id"], "email": invited["email"]},
        {"type": "removed", "person": invited["id"]},
        {"type": "removed", "person": ""},
        {"type": "removed", "person": admin_id},
    ]
    public = await read_topic(
        kafka, "mcvt.actors", until=lambda r: bool(events_of(r, subject=someone["id"]))
    )
    assert invited["email"] not in str([e["data"] for e in events_of(public)])
