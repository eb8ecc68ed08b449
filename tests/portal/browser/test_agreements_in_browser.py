"""Agreements and the impact dashboard in a real browser, against the stack `make run` starts
with the demo: the van's draft signed on both sides (one side with the keyboard only), a use of
the cargo bike reported and confirmed, value declared and confirmed, and the impact dashboard
changing; axe-core and screenshots at desktop and phone width on every page of them.

The statement of a period is issued when the period closes, so a browser session does not wait
for it: tests/portal/test_agreements_pages.py moves the clock to see it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.browser.conftest import RunningStack, new_context
from tests.portal.browser.drivers import Driver, Keyboard, Mouse
from tests.portal.browser.test_flow import sign_in
from tests.portal.browser.test_pages_in_browser import WIDTHS, check_page

pytestmark = pytest.mark.browser

RESTAURANT = "cuisine@table-valouse.example"  # beneficiary of both demo agreements
FRUITIERE = "fruitiere@montrevel.example"  # lends its van: a draft to sign
REEMPLOI = "contact@reemploi-verre.example"  # lends its cargo bike: an agreement at work
VAN = "Fourgon frigorifique le week-end, à l'usage"
BIKE = "Vélo cargo électrique, à l'usage"
PARIS = ZoneInfo("Europe/Paris")


async def open_agreement(page: Page, driver: Driver, stack: RunningStack, title: str) -> None:
    await page.goto(stack.portal + "/conventions")
    await driver.press(page.get_by_role("link", name=title))
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Convention : {title}")


async def sign(page: Page, driver: Driver, stack: RunningStack, email: str) -> None:
    await sign_in(page, driver, stack, email)
    await open_agreement(page, driver, stack, VAN)
    await expect(page.get_by_role("link", name="Lire la convention imprimable")).to_be_visible()
    await driver.press(page.get_by_role("button", name="Je signe la convention (version 1)"))
    await expect(page.get_by_role("status")).to_contain_text("Vous avez signé la convention.")


async def people_served(page: Page, stack: RunningStack) -> str:
    await page.goto(stack.portal + "/impact")
    figure = page.locator(".totals li", has_text="Personnes servies").locator(".figure")
    return (await figure.inner_text()).strip()


async def test_sign_on_both_sides_report_and_confirm_usage_and_see_the_impact_change(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    began = datetime.now(PARIS)
    contexts = [await new_context(browser, stack) for _ in range(3)]
    try:
        restaurant, fruitiere, reemploi = [await c.new_page() for c in contexts]
        keys = Keyboard(restaurant)
        await sign(restaurant, keys, stack, RESTAURANT)  # the keyboard only
        await expect(restaurant.locator("main")).to_contain_text(
            "la signature de l'autre partie est attendue"
        )
        await sign(fruitiere, Mouse(fruitiere), stack, FRUITIERE)
        await expect(fruitiere.locator("p.status")).to_contain_text("Signée, pas encore commencée")

        # The cargo bike's agreement runs since the demo loaded: a use once it happened.
        before = await people_served(restaurant, stack)
        assert before == "12\u00a0personnes", before
        lender = Mouse(reemploi)
        await sign_in(reemploi, lender, stack, REEMPLOI)
        await open_agreement(reemploi, lender, stack, BIKE)
        minute = (began + timedelta(minutes=1)).replace(second=0, microsecond=0)
        await asyncio.sleep(max(0.0, (minute - datetime.now(PARIS)).total_seconds()))
        await lender.fill("#usage_start", minute.strftime("%Y-%m-%dT%H:%M"))
        await lender.fill("#usage_end", (minute + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M"))
        await lender.fill("#usage_quantity", "1")
        await lender.fill("#usage_m_availability", "100")
        await lender.press(reemploi.get_by_role("button", name="Déclarer cet usage"))
        await expect(reemploi.get_by_role("status")).to_contain_text("Usage déclaré")

        await open_agreement(restaurant, keys, stack, BIKE)
        waiting = restaurant.locator("li.report", has_text="En attente de confirmation")
        await keys.press(waiting.get_by_role("button", name="Confirmer cet usage"))
        await expect(restaurant.get_by_role("status")).to_contain_text("Usage confirmé.")
        await expect(restaurant.locator("li.report", has_text="En attente")).to_have_count(0)
        await expect(
            restaurant.get_by_role("heading", name="Relevés et performance par période")
        ).to_be_visible()
        hand = Mouse(restaurant)
        await hand.choose("#value_kind", "people_served")
        await hand.fill("#value_amount", "5")
        await hand.fill("#value_day", began.strftime("%Y-%m-%d"))
        await hand.press(restaurant.get_by_role("button", name="Déclarer cette valeur"))
        await expect(restaurant.get_by_role("status")).to_contain_text("Valeur déclarée")

        await reemploi.reload()
        await lender.press(reemploi.get_by_role("button", name="Confirmer cette valeur"))
        await expect(reemploi.get_by_role("status")).to_contain_text("Valeur confirmée")
        assert await people_served(restaurant, stack) == "17\u00a0personnes"
        assert await restaurant.evaluate("() => typeof window.Chart") == "function"
    finally:
        for context in contexts:
            await context.close()
    stack.assert_clean()


async def test_the_agreement_and_impact_pages_are_accessible_and_fit_a_phone(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    for width, height in WIDTHS.values():
        context = await new_context(browser, stack, width=width, height=height)
        page = await context.new_page()
        try:
            driver = Mouse(page)
            await sign_in(page, driver, stack, RESTAURANT)
            await page.goto(stack.portal + "/conventions")
            await check_page(page, "conventions")
            await open_agreement(page, driver, stack, BIKE)
            await check_page(page, "convention-en-cours")
            await page.get_by_role("button", name="Déclarer cet usage").click()
            await expect(page.locator("#erreurs")).to_be_visible()
            await check_page(page, "convention-erreurs")
            await page.goto(stack.portal + "/impact")
            await expect(page.locator("canvas[data-chart]").first).to_be_visible()
            await check_page(page, "impact")
            await page.goto(stack.portal + "/conventions")
            await open_agreement(page, driver, stack, VAN)
            await check_page(page, "convention-a-signer")
            await page.get_by_role("link", name="La convention imprimable").first.click()
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Convention")
            await check_page(page, "convention-imprimable")
        finally:
            await context.close()
    stack.assert_clean()
