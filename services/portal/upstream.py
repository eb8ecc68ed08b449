"""Calls to the public HTTP APIs of the services, with the person's token.

Every answer that is not a success becomes an `ApiError` carrying the problem+json `errors`
by field, so that a form can show each next to its field; a service out of reach becomes an
`ApiError` with status 503. Nothing here turns into a 500 page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Service = Literal[
    "actors", "offers", "matching", "agreements", "governance", "notifications", "projects"
]


@dataclass
class ApiError(Exception):
    status: int
    detail: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # field -> pydantic error type


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}
    for item in body.get("errors") or []:
        if isinstance(item, dict) and item.get("field"):
            name = str(item["field"])
            errors.setdefault(name, str(item.get("message", "")))
            if item.get("type"):
                codes.setdefault(name, str(item["type"]))
    return ApiError(response.status_code, str(body.get("detail", "")), errors, codes)


class Upstream:
    """One HTTP client per portal process, shared by every request (its connection pool)."""

    def __init__(self, urls: dict[Service, str], timeout_s: float) -> None:
        self.urls = urls
        # Loopback and cluster addresses: never through a proxy from the environment.
        self.client = httpx.AsyncClient(timeout=timeout_s, trust_env=False)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); ApiError otherwise."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.client.request(
                method, self.urls[service] + path, json=json, params=clean, headers=headers
            )
        except httpx.HTTPError as error:
            raise ApiError(503, f"{service}: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
