"""My agreements over HTTP (no browser): who sees what, CSRF, signing on both sides with the
printable convention, usage reported, confirmed and disputed, the statement and performance of
a closed period, and the value declared then confirmed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from services.agreements import handlers, impact
from services.portal import pages_agreements
from tests.harness import Stack
from tests.portal.conftest import Person, Portal, csrf_in, new_person, new_place, signed_in
from tests.portal.test_pages import text_of
from tests.scenario import declare, need, offer
from tests.service.agreements.steps import Clock
from tests.support import eventually


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The agreements service's clock (and the portal's), moved forward by a test."""
    moved = Clock()
    for module in (handlers, impact, pages_agreements):
        monkeypatch.setattr(module, "clock", moved)
    return moved


@dataclass
class Agreed:
    """A business lending its van to an association, by a match both accepted."""

    provider: Person
    beneficiary: Person
    agreement: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.agreement["id"])

    @property
    def page(self) -> str:
        return f"/conventions/{self.id}"


async def agreed(stack: Stack) -> Agreed:
    place = await new_place(stack)
    business = await new_person(stack, place.territory, kind="business", name="Frigo du Val")
    association = await new_person(stack, place.territory, kind="association", name="Paniers")
    made = await offer(stack, business.member, (await declare(stack, business.member))["id"])
    wanted = await need(stack, association.member)
    matching = stack["matching"].client

    async def proposed() -> str | None:
        found = await matching.get("/v1/matches", headers=association.member.headers)
        ids = [m["id"] for m in found.json()["items"] if m["offer_id"] == made["id"]]
        return ids[0] if ids else None

    match_id = await eventually(proposed, timeout=30)
    for person in (association, business):
        answer = await matching.post(
            f"/v1/matches/{match_id}/accept", headers=person.member.headers
        )
        assert answer.status_code == 200, answer.text

    async def drafted() -> dict[str, Any] | None:
        found = await stack["agreements"].client.get(
            "/v1/agreements", headers=business.member.headers
        )
        items = [a for a in found.json()["items"] if a["need_id"] == wanted["id"]]
        return items[0] if items else None

    return Agreed(business, association, await eventually(drafted, timeout=40))


async def form_post(
    browser: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    page = await browser.get(page_path)
    assert page.status_code == 200, page.text
    return await browser.post(action, data={**data, "csrf": csrf_in(page.text)})


async def sign_both(portal: Portal, deal: Agreed) -> None:
    for person in (deal.beneficiary, deal.provider):
        async with signed_in(portal, person) as browser:
            page = await browser.get(deal.page)
            version = re.search(r'name="terms_version" value="(\d+)"', page.text)
            digest = re.search(r'name="terms_hash" value="([0-9a-f]{64})"', page.text)
            assert version and digest, page.text
            done = await browser.post(
                f"{deal.page}/signer",
                data={"terms_version": version[1], "terms_hash": digest[1],
                      "csrf": csrf_in(page.text)},
            )  # fmt: skip
            assert done.status_code == 303 and done.headers["location"] == deal.page


async def active(portal: Portal, clock: Clock, deal: Agreed) -> datetime:
    """Signed on both sides, time comes to its start: it runs. Its start."""
    await sign_both(portal, deal)
    stack = portal.stack
    path = f"/v1/agreements/{deal.id}"
    signed = (
        await stack["agreements"].client.get(path, headers=deal.provider.member.headers)
    ).json()
    start = datetime.fromisoformat(signed["starts_at"])
    clock.travel_to(start + timedelta(hours=5))
    await fire(stack, handlers.ACTIVATE, deal)

    async def running() -> bool:
        found = await stack["agreements"].client.get(path, headers=deal.provider.member.headers)
        return bool(found.json()["status"] == "active")

    await eventually(running, timeout=30)
    return start


async def fire(stack: Stack, kind: str, deal: Agreed) -> None:
    """Make the agreement's timed job of `kind` due now, and wake the scheduler."""
    pool = stack.pool("agreements")
    moved = await pool.execute(
        "UPDATE scheduled_jobs SET due_at = now() WHERE kind = $1 AND key = $2", kind, deal.id
    )
    assert moved == "UPDATE 1", f"no {kind} job for {deal.id}"
    await pool.execute("SELECT pg_notify('scheduled_jobs', extract(epoch FROM now())::text)")


def local(moment: datetime) -> str:
    """As a `datetime-local` field holds it (Paris time)."""
    return moment.astimezone(pages_agreements.PARIS).strftime("%Y-%m-%dT%H:%M")


async def test_both_parties_sign_from_the_page_after_reading_the_convention(
    portal: Portal,
) -> None:
    deal = await agreed(portal.stack)
    async with signed_in(portal, deal.beneficiary) as browser:
        listed = await browser.get("/conventions")
        assert listed.status_code == 200
        assert "Transport frigorifique à l'usage" in text_of(listed.text)
        assert "À signer · vous bénéficiez" in text_of(listed.text)
        page = await browser.get(deal.page)
        words = text_of(page.text)
        assert "Quoi Transport frigorifique à l'usage, pour 8 m³" in words
        assert "Prix 35,00 € par utilisation" in words
        assert "disponibilité : au moins 95 %" in words and "température : au plus 4 °C" in words
        assert "Le prix ne dépend pas de la performance." in words
        assert "Je signe la convention (version 1)" in words
        printable = await browser.get(f"{deal.page}/convention?version=1")
    assert printable.status_code == 200
    assert printable.headers["content-type"].startswith("text/html")
    assert "Convention de mise à disposition" in printable.text
    assert "<style>" not in printable.text and "/static/portal/convention.css" in printable.text
    await sign_both(portal, deal)
    async with signed_in(portal, deal.beneficiary) as browser:
        page = await browser.get(deal.page)
    words = text_of(page.text)
    assert "Signée, pas encore commencée" in words
    assert 'action="/conventions/' not in page.text  # nothing left to sign


async def test_one_signature_waits_for_the_other_and_a_stale_version_is_refused(
    portal: Portal,
) -> None:
    deal = await agreed(portal.stack)
    async with signed_in(portal, deal.provider) as browser:
        page = await browser.get(deal.page)
        stale = await browser.post(
            f"{deal.page}/signer",
            data={"terms_version": "1", "terms_hash": "0" * 64, "csrf": csrf_in(page.text)},
        )
        assert stale.status_code == 303
        again = await browser.get(stale.headers["location"])
        assert "la situation a changé" in text_of(again.text)
        assert "Je signe la convention" in again.text
        digest = re.search(r'name="terms_hash" value="([0-9a-f]{64})"', again.text)
        assert digest
        await browser.post(
            f"{deal.page}/signer",
            data={"terms_version": "1", "terms_hash": digest[1], "csrf": csrf_in(again.text)},
        )
        after = await browser.get(deal.page)
    assert "la signature de l'autre partie est attendue" in text_of(after.text)


async def test_a_stranger_never_sees_nor_signs_another_actors_agreement(portal: Portal) -> None:
    deal = await agreed(portal.stack)
    stranger = await new_person(
        portal.stack, (await new_place(portal.stack)).territory, kind="association", name="Autre"
    )
    async with signed_in(portal, stranger) as browser:
        listed = await browser.get("/conventions")
        assert deal.id not in listed.text
        seen = await browser.get(deal.page)
        printable = await browser.get(f"{deal.page}/convention")
        signed = await browser.post(
            f"{deal.page}/signer", data={"terms_version": "1", "csrf": csrf_in(listed.text)}
        )
    for response in (seen, printable, signed):
        assert response.status_code == 404, response.text
        assert "n&#39;existe pas ou n&#39;est pas visible" in response.text
    found = await portal.stack["agreements"].client.get(
        f"/v1/agreements/{deal.id}", headers=deal.provider.member.headers
    )
    assert found.json()["signatures"] == []


async def test_a_visitor_signs_in_first_and_a_post_without_the_token_changes_nothing(
    portal: Portal,
) -> None:
    deal = await agreed(portal.stack)
    async with portal.client() as visitor:
        for path in ("/conventions", deal.page, "/impact"):
            response = await visitor.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/connexion?retour=")
    async with signed_in(portal, deal.provider) as browser:
        refused = await browser.post(f"{deal.page}/signer", data={"terms_version": "1"})
        forged = await browser.post(
            f"{deal.page}/signer", data={"terms_version": "1", "csrf": "forged"}
        )
    for response in (refused, forged):
        assert response.status_code == 403 and "Ce formulaire a expiré" in response.text
    found = await portal.stack["agreements"].client.get(
        f"/v1/agreements/{deal.id}", headers=deal.provider.member.headers
    )
    assert found.json()["signatures"] == []


async def test_usage_is_reported_confirmed_or_disputed_then_stated_with_its_performance(
    portal: Portal, clock: Clock
) -> None:
    deal = await agreed(portal.stack)
    start = await active(portal, clock, deal)
    async with signed_in(portal, deal.provider) as browser:
        wrong = await form_post(
            browser, deal.page, f"{deal.page}/usage",
            {"usage_start": local(start), "usage_end": local(start - timedelta(hours=1)),
             "usage_quantity": "1"},
        )  # fmt: skip
        assert wrong.status_code == 422
        assert re.search(r'id="usage_end-error">La fin doit suivre le début', wrong.text)
        assert re.search(r'id="usage_end"[^>]*aria-invalid="true"', wrong.text)
        assert f'value="{local(start)}"' in wrong.text  # what was typed is kept
        unreadable = await form_post(
            browser, deal.page, f"{deal.page}/usage",
            {"usage_start": local(start), "usage_end": local(start + timedelta(hours=1)),
             "usage_quantity": "1", "usage_m_availability": "beaucoup"},
        )  # fmt: skip
        assert unreadable.status_code == 422
        assert 'id="usage_m_availability-error">Saisissez un nombre.<' in unreadable.text
        for hours, availability in ((2, "96"), (1, "80")):
            done = await form_post(
                browser, deal.page, f"{deal.page}/usage",
                {"usage_start": local(start), "usage_end": local(start + timedelta(hours=hours)),
                 "usage_quantity": "1", "usage_m_availability": availability,
                 "usage_m_temperature": "3,5"},
            )  # fmt: skip
            assert done.status_code == 303, done.text
        page = await browser.get(deal.page)
        assert "Usage déclaré : l&#39;autre partie doit le confirmer." in page.text
        assert "/confirmer" not in page.text  # one does not confirm one's own report
    reports = re.findall(r'id="usage-([0-9a-f-]{36})"', page.text)
    assert len(reports) == 2
    async with signed_in(portal, deal.beneficiary) as browser:
        page = await browser.get(deal.page)
        # Newest first: the one-hour use (availability 80), then the two-hour one.
        first, second = re.findall(
            r'action="/conventions/[^"]+/usage/([0-9a-f-]{36})/confirmer"', page.text
        )
        empty = await browser.post(
            f"{deal.page}/usage/{second}/contester", data={"csrf": csrf_in(page.text)}
        )
        assert empty.status_code == 422
        assert f'id="reason-{second}-error">' in empty.text
        await browser.post(
            f"{deal.page}/usage/{first}/confirmer", data={"csrf": csrf_in(page.text)}
        )
        await browser.post(
            f"{deal.page}/usage/{second}/contester",
            data={f"reason-{second}": "Le fourgon n'est pas venu", "csrf": csrf_in(page.text)},
        )
        page = await browser.get(deal.page)
    words = text_of(page.text)
    assert "Confirmé" in words and "Contesté · motif : Le fourgon n'est pas venu" in words
    assert "Aucun relevé" in words

    await close_period(portal, clock, deal)
    async with signed_in(portal, deal.provider) as browser:
        page = await browser.get(deal.page)
    words = text_of(page.text)
    # One confirmed use at 35 € (the price does not depend on performance); the disputed one
    # does not count. Of three indicators, the temperature alone was met.
    assert re.search(r"du .+ au .+ 1 33 % 35,00 €", words), words
    assert "disponibilité : au moins 95 % 80 non tenu" in words
    assert "température : au plus 4 °C 3,5 tenu" in words
    assert "délai de mise à disposition : au plus 2 h non mesuré non tenu" in words


async def close_period(portal: Portal, clock: Clock, deal: Agreed) -> None:
    pool = portal.stack.pool("agreements")
    due = await pool.fetchval(
        "SELECT due_at FROM scheduled_jobs WHERE kind = $1 AND key = $2",
        handlers.CLOSE_PERIOD,
        deal.id,
    )
    clock.travel_to(due + timedelta(minutes=1))
    await fire(portal.stack, handlers.CLOSE_PERIOD, deal)

    async def stated() -> bool:
        found = await portal.stack["agreements"].client.get(
            f"/v1/agreements/{deal.id}/statements", headers=deal.provider.member.headers
        )
        return bool(found.json()["items"])

    await eventually(stated, timeout=30)


async def test_value_declared_and_confirmed_shows_on_the_impact_page_and_its_csv(
    portal: Portal, clock: Clock
) -> None:
    deal = await agreed(portal.stack)
    start = await active(portal, clock, deal)
    day = start.astimezone(pages_agreements.PARIS).date().isoformat()
    async with signed_in(portal, deal.beneficiary) as browser:
        wrong = await form_post(
            browser, deal.page, f"{deal.page}/valeur",
            {"value_kind": "purchase_cost_avoided", "value_amount": "-5",
             "value_day": "2001-01-01"},
        )  # fmt: skip
        assert wrong.status_code == 422
        assert 'id="value_amount-error">Cette valeur est trop petite.<' in wrong.text
        done = await form_post(
            browser, deal.page, f"{deal.page}/valeur",
            {"value_kind": "purchase_cost_avoided", "value_amount": "120,50", "value_day": day},
        )  # fmt: skip
        assert done.status_code == 303, done.text
        page = await browser.get(deal.page)
        assert "Achats évités : 120,50 €" in text_of(page.text)
        assert "/valeur/" not in page.text  # the other party confirms it
    async with signed_in(portal, deal.provider) as browser:
        page = await browser.get(deal.page)
        found = re.search(
            r'action="(/conventions/[^"]+/valeur/[0-9a-f-]{36}/confirmer)"', page.text
        )
        assert found
        await browser.post(found[1], data={"csrf": csrf_in(page.text)})
        await close_period(portal, clock, deal)
        dashboard = await browser.get("/impact")
        csv = await browser.get("/impact.csv")
    assert dashboard.status_code == 200
    words = text_of(dashboard.text)
    assert "Achats évités 120,50 €" in words
    assert "Émissions évitées non estimé" in words  # no emission factor for vans
    assert "Par type de bénéficiaire" in words and "associations" in words
    assert 'id="impact-data"' in dashboard.text and 'data-chart="over-time"' in dashboard.text
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("mois;accord;indicateur")
    assert any("Achats évités" in line and "12050" in line for line in lines)
    assert any("non estimé" in line for line in lines)
