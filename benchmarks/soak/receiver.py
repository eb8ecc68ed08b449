"""The partner's webhook receiver: a uvicorn on loopback that answers 204 and counts each
`webhook-id` it is sent, with the event's type and data the first time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from services.devstack.ports import free_port


@dataclass
class Partner:
    base: str = ""
    times: Counter[str] = field(default_factory=Counter)  # webhook-id -> requests answered
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook-id -> the event

    def url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e.get("type") == event_type]


@contextlib.asynccontextmanager
async def partner_receiver() -> AsyncIterator[Partner]:
    partner = Partner()
    app = FastAPI()

    @app.post("/hooks/{name}")
    async def hook(name: str, request: Request) -> Response:
        webhook_id = request.headers.get("webhook-id", "")
        body = await request.body()
        partner.times[webhook_id] += 1
        if webhook_id not in partner.events:
            with contextlib.suppress(ValueError):
                partner.events[webhook_id] = json.loads(body)
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        raise RuntimeError("the webhook receiver did not start")
    partner.base = f"http://127.0.0.1:{port}"
    try:
        yield partner
    finally:
        server.should_exit = True
        await task
