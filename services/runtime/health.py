"""Liveness (/healthz: the process answers) and readiness (/readyz: database and broker answer)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(coro: Any) -> str:
    try:
        async with asyncio.timeout(2):
            await coro
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"


@health_router.get("/readyz", summary="Readiness: database and broker reachable")
async def readyz(request: Request) -> JSONResponse:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    checks = {
        "database": await _check(runtime.pool.fetchval("SELECT 1")),
        "broker": await _check(runtime.producer.client.fetch_all_metadata()),
    }
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
