from __future__ import annotations

import uuid

from contracts.actors import ActorRegisteredV1
from contracts.envelope import CloudEvent, new_event

TERRITORY = str(uuid.uuid4())


def actor_event(subject: str, name: str) -> CloudEvent[ActorRegisteredV1]:
    payload = ActorRegisteredV1(
        actor_id=subject,
        territory_id=TERRITORY,
        kind="business",
        name=name,
        status="pending",
        version=1,
    )
    return new_event(payload, subject=subject, territory=TERRITORY, source="/mcvt/test")


def new_subject() -> str:
    return str(uuid.uuid4())
