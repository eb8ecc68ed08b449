"""Where a command or an event's effect comes from: source, flow, cause and initiating actor.

Every event a service writes carries this context in its envelope: `source` is the service's
own CloudEvents source (set once by the runtime from the settings, never written by a service),
the correlation id ties a flow together, the causation id names the request or event that caused
it, and the actor id says who started it (None for the service's own timed jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from contracts.envelope import CloudEvent


@dataclass(frozen=True)
class Context:
    """The context a command runs in; the runtime builds it, handlers pass it on to `emit`."""

    source: str
    correlation_id: str | None = None
    causation_id: str | None = None
    actor_id: str | None = None

    def caused_by(self, event: CloudEvent[Any]) -> Context:
        """What a consumed event makes happen: same flow and initiator, caused by that event."""
        return replace(
            self,
            correlation_id=event.correlationid,
            causation_id=event.id,
            actor_id=event.actorid,
        )
