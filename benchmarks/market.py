"""Synthetic market events for the benchmarks that publish them: a refrigerated van offered per
use on Saturday mornings, and associations' needs for one, as offers publishes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from contracts.needs import NeedPublishedV1
from contracts.offers import OfferPublishedV1

SATURDAY = 5


def van_offer(
    territory_id: str,
    place: dict[str, Any],
    *,
    valid_from: datetime,
    capacity: int = 12,
    unit_price: int = 35,
    start_minute: int = 420,
) -> OfferPublishedV1:
    """A van open six hours on Saturdays from `start_minute`, valid a year from `valid_from`."""
    offer_id, provider_id = str(uuid.uuid4()), str(uuid.uuid4())
    return OfferPublishedV1.model_validate(
        {
            "offer_id": offer_id,
            "provider_id": provider_id,
            "territory_id": territory_id,
            "status": "published",
            "title": "Transport frigorifique à l'usage",
            "description": "Fourgon frigorifique avec chauffeur, payé à l'usage.",
            "asset": {
                "asset_id": str(uuid.uuid4()),
                "owner_id": provider_id,
                "territory_id": territory_id,
                "category": "refrigerated_van",
                "title": "Fourgon frigorifique 12 m³",
                "description": "Fourgon frigorifique, disponible le week-end.",
                "capacity": capacity,
                "unit": "m3",
                "features": ["refrigerated", "tail_lift"],
                "location": place,
                "availability": {
                    "weekly": [
                        {
                            "weekday": SATURDAY,
                            "start_minute": start_minute,
                            "end_minute": start_minute + 360,
                        }
                    ],
                    "closures": [],
                },
                "idle_share": 0.8,
                "version": 1,
            },
            "performance": [],
            "price": {"model": "per_use", "unit_price": unit_price, "currency": "EUR"},
            "eligible_requester_kinds": ["association"],
            "max_distance_km": 25,
            "valid_from": valid_from.isoformat(),
            "valid_to": (valid_from + timedelta(days=365)).isoformat(),
            "version": 1,
        }
    )


def van_need(
    territory_id: str,
    place: dict[str, Any],
    *,
    expires_at: datetime,
    quantity: int = 1,
    max_unit_price: int = 50,
) -> NeedPublishedV1:
    """An association's need for a van on Saturday from 8 h to 12 h."""
    return NeedPublishedV1.model_validate(
        {
            "need_id": str(uuid.uuid4()),
            "requester_id": str(uuid.uuid4()),
            "requester_kind": "association",
            "territory_id": territory_id,
            "status": "open",
            "title": "Un fourgon frigorifique le samedi matin",
            "description": "Distribution de paniers frais aux familles, le samedi matin.",
            "category": "refrigerated_van",
            "quantity": quantity,
            "unit": "m3",
            "required_features": ["refrigerated"],
            "weekly_windows": [{"weekday": SATURDAY, "start_minute": 480, "end_minute": 720}],
            "dated_windows": [],
            "min_duration_minutes": 120,
            "location": place,
            "max_distance_km": 15,
            "budget": {"max_unit_price": max_unit_price, "accepted_price_models": ["per_use"]},
            "urgency": "normal",
            "expires_at": expires_at.isoformat(),
            "version": 1,
        }
    )
