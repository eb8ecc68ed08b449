"""Every page in a real browser: no serious or critical accessibility violation (axe-core), no
horizontal scrolling at 360 px, a screenshot of each at desktop and phone width; the map shows
the listed items, with or without tiles."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.browser.conftest import ARTIFACTS, RunningStack, new_context
from tests.portal.browser.drivers import Mouse
from tests.portal.browser.test_flow import FACILITATOR, TOWN_HALL, sign_in

pytestmark = pytest.mark.browser

AXE = "/static/vendor/axe/axe.min.js"
WIDTHS = {"desktop": (1280, 900), "phone": (360, 740)}


async def axe_problems(page: Page) -> list[dict[str, Any]]:
    """Serious and critical violations of WCAG 2.1 A and AA on the page, by axe-core."""
    if not await page.evaluate("() => Boolean(window.axe)"):
        await page.add_script_tag(url=AXE)
    result: dict[str, Any] = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def check_page(page: Page, name: str) -> None:
    problems = await axe_problems(page)
    assert not problems, f"{name}: {problems}"
    width = page.viewport_size["width"] if page.viewport_size else 0
    if width <= 360:
        scroll = await page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} scrolls sideways at {width} px ({scroll} px wide)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)


async def test_every_page_is_accessible_and_fits_a_phone(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    for width, height in WIDTHS.values():
        context = await new_context(browser, stack, width=width, height=height)
        page = await context.new_page()
        try:
            for path, name in (
                ("/", "accueil"),
                ("/connexion", "connexion"),
                ("/inscription", "inscription"),
                ("/page-inconnue", "erreur-404"),
            ):
                await page.goto(stack.portal + path)
                await check_page(page, name)
            await sign_in(page, Mouse(page), stack, FACILITATOR)
            await page.wait_for_selector(".leaflet-marker-icon, .marker-cluster")
            await check_page(page, "carte-et-liste")
            for path, name in (
                ("/besoins/nouveau", "besoin"),
                ("/actifs/nouveau", "actif"),
                ("/offres/nouvelle", "offre"),
                ("/animation", "animation"),
                ("/equipe", "equipe"),
            ):
                await page.goto(stack.portal + path)
                await check_page(page, name)
            # A form sent back with the API's errors next to its fields.
            await page.goto(stack.portal + "/besoins/nouveau")
            await page.get_by_role("button", name="Publier le besoin").click()
            await expect(page.locator("#erreurs")).to_be_focused()
            await check_page(page, "besoin-erreurs")
            # The town hall's matches: a proposal of the demo with its score explained.
            await sign_in(page, Mouse(page), stack, TOWN_HALL)
            await page.goto(stack.portal + "/mises-en-relation")
            await expect(page.locator("article.match").first).to_be_visible()
            await check_page(page, "mises-en-relation")
        finally:
            await context.close()
    stack.assert_clean()


async def test_the_map_shows_the_listed_items_even_without_tiles(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    context = await new_context(browser, stack)
    await context.route("**/tile.openstreetmap.org/**", lambda route: route.abort())
    page = await context.new_page()
    try:
        await sign_in(page, Mouse(page), stack, FACILITATOR)
        # An outline drawn (whichever layer came first: a path out of view is drawn empty,
        # hidden, so the first one found may never show).
        await page.locator("#map svg path").filter(visible=True).first.wait_for()
        listed = await page.locator(".items li[data-lat]").count()
        await page.wait_for_function("() => document.querySelector('#map .leaflet-marker-pane')")
        markers = await page.evaluate("() => window.__mcvtMap ? window.__mcvtMap.markers : -1")
        assert listed >= 8
        assert markers == listed  # one marker per listed item that has a place
        # Filtering (htmx) redraws the map with the same items as the new list.
        await page.select_option("#quoi", "besoins")
        await expect(page.locator(".items li.offer")).to_have_count(0)
        await page.wait_for_function(
            "n => window.__mcvtMap && window.__mcvtMap.markers === n",
            arg=await page.locator(".items li[data-lat]").count(),
        )
    finally:
        await context.close()
    stack.assert_clean()
