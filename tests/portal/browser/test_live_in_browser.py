"""Live updates in a real browser, against the stack `make run` starts with the demo: a match
appears in the other party's open page without a reload when a need is published, and the
notification preferences page is accessible, fits a phone and shows its errors."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.browser.conftest import RunningStack, new_context
from tests.portal.browser.drivers import Mouse
from tests.portal.browser.test_flow import TOWN_HALL, sign_in
from tests.portal.browser.test_pages_in_browser import WIDTHS, check_page

pytestmark = pytest.mark.browser

ASSOCIATION = "atelier@garage-solidaire.example"  # the solidarity garage of the demo
TIMEOUT_MS = 30_000


async def publish_need(page: Page, title: str) -> None:
    """A need the town hall's room fits on a Thursday evening: the main flow books Wednesdays,
    and a room booked for the hours asked is not proposed again."""
    await page.get_by_role("link", name="Exprimer un besoin").click()
    await page.locator("#title").fill(title)
    await page.locator("#description").fill("Réunion des bénévoles du garage, un jeudi soir.")
    await page.locator("#category").select_option("meeting_room")
    await page.locator("#unit").select_option("seat")
    await page.locator("#quantity").fill("12")
    await page.locator('input[name="days"][value="3"]').check()
    await page.locator("#start").fill("18:30")
    await page.locator("#end").fill("20:30")
    await page.locator("#min_duration_minutes").fill("90")
    await page.locator("#max_distance_km").fill("25")
    await page.locator('input[name="price_models"][value="free"]').check()
    await page.get_by_role("button", name="Publier le besoin").click()
    await expect(page.get_by_role("status")).to_contain_text("Besoin publié")


async def test_a_new_match_appears_live_in_the_other_partys_page(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    title = f"Une salle pour notre réunion de bénévoles {uuid.uuid4().hex[:6]}"
    contexts = [await new_context(browser, stack) for _ in range(2)]
    try:
        association, town_hall = [await context.new_page() for context in contexts]
        await sign_in(town_hall, Mouse(town_hall), stack, TOWN_HALL)
        await town_hall.goto(stack.portal + "/mises-en-relation")
        live = town_hall.locator("#direct")
        # What happened before the page was made is already on it: not announced again.
        await town_hall.wait_for_timeout(1000)
        await expect(live).to_be_empty()
        await town_hall.evaluate("() => { window.sameDocument = true; }")

        await sign_in(association, Mouse(association), stack, ASSOCIATION)
        await publish_need(association, title)

        card = town_hall.locator("article.match", has_text=title)
        await expect(card).to_be_visible(timeout=TIMEOUT_MS)
        await expect(card).to_contain_text("Proposée")
        await expect(live).to_contain_text("Nouvelle mise en relation proposée.")
        assert await town_hall.evaluate("() => window.sameDocument === true"), "page reloaded"
        await check_page(town_hall, "mises-en-relation-en-direct")
        # The card that came live answers like any other.
        await card.get_by_role("button", name="Accepter").click()
        await expect(card).to_contain_text("Acceptée par une partie")
    finally:
        for context in contexts:
            await context.close()
    stack.assert_clean()


async def test_the_preferences_page_is_accessible_fits_a_phone_and_shows_errors(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    for width, height in WIDTHS.values():
        context = await new_context(browser, stack, width=width, height=height)
        page = await context.new_page()
        try:
            await sign_in(page, Mouse(page), stack, ASSOCIATION)
            await page.goto(stack.portal + "/notifications")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Mes notifications")
            await check_page(page, "notifications")

            for kind in await page.locator('input[name="kinds"]').all():
                await kind.uncheck()
            await page.get_by_role("button", name="Enregistrer mes préférences").click()
            await expect(page.locator("#erreurs")).to_be_focused()
            await expect(page.locator("#kinds-error")).to_have_text(
                "Cochez au moins un type de notification."
            )
            await check_page(page, "notifications-erreurs")

            await page.locator('input[name="kinds"][value="mcvt.match.*"]').check()
            await page.get_by_label("un résumé par jour, vers 7 h").check()
            await page.get_by_role("button", name="Enregistrer mes préférences").click()
            # The address actors told notifications, confirmed already: saved at once.
            saved = "Vos préférences de notification sont enregistrées."
            await expect(page.get_by_role("status")).to_contain_text(saved)
            await check_page(page, "notifications-enregistrees")
        finally:
            await context.close()
    stack.assert_clean()
