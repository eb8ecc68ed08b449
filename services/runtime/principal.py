"""Who is calling: the authenticated actor, as every domain module sees it.

Pure: no web framework, no HTTP client, no token library, so a domain module can take a
`Principal` without importing the way requests are served (`auth` verifies tokens and builds it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

FACILITATOR = "facilitator"
PARTNER = "partner"  # a partner system (a cluster's tool, a town hall's portal) of the territory
ADMITTED = "active"


class Principal(BaseModel):
    """The authenticated actor behind a request."""

    model_config = ConfigDict(frozen=True)

    actor_id: str
    territory_id: str
    kind: str
    roles: frozenset[str]
    token_id: str
    key_id: str = ""  # the API key, or the person's session, the token was minted with
    person_id: str = ""  # the person signed in, when the token is a session's
    # As the service's access check found it; until then the least: not admitted.
    status: str = "pending"

    @property
    def admitted(self) -> bool:
        """Admitted actors use the platform; the others read and change only themselves."""
        return self.status == ADMITTED

    def sees(self, territory_id: object) -> bool:
        """An actor sees its own territory; other territories do not exist for it (unless one
        publishes its offers openly: `services.runtime.access.may_read`)."""
        return self.territory_id == str(territory_id)

    @property
    def is_facilitator(self) -> bool:
        return FACILITATOR in self.roles

    def facilitates(self, territory_id: str) -> bool:
        """A facilitator administers its own territory only."""
        return self.is_facilitator and self.territory_id == territory_id
