"""The people actors knows of hear by mail, without doing anything: the address an actor
registered with and its people's (told on the private topic `mcvt.contacts`), once per address,
until they unsubscribe or leave; a person's own choice of address is kept."""

from __future__ import annotations

import asyncio
import uuid

from contracts.contacts import ContactRemovedV1, ContactSetV1
from contracts.topics import Topic
from tests.harness import Stack
from tests.mailbox import text_of
from tests.scenario import Member, Territory, events_for, new_member
from tests.service.notifications.conftest import FlakyMailbox
from tests.service.notifications.steps import logged, notifications, proposed, publish
from tests.service.notifications.test_mail import address, confirmed, link_in
from tests.support import eventually


async def registered(stack: Stack, territory: Territory) -> tuple[Member, str]:
    """An association registered with an address of its own, known to notifications."""
    email = address()
    member = await new_member(stack, territory, kind="association", name="Les Jardins", email=email)
    await addresses_of(stack, member, count=2)  # the actor's and its first admin's
    return member, email


async def addresses_of(stack: Stack, member: Member, *, count: int) -> None:
    """Wait until notifications holds `count` addresses of the actor."""

    async def known() -> bool:
        found = await stack.pool("notifications").fetchval(
            "SELECT count(*) FROM mail_recipients WHERE actor_id = $1", uuid.UUID(member.id)
        )
        return bool(found == count)

    await eventually(known)


async def taken(stack: Stack, event_id: str) -> None:
    """Wait until notifications took the event (its inbox holds it)."""

    async def held() -> bool:
        found = await stack.pool("notifications").fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = $1", event_id
        )
        return bool(found)

    await eventually(held)


async def concerning(stack: Stack, territory: Territory, member: Member) -> str:
    """A match proposed to `member`, taken by notifications; its event id."""
    event = await publish(
        stack, proposed(territory.id, str(uuid.uuid4()), member.id), "m", territory.id
    )
    await logged(stack, event.id)
    return event.id


async def test_the_registered_address_hears_what_concerns_the_actor_once(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member, email = await registered(stack, territory)
    await concerning(stack, territory, member)
    mail = await mailbox.next_to(email)
    assert mail["Subject"] == "MCVT · Une mise en relation vous est proposée"
    assert "Bonjour" in text_of(mail)
    await asyncio.sleep(1)
    # The actor and its first admin share the address: one mail, and no confirmation asked.
    assert len(mailbox.to(email)) == 1
    other = await new_member(stack, territory, kind="association", name="Ailleurs")
    await concerning(stack, territory, other)
    await asyncio.sleep(1)
    assert len(mailbox.to(email)) == 1  # not what concerns another actor


async def test_an_unsubscribed_address_stays_unsubscribed(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member, email = await registered(stack, territory)
    await concerning(stack, territory, member)
    mail = await mailbox.next_to(email)
    done = await notifications(stack).post(link_in(mail))  # no sign-in
    assert done.status_code == 200 and "Désabonnement confirmé" in done.text
    # actors tells the address again (the actor set it anew): it does not subscribe it again.
    again = ContactSetV1(actor_id=member.id, territory_id=territory.id, person_id="", email=email)
    await taken(stack, (await publish(stack, again, member.id, territory.id)).id)
    await concerning(stack, territory, member)
    await asyncio.sleep(1)
    assert len(mailbox.to(email)) == 1


async def test_a_person_who_leaves_hears_no_more(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member, email = await registered(stack, territory)
    rows = await stack.pool("notifications").fetch(
        "SELECT person FROM mail_recipients WHERE actor_id = $1", uuid.UUID(member.id)
    )
    for row in rows:
        left = ContactRemovedV1(
            actor_id=member.id, territory_id=territory.id, person_id=row["person"]
        )
        await taken(stack, (await publish(stack, left, member.id, territory.id)).id)
    await addresses_of(stack, member, count=0)
    await concerning(stack, territory, member)
    await asyncio.sleep(1)
    assert mailbox.to(email) == []


async def test_an_address_of_ones_own_choice_is_kept(
    stack: Stack, territory: Territory, mailbox: FlakyMailbox
) -> None:
    member, registered_with = await registered(stack, territory)
    chosen = address()
    await confirmed(stack, mailbox, member, chosen, "immediate")
    changed = await stack.actors.patch(
        f"/v1/actors/{member.id}", json={"email": address()}, headers=member.headers
    )
    assert changed.status_code == 200, changed.text
    # actors tells the actor's new address (key <actor>/actor: its registration's, then this).
    told = await events_for(stack, Topic.CONTACTS, f"{member.id}/actor", until=2)
    await taken(stack, told[-1]["id"])
    mine = await notifications(stack).get("/v1/me/mail", headers=member.headers)
    assert mine.json()["email"] == chosen
    await concerning(stack, territory, member)
    await mailbox.next_to(chosen, seen=1)  # after its confirmation
    # The first admin's address is still the one the actor registered with: it hears too.
    assert (await mailbox.next_to(registered_with))["To"] == registered_with
