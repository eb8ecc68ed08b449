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
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from services.devstack import postgres
from services.devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TILE = Path(__file__).with_name("tile.png")
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / ".run" / "artifacts"))
_LINK = re.compile(r"https?://\S+/connexion/[A-Za-z0-9_-]+")
STACK_TIMEOUT_S = 240


@dataclass
class RunningStack:
    """`python -m services.devstack` in a folder of its own: where the portal is, the mails."""

    portal: str
    data_dir: Path
    blocked: list[str] = field(default_factory=list)  # requests that tried to leave the machine
    problems: list[str] = field(default_factory=list)  # script errors, refused by the CSP

    def assert_clean(self) -> None:
        """Nothing left the machine, no script failed, the CSP refused nothing."""
        assert not self.blocked, f"requests that left the machine: {self.blocked}"
        assert not self.problems, self.problems

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def mails_to(self, address: str) -> list[str]:
        found = []
        for path in sorted(self.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if address.lower() in str(message["To"]).lower():
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
    data_dir = tmp_path_factory.mktemp("stack")
    prefix = f"mcvt_browser_{uuid.uuid4().hex[:6]}_"
    log = (data_dir / "runner.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.devstack", "--data-dir", str(data_dir),
         "--base-port", str(free_port()), "--database-prefix", prefix, "--quiet",
         "--database-url", pg_server],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        portal = _wait_for_portal(process, data_dir / "runner.log")
        yield RunningStack(portal, data_dir)
    finally:
        process.send_signal(signal.SIGTERM)  # the runner stops every service in order
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        server = postgres.server_url(
            os.environ.get("DATABASE_URL"), ROOT / ".run" / "test-postgres"
        )
        for name in ("actors", "offers", "matching"):
            asyncio.run(postgres.drop_database(server, f"{prefix}{name}"))


def _wait_for_portal(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Ctrl-C to stop" in text:
            if "demo territory NOT loaded" in text:
                raise AssertionError(f"the demo did not load:\n{text}")
            found = re.search(r"portal\s+(http://127\.0\.0\.1:\d+)", text)
            assert found, text
            return found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"the stack stopped:\n{text}")
        time.sleep(0.5)
    raise AssertionError(f"the stack was not up in {STACK_TIMEOUT_S}s:\n{log.read_text()}")


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
