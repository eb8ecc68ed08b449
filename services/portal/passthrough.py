"""Documents the services render (the printable convention, CSV exports) served by the portal
as they are, fetched with the signed-in person's token."""

from __future__ import annotations

from typing import Any

import httpx

from services.portal.upstream import ApiError, Service
from services.portal.web import SignInNeeded, Visit


async def document(
    visit: Visit, service: Service, path: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    """The service's answer to a GET, untouched; ApiError when it is not a success."""
    upstream = visit.portal.upstream
    token = await visit.token()
    try:
        response = await upstream.client.get(
            upstream.urls[service] + path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as error:
        raise ApiError(503, f"{service}: {type(error).__name__}") from error
    if response.status_code == 401:
        visit.session.sign_out()
        raise SignInNeeded
    if response.status_code >= 400:
        raise ApiError(response.status_code, response.text[:200])
    return response
