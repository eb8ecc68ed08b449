"""The main flow in a real browser, against the stack `make run` starts with the demo: register,
receive the sign-in mail, sign in, get admitted, publish a need, see the match, accept on both
sides. Once with the mouse, once with the keyboard only."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.browser.conftest import RunningStack, new_context
from tests.portal.browser.drivers import Driver, Keyboard, Mouse

pytestmark = pytest.mark.browser

FACILITATOR = "animation@petite-montagne.example"
TOWN_HALL = "secretariat@mairie-arinthod.example"  # offers the meeting room in the demo
TIMEOUT_MS = 30_000


async def sign_in(page: Page, driver: Driver, stack: RunningStack, email: str) -> None:
    """Ask for a link, take it from the mail folder, open it and confirm."""
    before = len(stack.mails_to(email)) if stack.mail_dir.is_dir() else 0
    await page.goto(stack.portal + "/connexion")
    await driver.fill("#email", email)
    await driver.press(page.get_by_role("button", name="Recevoir un lien de connexion"))
    await expect(page.get_by_role("heading", name="Regardez vos e-mails")).to_be_visible()
    await page.goto(await stack.sign_in_link(email, after=before))  # the link in the mail
    await driver.press(page.get_by_role("button", name="Ouvrir ma session"))
    await expect(page.get_by_role("status")).to_contain_text("vous êtes connecté·e")


async def register(page: Page, driver: Driver, stack: RunningStack, name: str, email: str) -> None:
    await page.goto(stack.portal + "/")
    await driver.press(page.get_by_role("link", name="Inscrire une structure").first)
    await driver.choose("#kind", "association")
    await driver.fill("#name", name)
    await driver.fill("#email", email)
    await driver.fill("#commune", "Cornod")
    await driver.fill("#description", "Atelier de réparation de vélos, ouvert à tous.")
    await driver.press(page.get_by_role("button", name="S'inscrire"))
    await expect(page.get_by_role("heading", name="Inscription reçue")).to_be_visible()


async def publish_need(page: Page, driver: Driver, title: str) -> None:
    await driver.press(page.get_by_role("link", name="Exprimer un besoin"))
    await driver.fill("#title", title)
    await driver.fill("#description", "Assemblée générale de l'association, un mercredi soir.")
    await driver.choose("#category", "meeting_room")
    await driver.choose("#unit", "seat")
    await driver.fill("#quantity", "15")
    await driver.tick('input[name="days"][value="2"]')
    await driver.fill("#start", "19:00")
    await driver.fill("#end", "21:00")
    await driver.fill("#min_duration_minutes", "90")
    await driver.fill("#max_distance_km", "25")
    await driver.tick('input[name="price_models"][value="free"]')
    await driver.press(page.get_by_role("button", name="Publier le besoin"))
    await expect(page.get_by_role("status")).to_contain_text("Besoin publié")


async def accept_match(page: Page, driver: Driver, stack: RunningStack, need_title: str) -> None:
    """Open my matches until the engine's proposal for the need is there, then accept it."""
    card = page.locator("article.match", has_text=need_title)
    for _ in range(60):
        await page.goto(stack.portal + "/mises-en-relation")
        if await card.count():
            break
        await page.wait_for_timeout(500)
    await expect(card).to_contain_text("libre le mercredi")
    await expect(card).to_contain_text("gratuit ou en crédit temps")
    await driver.press(card.get_by_role("button", name="Accepter"))


async def main_flow(
    browser: Browser, stack: RunningStack, make_driver: Callable[[Page], Driver]
) -> None:
    suffix = uuid.uuid4().hex[:6]
    name = f"Atelier vélo de Cornod {suffix}"
    email = f"velo-{suffix}@exemple.org"
    need_title = f"Une salle pour notre assemblée {suffix}"
    contexts = [await new_context(browser, stack) for _ in range(3)]
    try:
        newcomer, facilitator, town_hall = [await c.new_page() for c in contexts]
        me = make_driver(newcomer)
        await register(newcomer, me, stack, name, email)
        await sign_in(newcomer, me, stack, email)
        await expect(newcomer.get_by_role("heading", level=1)).to_have_text(
            "Votre inscription attend l'admission"
        )

        admin = make_driver(facilitator)
        await sign_in(facilitator, admin, stack, FACILITATOR)
        await admin.press(facilitator.get_by_role("link", name="Animation"))
        await admin.press(facilitator.get_by_role("button", name=f"Admettre {name}"))
        await expect(facilitator.get_by_role("status")).to_contain_text(f"{name} est admis·e.")

        await newcomer.goto(stack.portal + "/")
        await expect(newcomer.get_by_role("heading", level=1)).to_have_text(
            "Offres et besoins du territoire", timeout=TIMEOUT_MS
        )
        await publish_need(newcomer, me, need_title)
        await accept_match(newcomer, me, stack, need_title)
        card = newcomer.locator("article.match", has_text=need_title)
        await expect(card).to_contain_text("Acceptée par une partie")

        hall = make_driver(town_hall)
        await sign_in(town_hall, hall, stack, TOWN_HALL)
        await accept_match(town_hall, hall, stack, need_title)
        await expect(town_hall.locator("article.match", has_text=need_title)).to_contain_text(
            "Confirmée par les deux parties"
        )
        await newcomer.reload()
        await expect(card).to_contain_text("Confirmée par les deux parties")
    finally:
        for context in contexts:
            await context.close()
    stack.assert_clean()


async def test_register_sign_in_publish_a_need_and_accept_on_both_sides(
    browser: Browser, running_stack: RunningStack
) -> None:
    await main_flow(browser, running_stack, Mouse)


async def test_the_same_flow_with_the_keyboard_only(
    browser: Browser, running_stack: RunningStack
) -> None:
    await main_flow(browser, running_stack, Keyboard)
