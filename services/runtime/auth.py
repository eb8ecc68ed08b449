"""Verifying access tokens: every service's one dependency for "who is calling".

`actors` signs short-lived JWTs (ES256) and publishes its public keys as a JWKS; every service
verifies signature, issuer, audience and expiry with an explicit algorithm list, so `alg: none`
and HMAC-with-the-public-key tricks are refused. A valid signature is not enough: every request
is also checked against what the service knows now of the actor and of the API key the token was
minted with (`services.runtime.access`), so access ends when the actor is suspended or the key
revoked, not when the token expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.errors import Unauthorized
from services.runtime.principal import Principal

ALGORITHMS = ["ES256"]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        return Principal(
            actor_id=claims["sub"],
            territory_id=claims["territory"],
            kind=claims["kind"],
            roles=frozenset(claims.get("roles", ())),
            token_id=claims["jti"],
            key_id=claims.get("key", ""),
            person_id=claims.get("person", ""),
        )
    except (KeyError, ValueError) as missing:
        raise Unauthorized(f"token lacks a required claim: {missing}") from None


class TokenVerifier:
    """Verifies tokens against a key set: given directly, or fetched from a JWKS URL and cached.

    An unknown key id triggers one refetch (keys rotate), at most every `min_refresh_s`.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        keys: jwt.PyJWKSet | None = None,
        min_refresh_s: float = 30.0,
    ) -> None:
        if jwks_url is None and keys is None:
            raise ValueError("a TokenVerifier needs a JWKS URL or a key set")
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._keys = keys
        self._min_refresh_s = min_refresh_s
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if self._jwks_url is None or time.monotonic() - self._fetched_at < self._min_refresh_s:
                return
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._jwks_url)
                response.raise_for_status()
            self._keys = jwt.PyJWKSet.from_dict(response.json())
            self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        for attempt in range(2):
            if self._keys is not None:
                for key in self._keys.keys:
                    if key.key_id == kid:
                        return key
            if attempt == 0:
                try:
                    await self._refresh()
                except (httpx.HTTPError, jwt.PyJWKSetError) as error:
                    raise Unauthorized(f"signing keys unavailable: {error}") from None
        raise Unauthorized("token signed with an unknown key")

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise Unauthorized otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("token algorithm not accepted")
        key = await self._key_for(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        return principal_from_claims(claims)


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/auth/token")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller's principal when a bearer token is presented (it must be valid), else None."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials)


# Set by the service factory: the principal with its current status, or the refusal it deserves.
AccessCheck = Callable[[Principal], Awaitable[Principal]]


async def current_principal(
    request: Request,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller, authenticated and still allowed in (actor not suspended, key not revoked)."""
    if principal is None:
        raise Unauthorized("missing bearer token")
    check: AccessCheck = request.app.state.check_access
    return await check(principal)


CurrentActor = Annotated[Principal, Depends(current_principal)]
MaybeActor = Annotated[Principal | None, Depends(optional_principal)]
