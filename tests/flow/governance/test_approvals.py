"""A new agreement on a public asset, in a territory whose rule asks for approval: governance
opens the approval proposal itself, once, and its decision goes out for agreements to apply."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from contracts.agreements import AgreementCreatedV1
from contracts.envelope import new_event
from contracts.topics import Topic
from tests.flow.matching.steps import Flow
from tests.governance_steps import all_vote, assembly, client, close_early
from tests.support import eventually, produce


def created(
    territory_id: str, provider_id: str, beneficiary_id: str, *, public: bool
) -> AgreementCreatedV1:
    now = datetime.now(UTC)
    agreement = AgreementCreatedV1.model_validate(
        {
            "agreement_id": str(uuid.uuid4()),
            "territory_id": territory_id,
            "provider_id": provider_id,
            "beneficiary_id": beneficiary_id,
            "match_id": str(uuid.uuid4()),
            "offer_id": str(uuid.uuid4()),
            "need_id": str(uuid.uuid4()),
            "asset_id": str(uuid.uuid4()),
            "offer_version": 1,
            "need_version": 1,
            "category": "meeting_room",
            "status": "draft",
            "approval": "pending" if public else "not_required",
            "terms": {
                "version": 1,
                "quantity": 1,
                "unit": "seat",
                "price": {"model": "free", "unit_amount": 0, "amount_unit": "eur_cents"},
                "clause": {},
                "ends_at": now + timedelta(days=60),
            },
            "ends_at": now + timedelta(days=60),
            "version": 1,
            "public_asset": public,
            "awaits_approval": public,
            "lapses_at": now + timedelta(days=14),
        }
    )
    return agreement


def envelope(agreement: AgreementCreatedV1) -> bytes:
    """A new envelope each time: an event id the inbox has not seen."""
    event = new_event(
        agreement,
        subject=agreement.agreement_id,
        territory=agreement.territory_id,
        source="/mcvt/agreements",
    )
    return event.model_dump_json().encode()


async def test_an_agreement_on_a_public_asset_is_put_to_the_vote_once(flow: Flow) -> None:
    stack = flow.stack
    town = await assembly(stack)
    public = created(town.territory.id, town.authority.id, town.business.id, public=True)
    private = created(town.territory.id, town.business.id, town.citizen.id, public=False)
    agreement_id = public.agreement_id
    # The public one twice, as two events (as if agreements published it again).
    values = [envelope(agreement) for agreement in (public, public, private)]
    for value in values:  # one key, one partition: taken in this order
        await produce(stack.kafka, Topic.AGREEMENTS, value, key=agreement_id.encode())
    last = json.loads(values[-1])["id"]

    async def all_taken() -> bool:
        return bool(
            await stack.pool("governance").fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = $1", last
            )
        )

    async def opened() -> list[dict[str, object]] | None:
        listed = await client(stack).get("/v1/proposals", headers=town.business.headers)
        items = listed.json()["items"]
        return items or None

    await eventually(all_taken)
    [proposal] = await eventually(opened)
    assert proposal["kind"] == "approve_public_asset_agreement"
    assert proposal["subject_id"] == agreement_id
    assert proposal["parameters"] == {"agreement_id": agreement_id}
    assert proposal["electorate"] == 4

    await all_vote(stack, town.everyone, str(proposal["id"]), "yes")
    closed = await close_early(stack, town, str(proposal["id"]))
    assert closed["tally"]["outcome"] == "adopted"
    sent = await stack.pool("governance").fetchval(
        """SELECT convert_from(payload, 'UTF8') FROM outbox
           WHERE key = $1 AND event_type = 'mcvt.governance.decision_made.v1'""",
        str(proposal["id"]),
    )
    decision = json.loads(sent)["data"]
    assert decision["kind"] == "approve_public_asset_agreement"
    assert decision["subject_id"] == agreement_id and decision["outcome"] == "adopted"
    listed = await client(stack).get("/v1/proposals", headers=town.business.headers)
    assert len(listed.json()["items"]) == 1  # the second event and the private one opened none
