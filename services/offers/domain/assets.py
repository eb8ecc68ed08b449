"""Dormant assets: what an actor owns and could lend, who sees them, their event state.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.actors import Location
from contracts.offers import Availability
from contracts.taxonomy import Unit
from services.offers.domain.actors import ActorRecord
from services.offers.domain.shared import (
    check_category_and_unit,
    location_or_default,
    merge_changes,
    next_version,
)
from services.offers.drafts import AssetChanges, AssetDraft
from services.runtime.principal import Principal


class Asset(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    owner_id: UUID
    territory_id: UUID
    category: str
    title: str
    description: str
    capacity: float
    unit: Unit
    features: list[str]
    location: Location
    availability: Availability
    idle_share: float = Field(description="As its owner declared it.")
    measured_idle_share: float | None = Field(
        default=None, description="Measured from the confirmed usage of its agreements, if any."
    )
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


def declare_asset(draft: AssetDraft, *, asset_id: UUID, owner: ActorRecord, now: datetime) -> Asset:
    """A new dormant asset of `owner`, located where the owner is unless told otherwise."""
    check_category_and_unit(draft.category, draft.unit)
    fields = draft.model_dump(exclude={"location"})
    return Asset(
        id=asset_id,
        owner_id=owner.actor_id,
        territory_id=owner.territory_id,
        **fields,
        location=location_or_default(draft.location, owner),
        version=1,
        created_at=now,
        updated_at=now,
    )


def change_asset(
    asset: Asset, changes: AssetChanges, *, owner: ActorRecord, now: datetime
) -> tuple[Asset, list[str]]:
    """Apply the fields given; return the new asset and the names of the fields that changed."""
    current = asset.model_dump(include=set(AssetDraft.model_fields))
    draft, changed = merge_changes(AssetDraft, current, changes)
    if not changed:
        return asset, []
    check_category_and_unit(draft.category, draft.unit)
    fields = draft.model_dump(exclude={"location"})
    location = location_or_default(draft.location, owner)
    return next_version(asset, now, **fields, location=location), changed


def may_see_asset(principal: Principal, asset: Asset) -> bool:
    """An asset is seen by its owner and the facilitators of its territory."""
    return principal.actor_id == str(asset.owner_id) or principal.facilitates(
        str(asset.territory_id)
    )


def asset_state(asset: Asset) -> dict[str, Any]:
    """The full current state of an asset, as its events carry it."""
    return {
        "asset_id": str(asset.id),
        "owner_id": str(asset.owner_id),
        "territory_id": str(asset.territory_id),
        "category": asset.category,
        "title": asset.title,
        "description": asset.description,
        "capacity": asset.capacity,
        "unit": asset.unit,
        "features": list(asset.features),
        "location": asset.location,
        "availability": asset.availability,
        # Measured idleness when there is some, the owner's declaration as the fallback.
        "idle_share": asset.idle_share
        if asset.measured_idle_share is None
        else asset.measured_idle_share,
        "version": asset.version,
    }
