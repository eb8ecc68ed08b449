"""An agreement whose use ends two minutes on, in a real browser, against the stack `make run`
starts: a business lends a van to an association of the demo territory for a use already under
way (matched and accepted through the APIs); both sign from their pages, and the provider's open
page shows the association's signature without a reload; a use reported through the API is
confirmed in the browser; when the use ends, its period closes and the statement appears on the
agreement's page, its period and amount in words.

Nothing moves the services' clocks: the test waits for the use to end (about three minutes)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect

from services.devstack.demo import saved_demo
from services.portal.i18n import Words
from tests.flow.matching.steps import Flow, accept, proposals_for, status_of
from tests.flow.notifications.test_whole_flow import USE_LEFT, use_under_way, van_offered
from tests.harness import Stack
from tests.portal.browser.conftest import RunningStack, new_context
from tests.portal.browser.drivers import Mouse
from tests.portal.browser.test_agreements_in_browser import open_agreement
from tests.portal.browser.test_flow import sign_in
from tests.portal.browser.test_pages_in_browser import check_page
from tests.portal.conftest import Person, new_person
from tests.processes import process_stack
from tests.scenario import Member, Territory, need, token_for
from tests.service.agreements.steps import Deal, agreement_of, report, statements_of, status_is

pytestmark = pytest.mark.browser

VAN = "Transport frigorifique à l'usage"  # the offer's title (tests.scenario.offer_on)
LIVE_MS = 30_000
STATEMENT_WAIT_S = 240  # the use ends USE_LEFT after the need; the statement follows at once


async def demo_territory(api: Stack, stack: RunningStack) -> Territory:
    """The demo's territory, its facilitator signed in with the key the demo saved."""
    demo = saved_demo(stack.data_dir)
    assert demo is not None, "the stack did not save its demo"
    facilitator = next(m for m in demo.members if m.role == "facilitator")
    headers = await token_for(api.actors, facilitator.api_key)
    return Territory(demo.territory_id, Member(facilitator.id, demo.territory_id, headers))


async def use_matched(api: Stack, business: Person, association: Person) -> tuple[Deal, datetime]:
    """The van offered, a need for a use under way that ends USE_LEFT on, the match accepted by
    both: the draft agreement, and when the use ends."""
    flow = Flow(api)
    offered = await van_offered(api, business.member)
    use_ends = datetime.now(UTC).replace(microsecond=0) + USE_LEFT
    wanted = await need(api, association.member, **use_under_way(use_ends))
    [proposal] = await proposals_for(flow, wanted["id"])
    match_id = proposal["data"]["match_id"]
    for person in (business, association):
        assert (await accept(flow, person.member, match_id)).status_code == 200
    await status_of(flow, business.member, match_id, "confirmed")
    found = await agreement_of(api, business.member, match_id)
    territory = Territory(business.member.territory_id, business.member)
    deal = Deal(territory, business.member, association.member, offered, wanted, match_id, found)
    return deal, use_ends


async def sign_here(page: Page) -> None:
    await page.get_by_role("button", name="Je signe la convention (version 1)").click()
    await expect(page.get_by_role("status")).to_contain_text("Vous avez signé la convention.")


def words_of(text: str) -> str:
    """Text as read: French spaces (no-break, narrow) as plain ones, runs of them as one."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


async def test_both_sign_one_sees_the_other_live_and_the_statement_comes_when_the_use_ends(
    browser: Browser, running_stack: RunningStack
) -> None:
    stack = running_stack
    contexts = [await new_context(browser, stack) for _ in range(2)]
    try:
        async with process_stack(stack.run) as api:
            territory = await demo_territory(api, stack)
            business = await new_person(api, territory, kind="business", name="Fourgons du Val")
            association = await new_person(api, territory, kind="association", name="Paniers")
            provider, beneficiary = [await c.new_page() for c in contexts]
            for page, person in ((provider, business), (beneficiary, association)):
                await sign_in(page, Mouse(page), stack, person.email)

            deal, use_ends = await use_matched(api, business, association)
            await open_agreement(provider, Mouse(provider), stack, VAN)
            await sign_here(provider)
            await expect(provider.locator("#ma-convention")).to_contain_text(
                "la signature de l'autre partie est attendue"
            )
            await provider.evaluate("() => { window.sameDocument = true; }")

            # The association signs: the provider's open page shows it, without a reload.
            await open_agreement(beneficiary, Mouse(beneficiary), stack, VAN)
            await sign_here(beneficiary)
            status = provider.locator("#ma-convention p.status")
            await expect(status).to_contain_text("En cours", timeout=LIVE_MS)
            await expect(provider.locator("#ma-convention")).not_to_contain_text("attendue")
            await expect(provider.locator("#direct")).to_contain_text("a été signée")
            assert await provider.evaluate("() => window.sameDocument === true"), "page reloaded"

            # One use, reported by the provider, confirmed by the association in its page.
            active = await status_is(api, deal, "active")
            assert datetime.fromisoformat(active["ends_at"]) == use_ends, active
            start = datetime.fromisoformat(active["starts_at"])
            measured = {"availability": "100", "temperature": "3"}
            sent = await report(api, deal.provider, deal, start, 1 / 3600, quantity=1,
                                measurements=measured)  # fmt: skip
            assert sent.status_code == 201, sent.text
            await beneficiary.reload()
            confirm = beneficiary.get_by_role("button", name="Confirmer cet usage")
            await expect(confirm).to_be_visible()
            await confirm.click()
            await expect(beneficiary.get_by_role("status")).to_contain_text("Usage confirmé.")

            # The use ends, the period closes: its statement on the agreement's page.
            rows = provider.locator("section[aria-labelledby=statements-title] tbody tr")
            deadline = time.monotonic() + STATEMENT_WAIT_S
            while not await rows.count():
                assert time.monotonic() < deadline, f"no statement {STATEMENT_WAIT_S}s on"
                await provider.wait_for_timeout(5000)
                await provider.reload()
            [stated] = await statements_of(api, deal)
        words = Words()
        assert datetime.fromisoformat(stated["period_end"]) == use_ends, stated
        period = "du {} au {}".format(
            words.moment(stated["period_start"]), words.moment(stated["period_end"])
        )
        # One use at 35 € (the price does not depend on performance); of three promises, the
        # availability and the temperature were met, the delay was not measured.
        assert words_of(await rows.first.inner_text()) == f"{period} 1 67 % 35,00 €"
        performance = words_of(await provider.locator("#ma-convention").inner_text())
        assert "disponibilité : au moins 95 % 100 tenu" in performance
        assert "délai de mise à disposition : au plus 2 h non mesuré non tenu" in performance
        await check_page(provider, "convention-releve")
    finally:
        for context in contexts:
            await context.close()
    stack.assert_clean()
