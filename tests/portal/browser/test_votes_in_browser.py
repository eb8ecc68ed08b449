"""Votes in a real browser, on the demo's vote under way: vote, change the vote and verify the
audit chain, once with the mouse and once with the keyboard only; every votes page accessible
(axe) and fitting a phone, with screenshots."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.browser.conftest import RunningStack, new_context
from tests.portal.browser.drivers import Driver, Keyboard, Mouse
from tests.portal.browser.test_flow import FACILITATOR, TIMEOUT_MS, TOWN_HALL, sign_in
from tests.portal.browser.test_pages_in_browser import WIDTHS, check_page

pytestmark = pytest.mark.browser

DEMO_VOTE = "Donner plus de poids aux habitants"  # opened by the demo, 3 ballots of 9 cast
CHOICES = 3  # yes, no, abstain: a vote by majority


async def open_the_demo_vote(page: Page, driver: Driver) -> None:
    await driver.press(page.get_by_role("link", name="Votes", exact=True))
    await driver.press(page.get_by_role("link", name=DEMO_VOTE))
    await expect(page.get_by_role("heading", level=1, name=DEMO_VOTE)).to_be_visible()


async def choose(page: Page, driver: Driver, value: str) -> None:
    """Tick a choice of the ballot: with the keyboard, Tab into the group of radio buttons and
    move with the arrows, as a keyboard user does."""
    radio = page.locator(f'input[name="choice"][value="{value}"]')
    if isinstance(driver, Mouse):
        await radio.check()
        return
    for _ in range(200):
        if await page.evaluate("() => document.activeElement.name === 'choice'"):
            break
        await page.keyboard.press("Tab")
    if not await page.evaluate("() => document.activeElement.checked"):
        await page.keyboard.press("Space")  # a group with nothing ticked: Tab reaches its first
    for _ in range(CHOICES):
        if await radio.is_checked():
            return
        await page.keyboard.press("ArrowDown")
    assert await radio.is_checked(), f"{value} cannot be chosen with the arrows"


async def vote_change_and_verify(page: Page, driver: Driver) -> None:
    await open_the_demo_vote(page, driver)
    await expect(page.locator("main")).to_contain_text("Collège « Habitants » : 30 %")
    await choose(page, driver, "yes")
    await driver.press(page.get_by_role("button", name="Voter", exact=True))
    await expect(page.get_by_role("status").first).to_contain_text(
        "Votre vote est enregistré : Pour."
    )
    await choose(page, driver, "no")
    await driver.press(page.get_by_role("button", name="Changer mon vote"))
    await expect(page.get_by_role("status").first).to_contain_text(
        "Votre vote a été changé : Contre."
    )
    await expect(page.locator("main")).to_contain_text("Pour (remplacé)")
    await driver.press(page.get_by_role("button", name="Vérifier le registre"))
    result = page.locator("#audit-result")
    await expect(result).to_contain_text("Registre intègre", timeout=TIMEOUT_MS)
    await expect(result).to_contain_text("elle porte bien votre choix, Contre.")


async def test_vote_change_the_vote_and_verify_the_audit_with_the_mouse(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    context = await new_context(browser, stack)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        await sign_in(page, Mouse(page), stack, FACILITATOR)
        await vote_change_and_verify(page, Mouse(page))
    finally:
        await context.close()
    stack.assert_clean()


async def test_vote_change_the_vote_and_verify_the_audit_with_the_keyboard_only(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    context = await new_context(browser, stack)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        keyboard = Keyboard(page)
        await sign_in(page, keyboard, stack, TOWN_HALL)
        await vote_change_and_verify(page, keyboard)
    finally:
        await context.close()
    stack.assert_clean()


async def test_every_votes_page_is_accessible_and_fits_a_phone(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    for width, height in WIDTHS.values():
        context = await new_context(browser, stack, width=width, height=height)
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            await sign_in(page, Mouse(page), stack, FACILITATOR)
            await page.goto(stack.portal + "/votes")
            await check_page(page, "votes")
            await page.get_by_role("link", name=DEMO_VOTE).click()
            await check_page(page, "vote")
            await page.get_by_role("button", name="Vérifier le registre").click()
            await expect(page.locator("#audit-result")).to_contain_text("Registre intègre")
            await check_page(page, "vote-registre")
            await page.goto(stack.portal + "/votes/nouvelle")
            await check_page(page, "proposition-sortes")
            for kind in ("change_matching_policy", "change_territory_rules", "change_colleges"):
                await page.goto(stack.portal + f"/votes/nouvelle/{kind}")
                await check_page(page, f"proposition-{kind}")
            # Sent back with governance's errors next to the fields.
            await page.locator("#p_weights_citizen").fill("90")
            await page.get_by_role("button", name="Ouvrir le vote").click()
            await expect(page.locator("#erreurs")).to_be_focused()
            await check_page(page, "proposition-erreurs")
        finally:
            await context.close()
    stack.assert_clean()
