"""Signing keys and access tokens: ES256 JWTs, short-lived, verified by every service via JWKS."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.actors.domain import Actor
from services.runtime.auth import ALGORITHMS


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=secrets.token_hex(8), private_key=ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, kid: str, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("signing keys are EC P-256 keys")
        return cls(kid=kid, private_key=key)

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(
            self.private_key.public_key(), as_dict=True
        )
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHMS[0]}


def jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def issue_token(
    actor: Actor,
    key: SigningKey,
    *,
    api_key_id: str,
    person_id: str | None = None,
    issuer: str,
    audience: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A signed access token naming the actor, its territory, kind and roles, and the API key it
    was minted with (claim `key`), so that revoking the key ends the token too. A person's token
    names their session in `key` (ending the session ends it) and the person in `person`."""
    now = now or datetime.now(UTC)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(actor.id),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "territory": str(actor.territory_id),
        "kind": str(actor.kind),
        "roles": list(actor.roles),
        "key": api_key_id,
    }
    if person_id is not None:
        claims["person"] = person_id
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHMS[0], headers={"kid": key.kid})
