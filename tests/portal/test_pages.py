"""The portal's pages over HTTP (no browser): access rules, CSRF, forms that show the API's
field errors, matches explained and answered, facilitation, French error pages."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from services.portal import pages_facilitation
from tests.portal.conftest import (
    Person,
    Portal,
    csrf_in,
    new_person,
    new_place,
    portal_settings,
    signed_in,
)
from tests.scenario import declare, offer
from tests.support import eventually

NEED_FORM = {
    "title": "Un fourgon frigorifique le samedi matin",
    "description": "Tournée des fermes, le samedi de 8 h à 12 h.",
    "category": "refrigerated_van",
    "quantity": "1",
    "unit": "unit",
    "features": "refrigerated",
    "days": "5",
    "start": "8:00",
    "end": "12:00",
    "min_duration_minutes": "240",
    "max_distance_km": "15",
    "max_unit_price": "40",
    "price_models": "per_use",
    "urgency": "normal",
}


def text_of(html: str) -> str:
    """The page's text as a person reads it (tags dropped, spaces collapsed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str], **headers: str
) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={**data, "csrf": csrf_in(page.text)}, headers=headers)


async def test_a_page_for_members_sends_a_visitor_to_sign_in(portal: Portal) -> None:
    async with portal.client() as browser:
        response = await browser.get("/mises-en-relation")
        assert response.status_code == 303
        assert response.headers["location"] == "/connexion?retour=%2Fmises-en-relation"
        welcome = await browser.get("/")
        assert welcome.status_code == 200
        assert "Se connecter" in welcome.text and "Mes mises en relation" not in welcome.text


async def test_every_page_carries_a_strict_content_security_policy(portal: Portal) -> None:
    async with portal.client() as browser:
        response = await browser.get("/connexion")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"


async def test_a_form_posted_without_the_session_token_changes_nothing(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    association = await new_person(stack, territory, kind="association", name="Épicerie")
    async with signed_in(portal, association) as browser:
        refused = await browser.post("/besoins/nouveau", data=NEED_FORM)
        forged = await browser.post("/besoins/nouveau", data={**NEED_FORM, "csrf": "forged"})
    for response in (refused, forged):
        assert response.status_code == 403
        assert "Ce formulaire a expiré" in response.text
    mine = await stack.offers.get(
        "/v1/needs", params={"owner_id": association.id}, headers=association.member.headers
    )
    assert mine.json()["items"] == []


async def test_the_need_form_shows_the_apis_field_errors_next_to_each_field(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    association = await new_person(stack, territory, kind="association", name="Épicerie")
    bad = {**NEED_FORM, "quantity": "-3", "max_distance_km": "loin", "end": "7:00"}
    async with signed_in(portal, association) as browser:
        response = await post_form(browser, "/besoins/nouveau", bad)
    assert response.status_code == 422
    page = response.text
    for field in ("quantity", "max_distance_km"):
        assert f'id="{field}-error"' in page
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="quantity-error">Cette valeur est trop petite\.<', page)
    assert re.search(r'id="max_distance_km-error">Saisissez un nombre\.<', page)
    assert "Le formulaire contient" in page
    # The summary at the top names each field, and links to it.
    assert '<a href="#quantity">Quantité : Cette valeur est trop petite.</a>' in page
    assert 'value="loin"' in page  # what was typed is kept


async def test_a_need_published_with_the_form_is_on_the_map_and_list(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    association = await new_person(stack, territory, kind="association", name="Épicerie")
    title = f"Un fourgon pour la tournée {uuid.uuid4().hex[:6]}"
    async with signed_in(portal, association) as browser:
        done = await post_form(browser, "/besoins/nouveau", {**NEED_FORM, "title": title})
        assert done.status_code == 303 and done.headers["location"] == "/"
        market = await browser.get("/")
    assert market.status_code == 200
    words = text_of(market.text)
    assert "Besoin publié" in words
    assert title in words and "Budget : jusqu'à 40,00 € par utilisation" in words
    assert "Souhaité le samedi de 8 h à 12 h" in words
    item = re.search(
        r'<li class="item need"[^>]*data-title="([^"]+)"[^>]*data-lat="[\d.]+"', market.text
    )
    assert item and item.group(1).replace("&#39;", "'") == title  # the map's marker, same item


async def _matched(portal: Portal) -> tuple[Person, Person, dict[str, object]]:
    """A business offering a van and an association whose need the engine matched to it."""
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    business = await new_person(stack, territory, kind="business", name="Frigo")
    association = await new_person(stack, territory, kind="association", name="Épicerie")
    asset = await declare(stack, business.member, capacity=1, unit="unit")
    made = await offer(stack, business.member, asset["id"])
    async with signed_in(portal, association) as browser:
        done = await post_form(browser, "/besoins/nouveau", NEED_FORM)
        assert done.status_code == 303

    async def proposed() -> dict[str, object] | None:
        found = await stack["matching"].client.get(
            "/v1/matches", headers=association.member.headers
        )
        items = [m for m in found.json()["items"] if m["offer_id"] == made["id"]]
        return items[0] if items else None

    match = await eventually(proposed, timeout=30)
    return business, association, match


async def test_my_matches_explain_the_score_in_words_and_both_sides_accept(
    portal: Portal,
) -> None:
    business, association, match = await _matched(portal)
    async with signed_in(portal, association) as browser:
        page = await browser.get("/mises-en-relation")
        words = text_of(page.text)
        assert "En attente de réponse" in words
        assert "à 0 km" in words or re.search(r"à \d+(,\d)? km", words)
        assert "libre le samedi" in words and "dans le budget" in words
        assert "Fourgon frigorifique 12 m³ inoccupé 80 % de la semaine" in words
        assert re.search(r'<meter min="0" max="100" value="\d+"', page.text)
        # htmx answers with the card alone, in place.
        answered = await browser.post(
            f"/mises-en-relation/{match['id']}/accepter",
            data={"csrf": csrf_in(page.text)},
            headers={"HX-Request": "true"},
        )
    assert answered.status_code == 200
    assert answered.text.lstrip().startswith(f'<article class="match" id="match-{match["id"]}"')
    assert "Acceptée par une partie" in answered.text and "Vous avez accepté" in answered.text
    async with signed_in(portal, business) as browser:
        page = await browser.get("/mises-en-relation")
        assert "vous proposez l'offre" in text_of(page.text)
        # Without JavaScript: a plain form post, then the page again.
        answered = await browser.post(
            f"/mises-en-relation/{match['id']}/accepter", data={"csrf": csrf_in(page.text)}
        )
        assert answered.status_code == 303
        again = await browser.get(answered.headers["location"])
    assert "Confirmée par les deux parties" in again.text
    assert "Vous avez accepté cette mise en relation." in again.text
    assert 'action="/mises-en-relation/' not in again.text  # nothing left to answer


async def test_a_stranger_cannot_answer_someone_elses_match(portal: Portal) -> None:
    _, association, match = await _matched(portal)
    stack = portal.stack
    other = await new_person(
        stack, (await new_place(stack)).territory, kind="association", name="Autre"
    )
    async with signed_in(portal, other) as browser:
        page = await browser.get("/mises-en-relation")
        response = await browser.post(
            f"/mises-en-relation/{match['id']}/accepter", data={"csrf": csrf_in(page.text)}
        )
    assert response.status_code == 404
    assert "n&#39;existe pas ou n&#39;est pas visible" in response.text
    seen = await stack["matching"].client.get(
        f"/v1/matches/{match['id']}", headers=association.member.headers
    )
    assert seen.json()["accepted_by"] == []


async def test_facilitation_is_for_facilitators_who_admit_and_pair_by_hand(
    portal: Portal,
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    business = await new_person(stack, territory, kind="business", name="Frigo")
    async with signed_in(portal, business) as browser:
        refused = await browser.get("/animation")
    assert refused.status_code == 403 and "Accès refusé" in refused.text
    pending = await new_person(stack, territory, kind="association", name="Jardin", admit=False)
    async with signed_in(portal, place.facilitator) as browser:
        page = await browser.get("/animation")
        assert page.status_code == 200
        assert "Jardin" in page.text
        admitted = await browser.post(
            f"/animation/acteurs/{pending.id}/admettre", data={"csrf": csrf_in(page.text)}
        )
        assert admitted.status_code == 303
        after = await browser.get("/animation")
    assert "Jardin est admis·e." in text_of(after.text)
    actor = await stack.actors.get(
        f"/v1/actors/{pending.id}", headers=territory.facilitator.headers
    )
    assert actor.json()["status"] == "active"


async def test_a_facilitator_makes_a_partner_and_withdraws_the_role(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = portal.stack
    place = await new_place(stack)
    cluster = await new_person(stack, place.territory, kind="business", name="Cluster Bois")
    # Actors are listed newest first, a page at a time: the cluster is on the second page.
    await new_person(stack, place.territory, name="Épicerie")
    monkeypatch.setattr(pages_facilitation, "ACTORS_PAGE", 1)

    async def roles() -> list[str]:
        actor = await stack.actors.get(
            f"/v1/actors/{cluster.id}", headers=place.territory.facilitator.headers
        )
        found: list[str] = actor.json()["roles"]
        return found

    async with signed_in(portal, cluster) as browser:
        page = await browser.get("/animation")
        assert page.status_code == 403
        forged = await browser.post(
            "/animation/partenaires",
            data={"actor_id": cluster.id, "partner": "oui", "csrf": csrf_in(page.text)},
        )
        assert forged.status_code == 403
    assert await roles() == []
    async with signed_in(portal, place.facilitator) as browser:
        page = await browser.get("/animation")
        assert "Aucun partenaire pour l'instant." in text_of(page.text), text_of(page.text)
        assert f'<option value="{cluster.id}">Cluster Bois</option>' in page.text
        made = await browser.post(
            "/animation/partenaires",
            data={"actor_id": cluster.id, "partner": "oui", "csrf": csrf_in(page.text)},
        )
        assert made.status_code == 303
        after = await browser.get("/animation")
        assert "Cluster Bois est partenaire du territoire." in text_of(after.text)
        assert await roles() == ["partner"]
        withdrawn = await browser.post(
            "/animation/partenaires",
            data={"actor_id": cluster.id, "partner": "non", "csrf": csrf_in(after.text)},
        )
        assert withdrawn.status_code == 303
        last = await browser.get("/animation")
    assert "Cluster Bois n'est plus partenaire du territoire." in text_of(last.text)
    assert await roles() == []


async def test_a_service_out_of_reach_gives_a_french_page_not_a_500(portal: Portal) -> None:
    from services.portal.app import build_app

    stack = portal.stack
    member = await new_person(
        stack, (await new_place(stack)).territory, kind="association", name="Ici"
    )
    dead = "http://127.0.0.1:9"
    urls = {name: dead for name in portal.stack.urls} | {"actors": portal.settings.actors_url}
    broken = Portal(
        build_app(portal_settings(urls)),
        portal.settings,
        stack,
        portal.mailbox,
    )
    async with signed_in(broken, member) as browser:
        response = await browser.get("/")
    assert response.status_code == 503
    assert "Un service de la plateforme ne répond pas" in response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_registration_shows_the_field_at_fault_in_french(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    territory = place.territory
    async with portal.client() as browser:
        page = await browser.get("/inscription")
        assert page.status_code == 200
        form = {
            "csrf": csrf_in(page.text),
            "territory_id": territory.id,
            "kind": "association",
            "name": "Les Jardins de Cornod",
            "email": "pas-une-adresse",
            "commune": "Atlantide",
        }
        unknown_place = await browser.post("/inscription", data=form)
        assert unknown_place.status_code == 422
        assert 'id="commune-error">Commune inconnue' in unknown_place.text
        bad_mail = await browser.post("/inscription", data={**form, "commune": "cornod"})
    assert bad_mail.status_code == 422
    assert 'id="email-error"' in bad_mail.text
    assert re.search(r'id="email"[^>]*aria-invalid="true"', bad_mail.text)


ASSET_FORM = {
    "category": "refrigerated_van",
    "unit": "unit",
    "title": "Fourgon frigorifique",
    "description": "Au quai de la fruitière le week-end.",
    "capacity": "1",
    "features": "refrigerated",
    "idle_percent": "80",
    "commune": "Montrevel",
    "days": "5",
    "start": "7:00",
    "end": "19:00",
}


async def test_an_asset_then_its_offer_published_with_the_forms(portal: Portal) -> None:
    stack = portal.stack
    business = await new_person(stack, (await new_place(stack)).territory, kind="business")
    async with signed_in(portal, business) as browser:
        no_asset = await browser.get("/offres/nouvelle")
        assert "Déclarez d'abord un actif" in text_of(no_asset.text)
        wrong = await post_form(browser, "/actifs/nouveau", {**ASSET_FORM, "idle_percent": "180"})
        assert wrong.status_code == 422
        assert re.search(r'id="idle_percent-error">Cette valeur est trop grande\.<', wrong.text)
        declared = await post_form(browser, "/actifs/nouveau", ASSET_FORM)
        assert declared.status_code == 303
        form = await browser.get("/offres/nouvelle")
        assert "Fourgon frigorifique</option>" in form.text
        asset_id = re.search(r'<option value="([0-9a-f-]{36})">Fourgon frigorifique<', form.text)
        assert asset_id
        offer_form = {
            "asset_id": asset_id.group(1),
            "title": "Fourgon frigorifique le week-end",
            "price_model": "per_use",
            "unit_price": "35,5",
            "max_distance_km": "30",
            "indicator_name": "availability",
            "indicator_comparator": "gte",
            "indicator_target": "95",
            "indicator_unit": "%",
        }
        bad = await post_form(browser, "/offres/nouvelle", {**offer_form, "unit_price": "-1"})
        assert bad.status_code == 422 and 'id="unit_price-error"' in bad.text
        published = await post_form(browser, "/offres/nouvelle", offer_form)
        assert published.status_code == 303
        market = text_of((await browser.get("/")).text)
    assert "Offre publiée." in market
    assert "Fourgon frigorifique le week-end" in market
    assert "Prix : 35,50 € par utilisation" in market
    assert "Engagement : disponibilité : au moins 95 %" in market
    assert "Offre · Fourgon frigorifique · Montrevel · la vôtre" in market


async def test_the_list_filters_by_kind_category_and_day(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    business = await new_person(stack, place.territory, kind="business", name="Frigo")
    association = await new_person(stack, place.territory, name="Épicerie")
    asset = await declare(stack, business.member, capacity=1, unit="unit")
    await offer(stack, business.member, asset["id"], title="Le fourgon du samedi")
    async with signed_in(portal, association) as browser:
        done = await post_form(browser, "/besoins/nouveau", {**NEED_FORM, "title": "Mon besoin"})
        assert done.status_code == 303
        everything = text_of((await browser.get("/")).text)
        needs = text_of((await browser.get("/", params={"quoi": "besoins"})).text)
        rooms = text_of((await browser.get("/", params={"categorie": "meeting_room"})).text)
        sunday = text_of((await browser.get("/", params={"jour": "6"})).text)
        saturday = text_of((await browser.get("/", params={"jour": "5"})).text)
    assert "Le fourgon du samedi" in everything and "Mon besoin" in everything
    assert "Mon besoin" in needs and "Le fourgon du samedi" not in needs
    assert "0 résultat" in rooms
    assert "Le fourgon du samedi" not in sunday and "Mon besoin" not in sunday
    assert "Le fourgon du samedi" in saturday and "Mon besoin" in saturday


async def test_declining_with_a_reason_closes_the_match_for_both(portal: Portal) -> None:
    business, association, match = await _matched(portal)
    async with signed_in(portal, business) as browser:
        page = await browser.get("/mises-en-relation")
        declined = await browser.post(
            f"/mises-en-relation/{match['id']}/refuser",
            data={"csrf": csrf_in(page.text), "reason": "Le fourgon est en révision ce mois-ci."},
        )
        assert declined.status_code == 303
        after = text_of((await browser.get("/mises-en-relation")).text)
    assert "Vous avez refusé cette mise en relation." in after and "Terminées" in after
    seen = await stack_match(portal, match, association)
    assert seen["status"] == "declined"
    assert seen["reason"] == "Le fourgon est en révision ce mois-ci."


async def stack_match(portal: Portal, match: dict[str, object], party: Person) -> dict[str, object]:
    found = await portal.stack["matching"].client.get(
        f"/v1/matches/{match['id']}", headers=party.member.headers
    )
    assert found.status_code == 200, found.text
    result: dict[str, object] = found.json()
    return result


async def test_a_facilitator_pairs_by_hand_a_need_without_candidates(portal: Portal) -> None:
    stack = portal.stack
    place = await new_place(stack)
    business = await new_person(stack, place.territory, kind="business", name="Garage")
    association = await new_person(stack, place.territory, name="Épicerie")
    # A car is no refrigerated van: the engine never proposes it, a facilitator may.
    car = await declare(stack, business.member, category="car", capacity=1, unit="unit")
    by_car = await offer(stack, business.member, car["id"], title="Voiture le samedi")
    vans = await declare(stack, business.member, capacity=1, unit="unit")
    for_firms = await offer(
        stack, business.member, vans["id"], title="Fourgon pour les entreprises",
        eligible_requester_kinds=["business"],
    )  # fmt: skip
    async with signed_in(portal, association) as browser:
        assert (await post_form(browser, "/besoins/nouveau", NEED_FORM)).status_code == 303
    need_id = await eventually(lambda: unmatched_need(portal, place.facilitator), timeout=30)
    async with signed_in(portal, place.facilitator) as browser:
        page = await browser.get("/animation")
        assert "Un fourgon frigorifique le samedi matin" in page.text
        refused = await browser.post(
            "/animation/propositions",
            data={"csrf": csrf_in(page.text), "need_id": need_id, "offer_id": for_firms["id"]},
        )
        assert refused.status_code == 422
        assert re.search(rf'id="offer-{need_id}-error">Cette offre ne peut pas', refused.text)
        paired = await browser.post(
            "/animation/propositions",
            data={"csrf": csrf_in(page.text), "need_id": need_id, "offer_id": by_car["id"]},
        )
        assert paired.status_code == 303
    async with signed_in(portal, association) as browser:
        mine = text_of((await browser.get("/mises-en-relation")).text)
    assert "Voiture le samedi → Un fourgon frigorifique le samedi matin" in mine
    assert "Proposé à la main par l'équipe d'animation" in mine


async def unmatched_need(portal: Portal, facilitator: Person) -> str | None:
    found = await portal.stack["matching"].client.get(
        "/v1/needs/unmatched", headers=facilitator.member.headers
    )
    items = found.json() if found.status_code == 200 else []
    return str(items[0]["need_id"]) if items else None


async def test_a_value_the_api_refuses_in_an_address_is_a_french_400(portal: Portal) -> None:
    stack = portal.stack
    person = await new_person(stack, (await new_place(stack)).territory)
    async with signed_in(portal, person) as browser:
        response = await browser.get("/", params={"categorie": "licorne"})
    assert response.status_code == 400
    assert "une valeur que la plateforme ne connaît pas" in text_of(response.text)
