"""An access token about to expire is refreshed once per request, however many calls wait."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from services.portal.session import Session
from services.portal.web import Portal, Visit


class Actors:
    """Answers refreshes as actors does: a refresh token works once."""

    def __init__(self) -> None:
        self.refreshes: list[str] = []

    async def call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        assert path == "/v1/sign-in/refresh"
        token = kwargs["json"]["refresh_token"]
        self.refreshes.append(token)
        await asyncio.sleep(0.01)  # the other caller arrives meanwhile
        n = len(self.refreshes)
        return {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 900}


async def test_calls_made_together_refresh_the_token_once() -> None:
    actors = Actors()
    portal = cast(Portal, type("FakePortal", (), {"upstream": actors})())
    session = Session(access_token="old", refresh_token="refresh-0", expires_at=0)
    visit = Visit(request=cast(Any, None), portal=portal, session=session)
    tokens = await asyncio.gather(visit.token(), visit.token(), visit.token())
    assert actors.refreshes == ["refresh-0"]
    assert list(tokens) == ["access-1"] * 3
    assert session.refresh_token == "refresh-1"
