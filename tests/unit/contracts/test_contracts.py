"""Committed contract files are current; no change breaks a consumer of a published schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.actors import ActorRegisteredV1, ActorState
from contracts.envelope import CloudEvent
from contracts.governance import DecisionMadeV1
from contracts.registry import EVENT_TYPES, parse_event
from services.tools.compat import breaking_changes
from services.tools.export import SCHEMAS, event_schemas, rendered


def test_committed_contract_files_match_the_code() -> None:
    stale = [
        str(path)
        for path, text in rendered().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "run `make contracts` and commit the result"


def committed_schemas() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.json"))}


def test_every_published_event_type_is_still_produced_compatibly() -> None:
    current = event_schemas()
    committed = committed_schemas()
    assert committed, "no committed schemas found"
    for event_type, old in committed.items():
        assert event_type in current, (
            f"{event_type} was published and must stay (add a new version)"
        )
        assert breaking_changes(old, current[event_type]) == [], event_type


def _schema_of(model: type[ActorState]) -> dict[str, Any]:
    return CloudEvent[model].model_json_schema()  # type: ignore[valid-type]


@pytest.fixture
def registered() -> dict[str, Any]:
    return committed_schemas()[ActorRegisteredV1.event_type]


def test_removed_field_is_breaking(registered: dict[str, Any]) -> None:
    schema = _schema_of(ActorRegisteredV1)
    del schema["$defs"]["ActorRegisteredV1"]["properties"]["siret"]
    assert breaking_changes(registered, schema) == ["data.siret: field removed"]


def test_retyped_field_is_breaking(registered: dict[str, Any]) -> None:
    class Retyped(ActorRegisteredV1):
        version: str  # type: ignore[assignment]

    problems = breaking_changes(registered, _schema_of(Retyped))
    assert any(p.startswith("data.version: type changed") for p in problems), problems


def test_new_required_field_is_breaking(registered: dict[str, Any]) -> None:
    class NewRequired(ActorRegisteredV1):
        website: str

    assert "data.website: field became required" in breaking_changes(
        registered, _schema_of(NewRequired)
    )


def test_new_optional_field_is_compatible(registered: dict[str, Any]) -> None:
    class NewOptional(ActorRegisteredV1):
        website: str | None = None

    assert breaking_changes(registered, _schema_of(NewOptional)) == []


def test_parse_event_round_trips_every_registered_type() -> None:
    for event_type, model in EVENT_TYPES.items():
        assert model.event_type == event_type
    raw = CloudEvent[ActorRegisteredV1](
        id="e1",
        source="/mcvt/actors",
        type=ActorRegisteredV1.event_type,
        time="2026-11-22T10:00:00Z",
        subject="a1",
        territory="t1",
        correlationid="c1",
        data=ActorRegisteredV1(
            actor_id="a1",
            territory_id="t1",
            kind="business",
            name="Ferme",
            status="pending",
            version=1,
        ),
    ).model_dump_json()
    event = parse_event(raw)
    assert isinstance(event.data, ActorRegisteredV1) and event.data.name == "Ferme"


def test_removed_enum_value_is_breaking() -> None:
    decision = committed_schemas()[DecisionMadeV1.event_type]
    schema = CloudEvent[DecisionMadeV1].model_json_schema()
    schema["$defs"]["ProposalKind"]["enum"].remove("free_motion")
    assert breaking_changes(decision, schema) == ["data.kind: enum value 'free_motion' removed"]


def test_added_enum_value_is_compatible() -> None:
    decision = committed_schemas()[DecisionMadeV1.event_type]
    schema = CloudEvent[DecisionMadeV1].model_json_schema()
    schema["$defs"]["ProposalKind"]["enum"].append("a_new_kind")
    assert breaking_changes(decision, schema) == []
