"""A project's stages: only its carriers or a facilitator move it, a trial comes from the vote,
no harvest without evaluation; every change says who and why."""

from __future__ import annotations

from tests.harness import Stack
from tests.scenario import new_member, new_territory
from tests.service.projects.steps import (
    client,
    decide,
    evaluation,
    get,
    in_trial,
    move,
    start,
    submit,
)
from tests.support import eventually


async def test_a_project_goes_from_idea_to_harvest_through_a_vote_and_an_evaluation(
    stack: Stack,
) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    idea = await submit(stack, carrier)
    project = await start(stack, carrier, idea_ids=[idea["id"]])
    assert project["stage"] == "idea" and project["carrier_ids"] == [carrier.id]
    assert project["idea_ids"] == [idea["id"]]

    trial = await in_trial(stack, carrier, project["id"])
    by_vote = trial["history"][-1]
    assert by_vote["changed_by"] is None and by_vote["decision_id"] is not None

    evaluated = await client(stack).post(
        f"/v1/projects/{project['id']}/evaluation", json=evaluation(), headers=carrier.headers
    )
    assert evaluated.status_code == 201, evaluated.text
    assert evaluated.json()["evaluation"]["jobs_created"] == 1
    harvested = await move(stack, carrier, project["id"], "harvested", "Le garage est pérenne.")

    assert harvested.status_code == 200, harvested.text
    history = harvested.json()["history"]
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        ("idea", "prepared"),
        ("prepared", "trial"),
        ("trial", "evaluated"),
        ("evaluated", "harvested"),
    ]
    assert history[-1]["changed_by"] == carrier.id
    assert history[-1]["reason"] == "Le garage est pérenne."
    types = await stack.pool("projects").fetch(
        "SELECT event_type FROM outbox WHERE key = $1 ORDER BY seq", project["id"]
    )
    assert [row["event_type"] for row in types] == [
        "mcvt.projects.project_created.v1",
        *["mcvt.projects.stage_changed.v1"] * 3,
        "mcvt.projects.project_evaluated.v1",
        "mcvt.projects.stage_changed.v1",
    ]


async def test_only_carriers_or_facilitators_move_a_stage(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    neighbour = await new_member(stack, town, kind="citizen", name="Jeanne Martin")
    project = await start(stack, carrier)

    refused = await move(stack, neighbour, project["id"], "prepared")
    unexplained = await move(stack, carrier, project["id"], "prepared", reason="  ")
    by_facilitator = await move(stack, town.facilitator, project["id"], "prepared")
    evaluation_refused = await client(stack).post(
        f"/v1/projects/{project['id']}/evaluation", json=evaluation(), headers=neighbour.headers
    )

    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "stage"
    assert unexplained.status_code == 422, unexplained.text  # a move says why
    assert unexplained.json()["errors"][0]["field"] == "reason"
    assert by_facilitator.status_code == 200
    assert evaluation_refused.status_code == 403
    assert (await get(stack, carrier, project["id"]))["stage"] == "prepared"


async def test_a_co_carrier_moves_it_too(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    partner = await new_member(stack, town, kind="association", name="Les Amis du Verre")
    project = await start(stack, carrier, carrier_ids=[partner.id])

    moved = await move(stack, partner, project["id"], "prepared")

    assert moved.status_code == 200, moved.text
    assert sorted(project["carrier_ids"]) == sorted([carrier.id, partner.id])


async def test_no_harvest_without_evaluation_and_no_trial_by_hand(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    project = await start(stack, carrier)

    harvest = await move(stack, carrier, project["id"], "harvested")
    trial = await move(stack, carrier, project["id"], "trial")
    evaluated = await move(stack, carrier, project["id"], "evaluated")
    early = await client(stack).post(
        f"/v1/projects/{project['id']}/evaluation", json=evaluation(), headers=carrier.headers
    )

    assert harvest.status_code == 409 and "évaluation" in harvest.json()["detail"]
    assert trial.status_code == 409 and evaluated.status_code == 409
    assert early.status_code == 409
    await in_trial(stack, carrier, project["id"])
    from_trial = await move(stack, carrier, project["id"], "harvested")
    assert from_trial.status_code == 409
    assert (await get(stack, carrier, project["id"]))["stage"] == "trial"


async def test_a_dropped_project_stays_dropped(stack: Stack) -> None:
    town = await new_territory(stack)
    carrier = await new_member(stack, town)
    project = await start(stack, carrier)
    dropped = await move(stack, carrier, project["id"], "dropped", "Pas de local disponible.")
    back = await move(stack, carrier, project["id"], "idea")
    pledge = await client(stack).post(
        f"/v1/projects/{project['id']}/pledges",
        json={"kind": "time", "amount": 4},
        headers=carrier.headers,
    )

    assert dropped.status_code == 200 and back.status_code == 409
    assert pledge.status_code == 409


async def test_a_decision_moves_only_prepared_projects_of_its_territory(stack: Stack) -> None:
    town = await new_territory(stack)
    elsewhere = await new_territory(stack)
    carrier = await new_member(stack, town)
    stranger = await new_member(stack, elsewhere)
    still_idea = await start(stack, carrier, title="Encore une idée")
    foreign = await start(stack, stranger, title="Ailleurs")
    assert (await move(stack, stranger, foreign["id"], "prepared")).status_code == 200
    chosen = await start(stack, carrier, title="Choisi")

    # One decision of `town` naming all three: only its own prepared project goes to trial.
    await move(stack, carrier, chosen["id"], "prepared")
    await decide(
        stack,
        town.id,
        "select_for_trial",
        {"project_id": "vision", "selected_ids": [still_idea["id"], foreign["id"], chosen["id"]]},
    )

    async def moved() -> bool:
        return (await get(stack, carrier, chosen["id"]))["stage"] == "trial"

    await eventually(moved)
    assert (await get(stack, carrier, still_idea["id"]))["stage"] == "idea"
    assert (await get(stack, stranger, foreign["id"]))["stage"] == "prepared"
