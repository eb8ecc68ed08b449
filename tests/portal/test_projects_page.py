"""Projets du territoire over HTTP: the adopted vision first, ideas supported with a button, the
projects by stage with what each still needs, a contribution pledged with the form."""

from __future__ import annotations

from typing import Any

from tests.portal.conftest import Portal, csrf_in, new_person, new_place, signed_in
from tests.portal.test_pages import text_of
from tests.service.projects.steps import decide
from tests.support import eventually


async def test_the_projects_page_shows_the_vision_ideas_and_needs_and_takes_a_pledge(
    portal: Portal,
) -> None:
    stack = portal.stack
    projects = stack["projects"].client
    place = await new_place(stack)
    facilitator = place.facilitator.member
    person = await new_person(stack, place.territory, kind="citizen", name="Jeanne Martin")
    drafted = await projects.post(
        "/v1/visions",
        json={
            "title": "Demain Petite Montagne",
            "themes": ["tourism", "environment"],
            "aims": ["Créer des emplois locaux"],
        },
        headers=facilitator.headers,
    )
    await decide(
        stack, place.territory.id, "free_motion", {"text": "", "vision_id": drafted.json()["id"]}
    )

    async def adopted() -> bool:
        found = await projects.get("/v1/visions/current", headers=facilitator.headers)
        return found.status_code == 200

    await eventually(adopted)
    idea = await projects.post(
        "/v1/ideas",
        json={"title": "Un garage solidaire", "theme": "shops_services"},
        headers=facilitator.headers,
    )
    made = await projects.post(
        "/v1/projects",
        json={"title": "Réemploi des bouteilles", "theme": "environment"},
        headers=facilitator.headers,
    )
    project: dict[str, Any] = made.json()

    async with signed_in(portal, person) as browser:
        page = await browser.get("/projets")
        assert page.status_code == 200, page.text
        words = text_of(page.text)
        assert words.index("Demain Petite Montagne") < words.index("Un garage solidaire")
        assert "Créer des emplois locaux" in words and "Réemploi des bouteilles" in words

        support = await browser.post(
            f"/projets/idees/{idea.json()['id']}/soutien", data={"csrf": csrf_in(page.text)}
        )
        assert support.status_code == 303
        again = await browser.get("/projets")
        assert "1 soutien" in text_of(again.text)

        detail = await browser.get(f"/projets/{project['id']}")
        assert detail.status_code == 200
        refused = await browser.post(
            f"/projets/{project['id']}/contributions",
            data={"kind": "asset", "amount": "3", "csrf": csrf_in(detail.text)},
        )
        assert refused.status_code == 422 and 'id="unit-error"' in refused.text
        pledged = await browser.post(
            f"/projets/{project['id']}/contributions",
            data={"kind": "money", "amount": "50,5", "note": "", "csrf": csrf_in(detail.text)},
        )
        assert pledged.status_code == 303, pledged.text

    listed = await projects.get(
        f"/v1/projects/{project['id']}/pledges", headers=facilitator.headers
    )
    [found] = listed.json()["items"]
    assert found["kind"] == "money" and found["amount"] == 5050
    assert found["contributor_id"] == person.id


async def test_the_projects_page_is_for_members(portal: Portal) -> None:
    async with portal.client() as browser:
        response = await browser.get("/projets")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?retour=%2Fprojets"
