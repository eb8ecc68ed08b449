"""The audit chain: pages, verification naming the first broken entry, receipts, secret ballots."""

from __future__ import annotations

import hashlib
import json
import uuid

import rfc8785

from tests.governance_steps import Assembly, all_vote, assembly, client, close_early, propose, vote
from tests.harness import Stack


async def verify(stack: Stack, town: Assembly) -> dict[str, object]:
    response = await client(stack).get(
        f"/v1/territories/{town.territory.id}/audit/verify", headers=town.business.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def voted_and_closed(stack: Stack, **body: object) -> tuple[Assembly, dict[str, object]]:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator, **body)
    await all_vote(stack, town.everyone, str(opened["id"]), "yes")
    await close_early(stack, town, str(opened["id"]))
    return town, opened


async def test_the_chain_pages_through_and_verifies(stack: Stack) -> None:
    town, _ = await voted_and_closed(stack)
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client(stack).get(
            f"/v1/territories/{town.territory.id}/audit",
            params=params,
            headers=town.citizen.headers,
        )
        assert page.status_code == 200, page.text
        pages.append(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    entries = [entry for items in pages for entry in items]
    assert [e["content"]["type"] for e in entries] == [
        "proposal_opened",
        *["vote_cast"] * 4,
        "proposal_closed",
        "decision_made",
    ]
    previous = "0" * 64
    for entry in entries:  # anyone can recompute the chain from what the API shows
        body = rfc8785.dumps(entry["content"])
        assert entry["previous"] == previous
        assert hashlib.sha256(bytes.fromhex(previous) + body).hexdigest() == entry["hash"]
        previous = entry["hash"]
    assert all("name" not in json.dumps(e["content"]) for e in entries)  # ids only
    assert await verify(stack, town) == {
        "valid": True,
        "entries": 7,
        "head": previous,
        "first_broken": None,
        "reason": None,
    }
    other = await assembly(stack)
    refused = await client(stack).get(
        f"/v1/territories/{town.territory.id}/audit", headers=other.business.headers
    )
    assert refused.status_code == 403


async def test_a_changed_vote_row_breaks_verification_at_its_entry(stack: Stack) -> None:
    town, opened = await voted_and_closed(stack)
    seq = await stack.pool("governance").fetchval(
        """UPDATE votes SET choice = 'no' WHERE proposal_id = $1 AND voter_id = $2
           RETURNING audit_seq""",
        uuid.UUID(str(opened["id"])),
        uuid.UUID(town.authority.id),
    )
    result = await verify(stack, town)
    assert result["valid"] is False and result["first_broken"] == seq
    assert result["entries"] == seq - 1


async def test_a_changed_entry_breaks_verification_at_that_entry(stack: Stack) -> None:
    town, _ = await voted_and_closed(stack)
    territory = uuid.UUID(town.territory.id)
    body = await stack.pool("governance").fetchval(
        "SELECT body FROM audit_entries WHERE territory_id = $1 AND seq = 6", territory
    )
    forged = bytes(body).replace(b'"outcome":"adopted"', b'"outcome":"rejected"')
    assert forged != bytes(body)
    await stack.pool("governance").execute(
        "UPDATE audit_entries SET body = $2 WHERE territory_id = $1 AND seq = 6", territory, forged
    )
    result = await verify(stack, town)
    assert result["valid"] is False and result["first_broken"] == 6


async def test_a_receipt_finds_its_entry_and_a_secret_vote_shows_only_a_commitment(
    stack: Stack,
) -> None:
    town = await assembly(stack)
    opened = await propose(stack, town.facilitator, secret=True)
    cast = await vote(stack, town.citizen, opened["id"], "no")
    assert cast.status_code == 200
    receipt, salt = cast.json()["receipt"], cast.json()["salt"]

    found = await client(stack).get(
        f"/v1/territories/{town.territory.id}/audit/entries/{receipt}",
        headers=town.citizen.headers,
    )
    assert found.status_code == 200, found.text
    content = found.json()["content"]
    assert town.citizen.id not in json.dumps(content) and "choice" not in content
    mine = rfc8785.dumps({"proposal_id": opened["id"], "voter_id": town.citizen.id, "choice": "no"})
    assert content["commitment"] == hashlib.sha256(bytes.fromhex(salt) + mine).hexdigest()

    event = await stack.pool("governance").fetchval(
        "SELECT payload FROM outbox WHERE key = $1 AND event_type LIKE '%vote_cast%'",
        opened["id"],
    )
    data = json.loads(event)["data"]
    assert data["voter_id"] is None and data["choice"] is None and data["receipt"] == receipt
    assert (await verify(stack, town))["valid"] is True
    missing = await client(stack).get(
        f"/v1/territories/{town.territory.id}/audit/entries/{'0' * 64}",
        headers=town.citizen.headers,
    )
    assert missing.status_code == 404
