"""The stack as `make run` starts it, with the demo, and a headless Chromium to drive it.

Debian's chromium (`/usr/bin/chromium`), never a downloaded one. Each test gets a fresh
browser context; tile requests are answered with a local image and any other request that
would leave the machine fails the test (the portal serves everything itself). Screenshots go to
`$ARTIFACTS_DIR` (default `.run/artifacts/`).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from services.devstack.driver import Devstack, devstack

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TILE = Path(__file__).with_name("tile.png")
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / ".run" / "artifacts"))
_LINK = re.compile(r"https?://\S+/connexion/[A-Za-z0-9_-]+")


@dataclass
class RunningStack:
    """`python -m services.devstack` in a folder of its own: where the portal is, the mails."""

    run: Devstack
    blocked: list[str] = field(default_factory=list)  # requests that tried to leave the machine
    problems: list[str] = field(default_factory=list)  # script errors, refused by the CSP

    def assert_clean(self) -> None:
        """Nothing left the machine, no script failed, the CSP refused nothing."""
        assert not self.blocked, f"requests that left the machine: {self.blocked}"
        assert not self.problems, self.problems

    @property
    def portal(self) -> str:
        return self.run.portal

    @property
    def data_dir(self) -> Path:
        return self.run.data_dir

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def mails_to(self, address: str) -> list[str]:
        """The plain text of each mail to `address`, oldest first."""
        found = []
        for message in self.run.mails_to(address):
            body = message.get_body(preferencelist=("plain",))
            found.append(body.get_content() if body is not None else "")
        return found

    async def sign_in_link(self, address: str, after: int = 0, timeout_s: float = 30) -> str:
        """The link of the newest sign-in mail to `address` beyond the first `after` ones."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            mails = self.mails_to(address) if self.mail_dir.is_dir() else []
            if len(mails) > after:
                found = _LINK.search(mails[-1])
                assert found, f"no sign-in link in the mail to {address}"
                return found.group(0)
            await asyncio.sleep(0.2)
        raise AssertionError(f"no mail to {address} in {self.mail_dir} within {timeout_s}s")


@pytest.fixture(scope="session")
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, pg_server: str
) -> Iterator[RunningStack]:
    # The tests sign the demo's people in again and again, from one address: more sign-in
    # links than the limits people get (their own tests check them), which would answer 429.
    relaxed = {
        "RATE_LIMIT_SENSITIVE": "1000/minute",
        "RATE_LIMIT_SIGN_IN_PER_EMAIL": "1000/minute",
    }
    # A loaded machine (CI, shared cores) may take more than the default minute per service.
    slow = ("--ready-timeout", "180")
    with devstack(
        tmp_path_factory.mktemp("stack"), pg_server, *slow, env=relaxed, timeout_s=600
    ) as started:
        yield RunningStack(started)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--disable-background-networking"]
        )
        yield launched
        await launched.close()


async def new_context(
    browser: Browser, stack: RunningStack, *, width: int = 1280, height: int = 900
) -> BrowserContext:
    """A fresh browser profile: tiles from a local image, nothing else from outside."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="fr-FR", timezone_id="Europe/Paris"
    )

    async def route(route: Route) -> None:
        url = route.request.url
        if url.startswith(stack.portal) or url.startswith("data:"):
            await route.continue_()
        elif "tile.openstreetmap.org" in url:
            await route.fulfill(path=TILE, content_type="image/png")
        else:
            stack.blocked.append(url)
            await route.abort()

    await context.route("**/*", route)

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: stack.problems.append(f"script error: {error}"))
        page.on("console", lambda message: _console(stack, message.type, message.text))

    context.on("page", watch)
    return context


def _console(stack: RunningStack, kind: str, text: str) -> None:
    if kind == "error" and ("Content Security Policy" in text or "Refused to" in text):
        stack.problems.append(text)
