"""People sign in with single-use links mailed to them (a real SMTP server on loopback), hold
sessions whose refresh tokens rotate, and are managed by their actor's admins."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest

from services.actors.purge import purge
from services.runtime import clock
from services.runtime.context import Context
from tests.mailbox import Mailbox, text_of
from tests.scenario import registration, token_for
from tests.support import events_of, read_topic


def bearer(grant: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {grant['access_token']}"}


async def register(
    actors, territory, mailbox: Mailbox, *, admit: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A registered actor (admitted unless told) whose registration mail arrived: its id, e-mail
    and API-key auth headers."""
    body = registration(territory.id, **{"siret": None, **overrides})
    response = await actors.client.post("/v1/actors", json=body)
    assert response.status_code == 201, response.text
    await mailbox.next_to(body["email"])
    actor_id = response.json()["actor"]["id"]
    if admit:
        admitted = await actors.client.post(
            f"/v1/actors/{actor_id}/admit", headers=territory.facilitator
        )
        assert admitted.status_code == 200, admitted.text
    auth = await token_for(actors.client, response.json()["api_key"]["key"])
    return {"id": actor_id, "email": body["email"], "auth": auth}


async def exchange(actors, token: str, actor_id: str | None = None):
    return await actors.client.post(
        "/v1/sign-in/sessions", json={"token": token, "actor_id": actor_id}
    )


async def ask_link(actors, email: str, return_to: str | None = None):
    return await actors.client.post(
        "/v1/sign-in/links", json={"email": email, "return_to": return_to}
    )


async def signed_in(
    actors, mailbox: Mailbox, email: str, actor_id: str | None = None
) -> dict[str, Any]:
    """Ask for a link, read it in the mail, exchange it: the session grant."""
    seen = len(mailbox.to(email))
    assert (await ask_link(actors, email)).status_code == 202
    response = await exchange(actors, await mailbox.link_to(email, seen=seen), actor_id)
    assert response.status_code == 200, response.text
    grant: dict[str, Any] = response.json()
    return grant


async def sessions_of(actors, email: str) -> int:
    """Sessions of the person with this e-mail (the service is shared by the package's tests)."""
    count: int = await actors.pool.fetchval(
        "SELECT count(*) FROM sessions s JOIN people p ON p.id = s.person_id"
        " WHERE lower(p.email) = lower($1)",
        email,
    )
    return count


async def session_events(kafka: str, actor_id: str, count: int) -> list[dict[str, Any]]:
    def enough(records: list[Any]) -> bool:
        return len(events_of(records, subject=actor_id, type="mcvt.session.ended.v1")) >= count

    records = await read_topic(kafka, "mcvt.actors", until=enough)
    return events_of(records, subject=actor_id, type="mcvt.session.ended.v1")


async def test_the_registrant_is_mailed_a_link_and_signs_in_while_pending(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox, admit=False, name="Garage solidaire")

    mail = await mailbox.next_to(someone["email"])
    assert mail["Subject"] == "Inscription de « Garage solidaire » sur MCVT"
    text = text_of(mail)
    assert "attend maintenant l'admission" in text and "15 minutes" in text
    assert f"{actors.settings.portal_url}/connexion/" in text
    response = await exchange(actors, await mailbox.link_to(someone["email"]))

    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 900
    assert grant["person"]["email"] == someone["email"] and grant["actor_id"] == someone["id"]
    assert grant["memberships"] == [
        {
            "actor_id": someone["id"],
            "actor_name": "Garage solidaire",
            "role": "admin",
            "status": "pending",
        }
    ]
    claims = jwt.decode(grant["access_token"], options={"verify_signature": False})
    assert claims["sub"] == someone["id"] and claims["person"] == grant["person"]["id"]
    assert claims["key"].startswith("ses_") and claims["territory"] == territory.id
    # Pending: it reads its own actor, nothing else.
    me = await actors.client.get("/v1/actors/me", headers=bearer(grant))
    assert me.status_code == 200 and me.json()["status"] == "pending"
    assert (await actors.client.get("/v1/actors", headers=bearer(grant))).status_code == 403
    # Only digests are stored.
    stored = await actors.pool.fetchval("SELECT count(*) FROM refresh_tokens")
    assert stored == 1
    raw = grant["refresh_token"].encode()
    hits = await actors.pool.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE token_hash = $1", raw
    )
    assert hits == 0


async def test_a_link_serves_once(actors, territory, mailbox) -> None:
    someone = await register(actors, territory, mailbox)
    token = await mailbox.link_to(someone["email"])

    first = await exchange(actors, token)
    second = await exchange(actors, token)

    assert first.status_code == 200
    assert second.status_code == 401
    assert second.headers["content-type"] == "application/problem+json"
    assert await sessions_of(actors, someone["email"]) == 1


async def test_a_link_expires_after_15_minutes(actors, territory, mailbox, monkeypatch) -> None:
    someone = await register(actors, territory, mailbox)
    late_token = await mailbox.link_to(someone["email"])
    assert (await ask_link(actors, someone["email"])).status_code == 202
    timely_token = await mailbox.link_to(someone["email"], seen=1)
    asked_at = clock.now()

    monkeypatch.setattr(clock, "now", lambda: asked_at + timedelta(minutes=14))
    assert (await exchange(actors, timely_token)).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: asked_at + timedelta(minutes=15, seconds=1))
    refused = await exchange(actors, late_token)

    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


async def test_asking_for_a_link_reveals_nothing_about_the_email(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox)
    await mailbox.next_to(someone["email"])  # the registration mail
    unknown = f"inconnu-{uuid.uuid4().hex[:8]}@example.org"
    links_before = await actors.pool.fetchval("SELECT count(*) FROM sign_in_links")

    for_unknown = await ask_link(actors, unknown)
    for_known = await ask_link(actors, someone["email"].upper(), return_to="/offres")

    assert (for_unknown.status_code, for_unknown.json()) == (for_known.status_code, {})
    assert for_known.status_code == 202 and for_known.json() == {}
    assert for_unknown.headers["content-type"] == for_known.headers["content-type"]
    # The known one's mail arrives; the unknown one, asked first, got none and no link.
    mail = await mailbox.next_to(someone["email"], seen=1)
    assert mail["Subject"] == "Votre lien de connexion à MCVT"
    assert mailbox.to(unknown) == []
    assert await actors.pool.fetchval("SELECT count(*) FROM sign_in_links") == links_before + 1
    grant = (await exchange(actors, await mailbox.link_to(someone["email"], seen=1))).json()
    assert grant["return_to"] == "/offres"


async def test_links_cannot_send_people_to_another_site(actors, territory) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = await ask_link(actors, "x@example.org", return_to=target)
        assert response.status_code == 422, target
        assert response.json()["errors"][0]["field"] == "return_to"


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    actors, territory, mailbox, kafka
) -> None:
    someone = await register(actors, territory, mailbox)
    first = await signed_in(actors, mailbox, someone["email"])

    rotated = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["actor_id"] == someone["id"] and second["person"] == first["person"]
    assert (await actors.client.get("/v1/actors/me", headers=bearer(second))).status_code == 200

    # The old refresh token again (a stolen copy): refused, and the whole session ends.
    replayed = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replayed.status_code == 401
    latest = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert latest.status_code == 401
    for grant in (first, second):
        me = await actors.client.get("/v1/actors/me", headers=bearer(grant))
        assert me.status_code == 401
    (event,) = await session_events(kafka, someone["id"], 1)
    claims = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert event["data"] == {
        "session_id": claims["key"],
        "actor_id": someone["id"],
        "territory_id": territory.id,
        "person_id": first["person"]["id"],
        "reason": "refresh_reused",
    }
    assert someone["email"] not in json.dumps(event)


async def test_signing_out_ends_the_session(actors, territory, mailbox, kafka) -> None:
    someone = await register(actors, territory, mailbox)
    grant = await signed_in(actors, mailbox, someone["email"])

    out = await actors.client.post("/v1/sign-out", json={"refresh_token": grant["refresh_token"]})

    assert out.status_code == 204
    assert (await actors.client.get("/v1/actors/me", headers=bearer(grant))).status_code == 401
    again = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": grant["refresh_token"]}
    )
    assert again.status_code == 401
    (event,) = await session_events(kafka, someone["id"], 1)
    assert event["data"]["reason"] == "signed_out"


async def test_suspension_ends_sessions_for_good(actors, territory, mailbox, kafka) -> None:
    someone = await register(actors, territory, mailbox)
    grant = await signed_in(actors, mailbox, someone["email"])
    url = f"/v1/actors/{someone['id']}"

    suspended = await actors.client.post(
        f"{url}/suspend", json={"reason": "fraude"}, headers=territory.facilitator
    )
    assert suspended.status_code == 200
    refreshed = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": grant["refresh_token"]}
    )
    assert refreshed.status_code == 401
    # A reinstatement does not bring the session back; a new sign-in is needed.
    await actors.client.post(f"{url}/reinstate", headers=territory.facilitator)
    assert (await actors.client.get("/v1/actors/me", headers=bearer(grant))).status_code == 401
    (event,) = await session_events(kafka, someone["id"], 1)
    assert event["data"]["reason"] == "actor_suspended"
    assert (await signed_in(actors, mailbox, someone["email"]))["actor_id"] == someone["id"]


async def test_a_suspended_actor_gives_no_session(actors, territory, mailbox) -> None:
    someone = await register(actors, territory, mailbox)
    await actors.client.post(
        f"/v1/actors/{someone['id']}/suspend", json={"reason": "x"}, headers=territory.facilitator
    )
    assert (await ask_link(actors, someone["email"])).status_code == 202

    response = await exchange(actors, await mailbox.link_to(someone["email"], seen=1))

    assert response.status_code == 403


async def invite(actors, actor_id: str, auth: dict[str, str], **body: Any):
    person = {"email": f"p-{uuid.uuid4().hex[:8]}@example.org", "name": "Camille", **body}
    return await actors.client.post(f"/v1/actors/{actor_id}/people", json=person, headers=auth)


async def test_an_invited_person_signs_in_and_acts_for_the_actor(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox, name="Régie de quartier")
    admin = await signed_in(actors, mailbox, someone["email"])

    invited = await invite(actors, someone["id"], bearer(admin), name="Camille Roux")

    assert invited.status_code == 201, invited.text
    person = invited.json()
    assert person["role"] == "member" and person["name"] == "Camille Roux"
    mail = await mailbox.next_to(person["email"])
    assert mail["Subject"] == "Régie de quartier vous invite sur MCVT"
    assert "Bonjour Camille Roux," in text_of(mail)
    grant = (await exchange(actors, await mailbox.link_to(person["email"]))).json()
    assert grant["actor_id"] == someone["id"] and grant["person"]["id"] == person["id"]
    change = {"description": "Ouvert le samedi"}
    changed = await actors.client.patch(
        f"/v1/actors/{someone['id']}", json=change, headers=bearer(grant)
    )
    assert changed.status_code == 200 and changed.json()["description"] == "Ouvert le samedi"
    directory = await actors.client.get("/v1/actors", headers=bearer(grant))
    assert directory.status_code == 200
    people = await actors.client.get(f"/v1/actors/{someone['id']}/people", headers=bearer(grant))
    assert people.status_code == 200
    assert [(p["email"], p["role"]) for p in people.json()] == [
        (someone["email"], "admin"),
        (person["email"], "member"),
    ]


async def test_only_admins_invite_and_remove(actors, territory, mailbox) -> None:
    someone = await register(actors, territory, mailbox)
    admin = await signed_in(actors, mailbox, someone["email"])
    member = (await invite(actors, someone["id"], bearer(admin))).json()
    member_grant = (await exchange(actors, await mailbox.link_to(member["email"]))).json()
    people_url = f"/v1/actors/{someone['id']}/people"
    admin_id = admin["person"]["id"]

    by_member = await invite(actors, someone["id"], bearer(member_grant))
    removal_by_member = await actors.client.delete(
        f"{people_url}/{admin_id}", headers=bearer(member_grant)
    )
    by_key = await invite(actors, someone["id"], someone["auth"])
    key_by_member = await actors.client.post(
        f"/v1/actors/{someone['id']}/api-keys", json={"label": "x"}, headers=bearer(member_grant)
    )

    assert [r.status_code for r in (by_member, removal_by_member, by_key, key_by_member)] == [
        403,
        403,
        403,
        403,
    ]
    assert len((await actors.client.get(people_url, headers=bearer(admin))).json()) == 2
    # Another actor's people see nothing of these.
    other = await register(actors, territory, mailbox)
    other_grant = await signed_in(actors, mailbox, other["email"])
    assert (await actors.client.get(people_url, headers=bearer(other_grant))).status_code == 403
    assert (await invite(actors, someone["id"], bearer(other_grant))).status_code == 403
    # The admin may.
    removed = await actors.client.delete(f"{people_url}/{member['id']}", headers=bearer(admin))
    assert removed.status_code == 204
    assert len((await actors.client.get(people_url, headers=bearer(admin))).json()) == 1


async def test_the_last_admin_cannot_be_removed(actors, territory, mailbox, kafka) -> None:
    someone = await register(actors, territory, mailbox)
    first = await signed_in(actors, mailbox, someone["email"])
    people_url = f"/v1/actors/{someone['id']}/people"

    first_url = f"{people_url}/{first['person']['id']}"
    alone = await actors.client.delete(first_url, headers=bearer(first))
    assert alone.status_code == 409 and alone.json()["errors"][0]["field"] == "person_id"

    second = (await invite(actors, someone["id"], bearer(first), role="admin")).json()
    second_grant = (await exchange(actors, await mailbox.link_to(second["email"]))).json()
    removed = await actors.client.delete(first_url, headers=bearer(second_grant))
    assert removed.status_code == 204
    # The removed person's session ends, and they no longer sign in for this actor.
    assert (await actors.client.get("/v1/actors/me", headers=bearer(first))).status_code == 401
    (event,) = await session_events(kafka, someone["id"], 1)
    assert event["data"]["reason"] == "person_removed"
    assert (await ask_link(actors, someone["email"])).status_code == 202
    token = await mailbox.link_to(someone["email"], seen=2)
    assert (await exchange(actors, token)).status_code == 403
    last = await actors.client.delete(f"{people_url}/{second['id']}", headers=bearer(second_grant))
    assert last.status_code == 409


async def test_a_person_of_several_actors_picks_the_one_to_act_for(
    actors, territory, mailbox
) -> None:
    pending = await register(actors, territory, mailbox, admit=False, name="En attente")
    admitted = await register(actors, territory, mailbox, name="Admis")
    admin = await signed_in(actors, mailbox, admitted["email"])
    # The pending actor's registrant is invited into the admitted one.
    invited = await invite(actors, admitted["id"], bearer(admin), email=pending["email"])
    assert invited.status_code == 201
    await mailbox.next_to(pending["email"], seen=1)

    by_default = await signed_in(actors, mailbox, pending["email"])
    assert by_default["actor_id"] == admitted["id"]  # the first admitted one
    assert {m["actor_id"]: m["role"] for m in by_default["memberships"]} == {
        pending["id"]: "admin",
        admitted["id"]: "member",
    }
    chosen = await signed_in(actors, mailbox, pending["email"], actor_id=pending["id"])
    assert chosen["actor_id"] == pending["id"]
    me = await actors.client.get("/v1/actors/me", headers=bearer(chosen))
    assert me.json()["id"] == pending["id"]

    # An actor they do not belong to: refused, and the link stays usable.
    assert (await ask_link(actors, pending["email"])).status_code == 202
    token = await mailbox.link_to(pending["email"], seen=4)
    stranger = await exchange(actors, token, territory.facilitator_id)
    assert stranger.status_code == 403 and stranger.json()["errors"][0]["field"] == "actor_id"
    assert (await exchange(actors, token, pending["id"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"email": "not-an-email"}, {"email": "a@b.example", "role": "owner"}, {"name": "X"}],
)
async def test_a_bad_invitation_names_its_field(actors, territory, mailbox, body) -> None:
    someone = await register(actors, territory, mailbox)
    admin = await signed_in(actors, mailbox, someone["email"])
    response = await actors.client.post(
        f"/v1/actors/{someone['id']}/people",
        json={"name": "X", **body},
        headers=bearer(admin),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] in ("email", "role")


async def test_export_names_the_actors_people_and_sessions_never_a_token(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox)
    grant = await signed_in(actors, mailbox, someone["email"])

    export = await actors.client.get("/v1/me/export", headers=bearer(grant))

    assert export.status_code == 200
    data = export.json()["data"]
    assert [(p["email"], p["role"]) for p in data["people"]] == [(someone["email"], "admin")]
    (session,) = data["sessions"]
    assert session["person_id"] == grant["person"]["id"] and session["ended_at"] is None
    assert grant["refresh_token"] not in export.text and "hash" not in export.text


async def test_erasure_forgets_the_people_who_belonged_to_nothing_else(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox)
    other = await register(actors, territory, mailbox)
    admin = await signed_in(actors, mailbox, someone["email"])
    other_admin = await signed_in(actors, mailbox, other["email"])
    only_here = (await invite(actors, someone["id"], bearer(admin))).json()
    # The other actor's admin is also a member here: they stay, for the other actor.
    both = await invite(actors, someone["id"], bearer(admin), email=other["email"])
    assert both.status_code == 201

    erased = await actors.client.delete("/v1/me", headers=bearer(admin))

    assert erased.status_code == 204
    emails = {r["email"] for r in await actors.pool.fetch("SELECT email FROM people")}
    assert someone["email"] not in emails and only_here["email"] not in emails
    assert other["email"] in emails
    assert (await actors.client.get("/v1/actors/me", headers=bearer(admin))).status_code == 401
    assert (
        await actors.client.get("/v1/actors/me", headers=bearer(other_admin))
    ).status_code == 200
    # A member erases nothing.
    member = (await invite(actors, other["id"], bearer(other_admin))).json()
    member_grant = (await exchange(actors, await mailbox.link_to(member["email"]))).json()
    assert (await actors.client.delete("/v1/me", headers=bearer(member_grant))).status_code == 403


async def test_two_exchanges_of_one_link_at_once_make_one_session(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox)
    token = await mailbox.link_to(someone["email"])

    answers = await asyncio.gather(*(exchange(actors, token) for _ in range(5)))

    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401]
    assert await sessions_of(actors, someone["email"]) == 1


async def test_a_session_not_refreshed_in_time_ends(
    actors, territory, mailbox, monkeypatch
) -> None:
    someone = await register(actors, territory, mailbox)
    grant = await signed_in(actors, mailbox, someone["email"])
    later = clock.now() + timedelta(seconds=actors.settings.refresh_ttl_s + 1)
    monkeypatch.setattr(clock, "now", lambda: later)

    refreshed = await actors.client.post(
        "/v1/sign-in/refresh", json={"refresh_token": grant["refresh_token"]}
    )

    assert refreshed.status_code == 401 and "expired" in refreshed.json()["detail"]


async def test_the_purge_forgets_what_can_no_longer_serve(
    actors, territory, mailbox, monkeypatch
) -> None:
    someone = await register(actors, territory, mailbox)
    ended = await signed_in(actors, mailbox, someone["email"])
    await actors.client.post("/v1/sign-out", json={"refresh_token": ended["refresh_token"]})
    live = await signed_in(actors, mailbox, someone["email"])
    assert (await ask_link(actors, someone["email"])).status_code == 202  # never used
    start = clock.now()

    async def rows() -> list[int]:
        """This person's sign-in links, refresh tokens and sessions (the service is shared)."""
        person = "(SELECT id FROM people WHERE lower(email) = lower($1))"
        return [
            await actors.pool.fetchval(query, someone["email"])
            for query in (
                f"SELECT count(*) FROM sign_in_links WHERE person_id = {person}",
                "SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
                f" WHERE s.person_id = {person}",
                f"SELECT count(*) FROM sessions WHERE person_id = {person}",
            )
        ]

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=16))
    await purge(actors.pool, Context("/mcvt/actors"), actors.settings)
    # Links are past use; the ended session's token is gone, the live one's stays.
    assert await rows() == [0, 1, 2]
    assert (
        await actors.client.post(
            "/v1/sign-in/refresh", json={"refresh_token": live["refresh_token"]}
        )
    ).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(days=91))
    await purge(actors.pool, Context("/mcvt/actors"), actors.settings)
    assert await rows() == [0, 0, 1]  # the live session's row stays, its tokens expired


async def test_a_person_reads_and_names_themselves_an_api_key_is_no_one(
    actors, territory, mailbox
) -> None:
    someone = await register(actors, territory, mailbox, name="Atelier partagé")
    grant = await signed_in(actors, mailbox, someone["email"])

    renamed = await actors.client.patch(
        "/v1/people/me", json={"name": "Dominique Favre"}, headers=bearer(grant)
    )
    me = await actors.client.get("/v1/people/me", headers=bearer(grant))

    assert renamed.status_code == 200 and renamed.json()["name"] == "Dominique Favre"
    assert me.status_code == 200
    assert me.json()["name"] == "Dominique Favre" and me.json()["email"] == someone["email"]
    assert [m["actor_name"] for m in me.json()["memberships"]] == ["Atelier partagé"]
    assert (await actors.client.get("/v1/people/me", headers=someone["auth"])).status_code == 403
    blank = await actors.client.patch("/v1/people/me", json={"name": ""}, headers=bearer(grant))
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "name"
