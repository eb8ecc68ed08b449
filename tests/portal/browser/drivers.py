"""Two ways of using a page: with the mouse (clicks, fills) and with the keyboard only (Tab to
reach each control, then typing, Space and Enter), so a flow can be run both ways."""

from __future__ import annotations

from playwright.async_api import Locator, Page

MAX_TABS = 200


class Mouse:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def fill(self, selector: str, value: str) -> None:
        await self.page.locator(selector).fill(value)

    async def choose(self, selector: str, value: str) -> None:
        await self.page.locator(selector).select_option(value)

    async def tick(self, selector: str) -> None:
        await self.page.locator(selector).check()

    async def press(self, target: Locator) -> None:
        await target.click()


class Keyboard:
    """Reaches every control with Tab from where the focus is, as a keyboard user does."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def _focused(self, target: Locator) -> bool:
        return bool(await target.evaluate("el => el === document.activeElement"))

    async def focus(self, target: Locator) -> None:
        for _ in range(MAX_TABS):
            if await self._focused(target):
                return
            await self.page.keyboard.press("Tab")
        raise AssertionError(f"{target} cannot be reached with the Tab key")

    async def fill(self, selector: str, value: str) -> None:
        target = self.page.locator(selector)
        await self.focus(target)
        await self.page.keyboard.press("Control+A")
        await self.page.keyboard.type(value)

    async def choose(self, selector: str, value: str) -> None:
        target = self.page.locator(selector)
        await self.focus(target)
        values: list[str] = await target.evaluate("el => [...el.options].map(o => o.value)")
        for _ in range(len(values) * 2):
            current = await target.evaluate("el => el.value")
            if current == value:
                return
            step = 1 if values.index(value) > values.index(current) else -1
            await self.page.keyboard.press("ArrowDown" if step > 0 else "ArrowUp")
        raise AssertionError(f"could not choose {value!r} in {selector} with the arrows")

    async def tick(self, selector: str) -> None:
        target = self.page.locator(selector)
        await self.focus(target)
        if not await target.is_checked():
            await self.page.keyboard.press("Space")

    async def press(self, target: Locator) -> None:
        await self.focus(target)
        await self.page.keyboard.press("Enter")


Driver = Mouse | Keyboard
