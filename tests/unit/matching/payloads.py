"""Contract payloads of offers and needs, for tests that feed matching events directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import CloudEvent, EventPayload, new_event

SATURDAY = 5
DIE = {"lat": 44.7536, "lon": 5.3700, "commune": "Die"}


def offer_state(
    *,
    offer_id: str,
    provider_id: str,
    territory_id: str,
    version: int = 1,
    status: str = "published",
    capacity: float = 12,
    **overrides: Any,
) -> dict[str, Any]:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    state: dict[str, Any] = {
        "offer_id": offer_id,
        "provider_id": provider_id,
        "territory_id": territory_id,
        "status": status,
        "title": "Transport frigorifique à l'usage",
        "description": "Fourgon frigorifique avec chauffeur, payé à l'usage.",
        "asset": {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, offer_id)),
            "owner_id": provider_id,
            "territory_id": territory_id,
            "category": "refrigerated_van",
            "title": "Fourgon frigorifique 12 m³",
            "description": "Fourgon frigorifique, groupe froid récent, disponible le week-end.",
            "capacity": capacity,
            "unit": "m3",
            "features": ["refrigerated", "tail_lift"],
            "location": DIE,
            "availability": {
                "weekly": [{"weekday": SATURDAY, "start_minute": 420, "end_minute": 780}],
                "closures": [],
            },
            "idle_share": 0.8,
            "version": 1,
        },
        "performance": [],
        "price": {"model": "per_use", "unit_price": 35, "currency": "EUR"},
        "eligible_requester_kinds": ["association"],
        "max_distance_km": 25,
        "valid_from": now.isoformat(),
        "valid_to": (now + timedelta(days=365)).isoformat(),
        "version": version,
    }
    return {**state, **overrides}


def need_state(
    *,
    need_id: str,
    requester_id: str,
    territory_id: str,
    version: int = 1,
    status: str = "open",
    quantity: float = 8,
    **overrides: Any,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "need_id": need_id,
        "requester_id": requester_id,
        "requester_kind": "association",
        "territory_id": territory_id,
        "status": status,
        "title": "Un fourgon frigorifique le samedi matin",
        "description": "Distribution de paniers frais aux familles, le samedi de 8 h à 12 h.",
        "category": "refrigerated_van",
        "quantity": quantity,
        "unit": "m3",
        "required_features": ["refrigerated"],
        "weekly_windows": [{"weekday": SATURDAY, "start_minute": 480, "end_minute": 720}],
        "dated_windows": [],
        "min_duration_minutes": 240,
        "location": DIE,
        "max_distance_km": 15,
        "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
        "urgency": "normal",
        "expires_at": datetime(2027, 1, 1, tzinfo=UTC).isoformat(),
        "version": version,
    }
    return {**state, **overrides}


def event(model: type[EventPayload], state: dict[str, Any], **extra: Any) -> CloudEvent[Any]:
    payload = model.model_validate({**state, **extra})
    subject = str(state.get("offer_id") or state.get("need_id") or state.get("actor_id"))
    return new_event(payload, subject=subject, territory=state["territory_id"], source="/tests")
