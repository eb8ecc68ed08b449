"""Ideas over HTTP: submitted by any member, supported once per actor, duplicates grouped by a
facilitator; paging and errors."""

from __future__ import annotations

from tests.harness import Stack
from tests.scenario import new_member, new_territory
from tests.service.projects.steps import client, project, start, submit


def fields(response_json: dict[str, object]) -> list[object]:
    errors = response_json.get("errors")
    assert isinstance(errors, list)
    return [error["field"] for error in errors]


async def test_a_member_submits_an_idea_and_each_actor_supports_it_once(stack: Stack) -> None:
    town = await new_territory(stack)
    garage = await new_member(stack, town)
    idea = await submit(stack, garage)
    assert idea["supports"] == 0 and idea["submitted_by"] == garage.id

    first = await client(stack).post(f"/v1/ideas/{idea['id']}/supports", headers=garage.headers)
    again = await client(stack).post(f"/v1/ideas/{idea['id']}/supports", headers=garage.headers)
    other = await client(stack).post(
        f"/v1/ideas/{idea['id']}/supports", headers=town.facilitator.headers
    )

    assert first.status_code == 200 and first.json()["supports"] == 1
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert fields(again.json()) == ["idea_id"]
    assert other.json()["supports"] == 2
    rows = await stack.pool("projects").fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'mcvt.projects.idea_supported.v1' "
        "AND key = $1",
        idea["id"],
    )
    assert rows == 2


async def test_a_facilitator_groups_duplicates_and_their_supports_move_once(stack: Stack) -> None:
    town = await new_territory(stack)
    one = await new_member(stack, town)
    two = await new_member(stack, town, kind="citizen", name="Jeanne Martin")
    kept = await submit(stack, one, title="Consigne des bouteilles en verre")
    duplicate = await submit(stack, two, title="Réemployer les bouteilles")
    for member, idea in ((one, kept), (one, duplicate), (two, duplicate)):
        response = await client(stack).post(
            f"/v1/ideas/{idea['id']}/supports", headers=member.headers
        )
        assert response.status_code == 200, response.text

    refused = await client(stack).post(
        f"/v1/ideas/{kept['id']}/group",
        json={"duplicate_ids": [duplicate["id"]]},
        headers=one.headers,
    )
    grouped = await client(stack).post(
        f"/v1/ideas/{kept['id']}/group",
        json={"duplicate_ids": [duplicate["id"]]},
        headers=town.facilitator.headers,
    )

    assert refused.status_code == 403
    assert grouped.status_code == 200, grouped.text
    assert grouped.json()["supports"] == 2  # one per actor: `one` supported both
    listed = await client(stack).get("/v1/ideas", headers=two.headers)
    assert [i["id"] for i in listed.json()["items"]] == [kept["id"]]
    late = await client(stack).post(f"/v1/ideas/{duplicate['id']}/supports", headers=two.headers)
    assert late.status_code == 409
    linked = await client(stack).post(
        "/v1/projects", json=project(idea_ids=[duplicate["id"]]), headers=two.headers
    )
    assert linked.status_code == 409 and fields(linked.json()) == ["idea_ids"]
    assert kept["id"] in linked.json()["detail"]  # the idea to link instead
    assert (await start(stack, two, idea_ids=[kept["id"]]))["idea_ids"] == [kept["id"]]


async def test_ideas_page_with_a_cursor_and_filter_by_theme(stack: Stack) -> None:
    town = await new_territory(stack)
    member = await new_member(stack, town)
    made = [await submit(stack, member, title=f"Idée {n}") for n in range(3)]
    await submit(stack, member, title="Sentier", theme="tourism")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "theme": "shops_services"}
        if cursor:
            params["cursor"] = cursor
        page = (await client(stack).get("/v1/ideas", params=params, headers=member.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [idea["id"] for idea in reversed(made)]


async def test_bad_input_is_a_problem_naming_the_field(stack: Stack) -> None:
    town = await new_territory(stack)
    member = await new_member(stack, town)
    theme = await client(stack).post(
        "/v1/ideas", json={"title": "x", "theme": "space"}, headers=member.headers
    )
    cursor = await client(stack).get("/v1/ideas?cursor=nope", headers=member.headers)
    unknown = await client(stack).post(
        "/v1/ideas", json={"title": "x", "theme": "tourism", "votes": 3}, headers=member.headers
    )

    assert theme.status_code == 422 and fields(theme.json()) == ["theme"]
    assert cursor.status_code == 422 and fields(cursor.json()) == ["cursor"]
    assert unknown.status_code == 422 and fields(unknown.json()) == ["votes"]
