"""What carriers, members and facilitators do from the Projets du territoire pages, over HTTP in
front of the real services: start a project from ideas, move its stage with a reason, confirm a
pledge, evaluate its trial, open a need for it; draft the territory's vision and put it to a
free motion; dropped projects apart and the listings paged. Each form is shown only to whom may
use it, and the API's refusal is shown next to the field."""

from __future__ import annotations

import re
from typing import Any

from tests.portal.conftest import Person, Portal, csrf_in, new_person, new_place, signed_in
from tests.portal.test_pages import NEED_FORM, text_of
from tests.portal.test_votes_pages import in_paris
from tests.service.projects.steps import in_trial, start, submit
from tests.support import eventually


async def _project(portal: Portal, person: Person) -> dict[str, Any]:
    return await start(portal.stack, person.member)


async def project_of(portal: Portal, person: Person, project_id: str) -> dict[str, Any]:
    found = await portal.stack["projects"].client.get(
        f"/v1/projects/{project_id}", headers=person.member.headers
    )
    assert found.status_code == 200, found.text
    return dict(found.json())


async def test_a_member_starts_a_project_from_the_ideas_it_selects(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    person = await new_person(stack, place.territory, kind="citizen", name="Jeanne")
    idea = await submit(stack, place.facilitator.member, title="Un garage solidaire")
    other = await submit(stack, place.facilitator.member, title="Une ressourcerie")

    async with signed_in(portal, person) as browser:
        listing = await browser.get("/projets")
        assert 'href="/projets/nouveau"' in listing.text
        assert f'href="/projets/nouveau?idee={idea["id"]}"' in listing.text
        form = await browser.get(f"/projets/nouveau?idee={idea['id']}")
        assert form.status_code == 200
        # The idea it was started from is ticked; the others are offered.
        assert re.search(rf'value="{idea["id"]}" checked', form.text)
        assert re.search(rf'value="{other["id"]}">', form.text)
        refused = await browser.post(
            "/projets/nouveau",
            data={"title": "", "theme": "shops_services", "csrf": csrf_in(form.text)},
        )
        assert refused.status_code == 422 and 'id="title-error"' in refused.text
        started = await browser.post(
            "/projets/nouveau",
            data={
                "title": "Garage solidaire de Saint-Julien",
                "description": "Un atelier partagé.",
                "theme": "shops_services",
                "idea_ids": [idea["id"], other["id"]],
                "csrf": csrf_in(form.text),
            },
        )
        assert started.status_code == 303, started.text
        found = re.fullmatch(r"/projets/([0-9a-f-]{36})", started.headers["location"])
        assert found
        page = await browser.get(started.headers["location"])
    assert "Projet lancé" in text_of(page.text)
    project = await project_of(portal, person, found.group(1))
    assert project["carrier_ids"] == [person.id]
    assert sorted(project["idea_ids"]) == sorted([idea["id"], other["id"]])


async def test_carriers_move_the_stage_with_a_reason_and_others_are_not_offered_it(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    carrier = await new_person(stack, place.territory, kind="association", name="Garage")
    other = await new_person(stack, place.territory, kind="citizen", name="Paul")
    project = await _project(portal, carrier)
    path = f"/projets/{project['id']}"

    async with signed_in(portal, other) as browser:
        page = await browser.get(path)
        assert page.status_code == 200
        assert f'action="{path}/etape"' not in page.text
        # Forged anyway: the API refuses, and its reason is shown by the field.
        forged = await browser.post(
            f"{path}/etape",
            data={"stage": "prepared", "reason": "Je décide.", "csrf": csrf_in(page.text)},
        )
    assert forged.status_code == 403
    assert re.search(r'id="stage-error">seuls les porteurs du projet', forged.text)

    async with signed_in(portal, carrier) as browser:
        page = await browser.get(path)
        assert f'action="{path}/etape"' in page.text
        offered = re.findall(r'<option value="(\w+)"', page.text.split('id="stage"')[1])
        # Prepared or dropped by hand; the trial by a vote only, the harvest after evaluation.
        assert offered[:2] == ["prepared", "dropped"]
        no_reason = await browser.post(
            f"{path}/etape", data={"stage": "prepared", "csrf": csrf_in(page.text)}
        )
        assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text
        harvest = await browser.post(
            f"{path}/etape",
            data={"stage": "harvested", "reason": "Fini.", "csrf": csrf_in(page.text)},
        )
        assert harvest.status_code == 409
        assert re.search(r'id="stage-error">pas de récolte sans évaluation', harvest.text)
        moved = await browser.post(
            f"{path}/etape",
            data={"stage": "prepared", "reason": "L'équipe est prête.", "csrf": csrf_in(page.text)},
        )
        assert moved.status_code == 303, moved.text
        after = await browser.get(path)
    assert "étape : Prêts pour l'essai" in text_of(after.text)
    found = await project_of(portal, carrier, project["id"])
    assert found["stage"] == "prepared"
    assert found["history"][-1]["reason"] == "L'équipe est prête."
    assert found["history"][-1]["changed_by"] == carrier.id


async def test_carriers_confirm_a_pledged_contribution(portal: Portal) -> None:
    stack = portal.stack
    projects = stack["projects"].client
    place = await new_place(stack)
    carrier = await new_person(stack, place.territory, kind="association", name="Garage")
    giver = await new_person(stack, place.territory, kind="citizen", name="Paul")
    project = await _project(portal, carrier)
    path = f"/projets/{project['id']}"
    pledged = await projects.post(
        f"/v1/projects/{project['id']}/pledges",
        json={"kind": "time", "amount": 12, "note": "Les samedis"},
        headers=giver.member.headers,
    )
    pledge = pledged.json()
    confirm = f"{path}/contributions/{pledge['id']}/confirmer"

    async with signed_in(portal, giver) as browser:
        page = await browser.get(path)
        assert f'action="{confirm}"' not in page.text
    async with signed_in(portal, carrier) as browser:
        page = await browser.get(path)
        assert f'action="{confirm}"' in page.text and "Les samedis" in text_of(page.text)
        done = await browser.post(confirm, data={"csrf": csrf_in(page.text)})
        assert done.status_code == 303, done.text
        after = await browser.get(path)
        assert f'action="{confirm}"' not in after.text
        again = await browser.post(confirm, data={"csrf": csrf_in(page.text)})
    assert "Contribution confirmée" in text_of(after.text)
    assert again.status_code == 409
    assert re.search(
        rf'id="{pledge["id"]}-error">cette contribution est déjà confirmée', again.text
    )
    listed = await projects.get(
        f"/v1/projects/{project['id']}/pledges", headers=carrier.member.headers
    )
    [found] = listed.json()["items"]
    assert found["status"] == "fulfilled" and found["confirmed_by"] == carrier.id


EVALUATION_FORM = {
    "summary": "Six mois d'essai : 40 voitures réparées.",
    "ind_name_0": "Voitures réparées",
    "ind_unit_0": "voitures",
    "ind_target_0": "30",
    "ind_measured_0": "40",
    "ind_name_1": "",
    "jobs_created": "1",
    "jobs_consolidated": "0,5",
    "people_served": "40",
    "value_created": "12 000,50",
}


async def test_carriers_evaluate_the_trial_with_its_indicators_and_figures(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    carrier = await new_person(stack, place.territory, kind="association", name="Garage")
    other = await new_person(stack, place.territory, kind="citizen", name="Paul")
    project = await _project(portal, carrier)
    await in_trial(stack, carrier.member, project["id"])
    path = f"/projets/{project['id']}"

    async with signed_in(portal, other) as browser:
        page = await browser.get(path)
        assert f'href="{path}/evaluation"' not in page.text
        assert (await browser.get(f"{path}/evaluation")).status_code == 403
    async with signed_in(portal, carrier) as browser:
        page = await browser.get(path)
        assert f'href="{path}/evaluation"' in page.text
        # Only the move the API allows from a trial: dropping it.
        assert re.findall(r'<option value="(\w+)"', page.text.split('id="stage"')[1])[:1] == [
            "dropped"
        ]
        form = await browser.get(f"{path}/evaluation")
        assert form.status_code == 200
        no_summary = await browser.post(
            f"{path}/evaluation",
            data={**EVALUATION_FORM, "summary": " ", "csrf": csrf_in(form.text)},
        )
        assert no_summary.status_code == 422 and 'id="summary-error"' in no_summary.text
        wrong = await browser.post(
            f"{path}/evaluation",
            data={**EVALUATION_FORM, "ind_target_0": "beaucoup", "csrf": csrf_in(form.text)},
        )
        assert wrong.status_code == 422
        assert 'id="ind_target_0-error">Saisissez un nombre.<' in wrong.text
        assert 'value="beaucoup"' in wrong.text
        done = await browser.post(
            f"{path}/evaluation", data={**EVALUATION_FORM, "csrf": csrf_in(form.text)}
        )
        assert done.status_code == 303, done.text
        after = await browser.get(path)
    words = text_of(after.text)
    assert "étape : Évalués" in words and "Emplois créés : 1 ; consolidés : 0,5" in words
    assert "harvested" in re.findall(r'<option value="(\w+)"', after.text.split('id="stage"')[1])
    evaluation = (await project_of(portal, carrier, project["id"]))["evaluation"]
    assert evaluation["indicators"] == [
        {"name": "Voitures réparées", "unit": "voitures", "target": 30, "measured": 40}
    ]
    assert evaluation["jobs_created"] == 1 and evaluation["jobs_consolidated"] == 0.5
    assert evaluation["people_served"] == 40
    assert evaluation["value_created_cents"] == 1_200_050


async def test_a_carrier_opens_a_need_that_the_project_then_still_needs(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    carrier = await new_person(stack, place.territory, kind="association", name="Garage")
    other = await new_person(stack, place.territory, kind="citizen", name="Paul")
    project = await _project(portal, carrier)
    path = f"/projets/{project['id']}"
    opening = f"/besoins/nouveau?projet={project['id']}"

    async with signed_in(portal, other) as browser:
        page = await browser.get(path)
        assert f'href="{opening}"' not in page.text
    async with signed_in(portal, carrier) as browser:
        page = await browser.get(path)
        assert f'href="{opening}"' in page.text
        form = await browser.get(opening)
        assert form.status_code == 200
        assert f'name="project_id" value="{project["id"]}"' in form.text
        assert project["title"] in text_of(form.text)
        data = {**NEED_FORM, "title": "Un pont élévateur", "project_id": project["id"]}
        wrong = await browser.post(
            "/besoins/nouveau", data={**data, "quantity": "-1", "csrf": csrf_in(form.text)}
        )
        # Refused: the form comes back for the same project.
        assert wrong.status_code == 422 and 'id="quantity-error"' in wrong.text
        assert f'name="project_id" value="{project["id"]}"' in wrong.text
        opened = await browser.post("/besoins/nouveau", data={**data, "csrf": csrf_in(form.text)})
        assert opened.status_code == 303, opened.text
        assert opened.headers["location"] == path

        async def still_needed() -> str | None:
            shown = await browser.get(path)
            words = text_of(shown.text.split("Ce qu'il lui manque encore")[1])
            return (
                words if "Un pont élévateur" in words.split("Contributions promises")[0] else None
            )

        await eventually(still_needed, timeout=30)
    mine = await stack.offers.get(
        "/v1/needs", params={"owner_id": carrier.id}, headers=carrier.member.headers
    )
    [need] = mine.json()["items"]
    assert need["project_id"] == project["id"]


async def test_a_dropped_project_s_need_form_says_it_takes_no_more_needs(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    carrier = await new_person(stack, place.territory, kind="association", name="Garage")
    project = await _project(portal, carrier)
    path = f"/projets/{project['id']}"
    opening = f"/besoins/nouveau?projet={project['id']}"
    closed = "Ce projet est clos (récolté ou abandonné) : il ne reçoit plus de besoins."

    async with signed_in(portal, carrier) as browser:
        page = await browser.get(path)
        form = await browser.get(opening)  # opened before the project is dropped
        dropped = await browser.post(
            f"{path}/etape",
            data={"stage": "dropped", "reason": "Plus de local.", "csrf": csrf_in(page.text)},
        )
        assert dropped.status_code == 303, dropped.text
        assert f'href="{opening}"' not in (await browser.get(path)).text
        shown = await browser.get(opening)
        assert shown.status_code == 409 and closed in text_of(shown.text)
        data = {**NEED_FORM, "title": "Un pont élévateur", "project_id": project["id"]}
        sent = await browser.post("/besoins/nouveau", data={**data, "csrf": csrf_in(form.text)})
        assert sent.status_code == 409 and closed in text_of(sent.text)
        assert 'value="Un pont élévateur"' in sent.text  # what was typed is kept
    mine = await stack.offers.get(
        "/v1/needs", params={"owner_id": carrier.id}, headers=carrier.member.headers
    )
    assert mine.json()["items"] == []


async def test_a_facilitator_drafts_the_vision_and_a_free_motion_adopts_it(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    facilitator = place.facilitator
    member = await new_person(stack, place.territory, kind="citizen", name="Paul")

    async with signed_in(portal, member) as browser:
        listing = await browser.get("/projets")
        assert 'href="/projets/vision"' not in listing.text
        form = await browser.get("/projets/vision")
        assert form.status_code == 403
        forged = await browser.post(
            "/projets/vision",
            data={"title": "La mienne", "themes": "tourism", "aims": "Moi",
                  "csrf": csrf_in(listing.text)},
        )  # fmt: skip
        assert forged.status_code == 403
        assert "seule l'équipe d'animation du territoire" in text_of(forged.text)

    async with signed_in(portal, facilitator) as browser:
        listing = await browser.get("/projets")
        assert 'href="/projets/vision"' in listing.text
        form = await browser.get("/projets/vision")
        assert form.status_code == 200
        no_theme = await browser.post(
            "/projets/vision",
            data={"title": "Demain", "aims": "Des emplois", "csrf": csrf_in(form.text)},
        )
        assert no_theme.status_code == 422 and 'id="themes-error"' in no_theme.text
        drafted = await browser.post(
            "/projets/vision",
            data={
                "title": "Demain Petite Montagne",
                "text": "Un territoire vivant.",
                "themes": ["tourism", "environment"],
                "aims": "Créer des emplois locaux\n\nGarder les commerces",
                "csrf": csrf_in(form.text),
            },
        )
        assert drafted.status_code == 303, drafted.text
        drafts = await stack["projects"].client.get(
            "/v1/visions/drafts", headers=facilitator.member.headers
        )
        [vision] = drafts.json()
        assert vision["themes"] == ["tourism", "environment"]
        assert vision["aims"] == ["Créer des emplois locaux", "Garder les commerces"]
        page = await browser.get("/projets/vision")
        vote = f"/votes/nouvelle/free_motion?vision={vision['id']}"
        assert f'href="{vote}"' in page.text

        motion = await browser.get(vote)
        assert motion.status_code == 200
        assert f'<option value="{vision["id"]}" selected>Demain Petite Montagne<' in motion.text
        opened = await browser.post(
            "/votes/nouvelle/free_motion",
            data={
                "title": "Adopter notre vision",
                "p_text": "Le territoire adopte sa vision.",
                "p_vision_id": vision["id"],
                "method": "majority",
                "closes_at": in_paris(60 * 24),
                "csrf": csrf_in(motion.text),
            },
        )
        assert opened.status_code == 303, opened.text
        proposal_page = await browser.get(opened.headers["location"])
        # Without a vision chosen, the motion adopts only its text.
        plain = await browser.post(
            "/votes/nouvelle/free_motion",
            data={"title": "Une motion", "p_text": "Oui.", "p_vision_id": "",
                  "method": "majority", "closes_at": in_paris(60 * 24),
                  "csrf": csrf_in(motion.text)},
        )  # fmt: skip
        assert plain.status_code == 303, plain.text
    assert "Elle adopte la vision du territoire « Demain Petite Montagne »" in text_of(
        proposal_page.text
    )
    governance = stack["governance"].client
    made = await governance.get(
        opened.headers["location"].replace("/votes/", "/v1/proposals/"),
        headers=facilitator.member.headers,
    )
    assert made.json()["parameters"]["vision_id"] == vision["id"]
    other = await governance.get(
        plain.headers["location"].replace("/votes/", "/v1/proposals/"),
        headers=facilitator.member.headers,
    )
    assert other.json()["parameters"].get("vision_id") is None


async def test_dropped_projects_are_apart_and_the_listings_go_on_past_a_hundred(
    portal: Portal,
) -> None:
    stack = portal.stack
    projects = stack["projects"].client
    place = await new_place(stack)
    facilitator = place.facilitator
    headers = facilitator.member.headers
    first_idea = await submit(stack, facilitator.member, title="La toute première idée")
    for n in range(100):
        await submit(stack, facilitator.member, title=f"Idée {n}")
    first = await start(stack, facilitator.member, title="Le tout premier projet")
    for n in range(100):
        made = await projects.post(
            "/v1/projects", json={"title": f"Projet {n}", "theme": "other"}, headers=headers
        )
        assert made.status_code == 201
        if n:  # all dropped but the newest: the page reads fewer projects in full
            moved = await projects.post(
                f"/v1/projects/{made.json()['id']}/stage",
                json={"stage": "dropped", "reason": "Plus personne pour le porter."},
                headers=headers,
            )
            assert moved.status_code == 200, moved.text
    dropped = (await projects.get("/v1/projects", params={"stage": "dropped", "limit": 1},
                                  headers=headers)).json()["items"][0]  # fmt: skip

    async with signed_in(portal, facilitator) as browser:
        page = await browser.get("/projets")
        assert page.status_code == 200
        ideas_next = re.search(r'href="(/projets\?idees=[^"]+)">Idées suivantes<', page.text)
        projects_next = re.search(
            r'href="(/projets\?[^"]*projets=[^"]+)">Projets suivants<', page.text
        )
        assert ideas_next and projects_next
        shown = text_of(page.text)
        assert "La toute première idée" not in shown and "Le tout premier projet" not in shown
        # The dropped ones under their own heading, folded.
        folded = page.text.split('<details class="dropped">')[1].split("</details>")[0]
        assert "Abandonnés (99)" in text_of(folded) and f'href="/projets/{dropped["id"]}"' in folded
        assert f'href="/projets/{dropped["id"]}"' not in page.text.split("<details")[0]

        more_ideas = await browser.get(ideas_next.group(1).replace("&amp;", "&"))
        more_projects = await browser.get(projects_next.group(1).replace("&amp;", "&"))
    assert more_ideas.status_code == more_projects.status_code == 200
    assert "La toute première idée" in text_of(more_ideas.text)
    assert f'href="/projets/{first["id"]}"' in more_projects.text
    assert f'href="/projets/nouveau?idee={first_idea["id"]}"' in more_ideas.text
