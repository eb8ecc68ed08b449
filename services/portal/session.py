"""The portal's session: an encrypted cookie, and the CSRF token that guards it.

Why a cookie and not a table: the portal owns no data (it is a backend-for-frontend), so it
needs no database, and any replica serves any request. The cookie is encrypted and
authenticated (Fernet: AES-128-CBC with HMAC-SHA256), so the browser can neither read the
tokens in it nor forge one; its age is checked against `session_max_age_s`. Signing out
revokes the refresh token at actors, so a copied cookie stops working when its access token
expires (15 minutes at most).

CSRF: every session carries a random token; every unsafe request must send it back in the
form field `csrf` or the `X-CSRF-Token` header (htmx). A cross-site page can make the browser
send the cookie but cannot read the token. The cookie is also `SameSite=Lax`.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "mcvt_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# Refresh a little before the access token runs out, so a page's calls all carry a live one.
REFRESH_MARGIN_S = 30


@dataclass
class Membership:
    actor_id: str
    actor_name: str
    role: str
    status: str


@dataclass
class Session:
    """What the portal remembers of a browser between requests."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float = 0.0
    person_name: str = ""
    person_email: str = ""
    actor_id: str | None = None
    actor_name: str = ""
    actor_status: str = ""
    roles: list[str] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    flash: str = ""

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None

    @property
    def is_facilitator(self) -> bool:
        return "facilitator" in self.roles

    def needs_refresh(self, now: float | None = None) -> bool:
        current = time.time() if now is None else now
        return self.signed_in and current >= self.expires_at - REFRESH_MARGIN_S

    def sign_out(self) -> None:
        """Forget everything but the CSRF token (the page may still post a form)."""
        csrf, self.__dict__ = self.csrf, Session().__dict__
        self.csrf = csrf

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionCodec:
    """Turns a session into a cookie value and back; a bad or old cookie gives a new session."""

    def __init__(self, key: str, max_age_s: int) -> None:
        self._fernet = Fernet(key.encode())
        self.max_age_s = max_age_s

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def dump(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def load(self, value: str | None) -> Session:
        if not value:
            return Session()
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(value, ttl=self.max_age_s))
            data["memberships"] = [Membership(**m) for m in data.get("memberships", [])]
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return Session()
