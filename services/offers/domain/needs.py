"""Needs (resource requests): their windows, lifecycle, expiry, who may change or see them.

Pure: no database, no HTTP, no broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.actors import ActorKind, Location
from contracts.needs import Budget, NeedStatus, Urgency
from contracts.offers import DatedWindow, WeeklySlot
from contracts.taxonomy import Unit
from services.offers.domain.actors import ActorRecord, ensure_may_publish
from services.offers.domain.shared import (
    check_category_and_unit,
    location_or_default,
    merge_changes,
    must_be_future,
    next_version,
)
from services.offers.drafts import NeedChanges, NeedDraft
from services.runtime.errors import Conflict, Forbidden, InvalidInput
from services.runtime.principal import Principal

OPEN_NEED = (NeedStatus.OPEN, NeedStatus.MATCHED)


class Need(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    owner_id: UUID
    requester_kind: ActorKind
    territory_id: UUID
    status: NeedStatus
    title: str
    description: str
    category: str
    quantity: float
    unit: Unit
    required_features: list[str]
    weekly_windows: list[WeeklySlot]
    dated_windows: list[DatedWindow]
    min_duration_minutes: int
    location: Location
    max_distance_km: float
    budget: Budget
    urgency: Urgency
    expires_at: datetime
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    project_id: UUID | None = None


def _check_need(draft: NeedDraft, *, now: datetime, check_expiry: bool = True) -> None:
    check_category_and_unit(draft.category, draft.unit)
    if not draft.weekly_windows and not draft.dated_windows:
        raise InvalidInput("give at least one weekly or dated window", field="weekly_windows")
    longest = max(_window_minutes(draft.weekly_windows, draft.dated_windows))
    if draft.min_duration_minutes > longest:
        raise InvalidInput(
            f"a use of {draft.min_duration_minutes} min fits in no window (longest: {longest})",
            field="min_duration_minutes",
        )
    if draft.expires_at is not None and check_expiry:
        must_be_future(draft.expires_at, now, "expires_at")


def _window_minutes(weekly: Iterable[WeeklySlot], dated: Iterable[DatedWindow]) -> list[int]:
    minutes = [slot.end_minute - slot.start_minute for slot in weekly]
    minutes += [int((window.end - window.start).total_seconds() // 60) for window in dated]
    return minutes


def publish_need(
    draft: NeedDraft,
    *,
    need_id: UUID,
    requester: ActorRecord,
    now: datetime,
    default_ttl: timedelta,
) -> Need:
    """A new open need of an admitted actor, located where it is unless told otherwise."""
    ensure_may_publish(requester)
    _check_need(draft, now=now)
    fields = draft.model_dump(exclude={"location", "expires_at"})
    return Need(
        id=need_id,
        owner_id=requester.actor_id,
        requester_kind=requester.kind,
        territory_id=requester.territory_id,
        status=NeedStatus.OPEN,
        **fields,
        location=location_or_default(draft.location, requester),
        expires_at=draft.expires_at or now + default_ttl,
        version=1,
        created_at=now,
        updated_at=now,
    )


def change_need(
    need: Need,
    changes: NeedChanges,
    *,
    requester: ActorRecord,
    now: datetime,
    default_ttl: timedelta,
) -> tuple[Need, list[str]]:
    """Apply the fields given to an open or matched need."""
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need no longer changes", field="status")
    current = need.model_dump(include=set(NeedDraft.model_fields))
    draft, changed = merge_changes(NeedDraft, current, changes)
    if not changed:
        return need, []
    _check_need(draft, now=now, check_expiry="expires_at" in changed)
    fields = draft.model_dump(exclude={"location", "expires_at"})
    return next_version(
        need,
        now,
        **fields,
        location=location_or_default(draft.location, requester),
        expires_at=draft.expires_at or now + default_ttl,
    ), changed


def withdraw_need(need: Need, *, now: datetime) -> Need:
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need cannot be withdrawn", field="status")
    return next_version(need, now, status=NeedStatus.WITHDRAWN)


def fulfil_need(need: Need, *, now: datetime) -> Need:
    """open or matched → fulfilled: declared by the requester, or by an agreement's completion."""
    if need.status not in OPEN_NEED:
        raise Conflict(f"a {need.status} need cannot be fulfilled", field="status")
    return next_version(need, now, status=NeedStatus.FULFILLED)


def match_need(need: Need, *, now: datetime) -> Need:
    """open → matched: a match of the need was confirmed; other members see it served."""
    if need.status != NeedStatus.OPEN:
        raise Conflict(f"a {need.status} need cannot become matched", field="status")
    return next_version(need, now, status=NeedStatus.MATCHED)


def reopen_need(need: Need, *, now: datetime) -> Need:
    """matched → open: its confirmed match was cancelled and no other holds."""
    if need.status != NeedStatus.MATCHED:
        raise Conflict(f"a {need.status} need cannot be opened again", field="status")
    return next_version(need, now, status=NeedStatus.OPEN)


def expire_need(need: Need, *, now: datetime) -> Need:
    if need.status not in OPEN_NEED or need.expires_at > now:
        raise Conflict("only an open need past its expiry date expires", field="expires_at")
    return next_version(need, now, status=NeedStatus.EXPIRED)


def may_change_need(principal: Principal, need: Need) -> None:
    if principal.actor_id != str(need.owner_id):
        raise Forbidden("only the need's requester may change it")


def may_see_need(principal: Principal, need: Need) -> bool:
    """Open and matched needs are public in their territory; the others, to their requester and
    facilitators. Other territories never read a need."""
    return principal.sees(need.territory_id) and (
        need.status in OPEN_NEED
        or principal.actor_id == str(need.owner_id)
        or principal.facilitates(str(need.territory_id))
    )


def need_state(need: Need) -> dict[str, Any]:
    """The full current state of a need, as its events carry it."""
    return {
        "need_id": str(need.id),
        "requester_id": str(need.owner_id),
        "requester_kind": need.requester_kind,
        "territory_id": str(need.territory_id),
        "status": need.status,
        "title": need.title,
        "description": need.description,
        "category": need.category,
        "quantity": need.quantity,
        "unit": need.unit,
        "required_features": list(need.required_features),
        "weekly_windows": list(need.weekly_windows),
        "dated_windows": list(need.dated_windows),
        "min_duration_minutes": need.min_duration_minutes,
        "location": need.location,
        "max_distance_km": need.max_distance_km,
        "budget": need.budget,
        "urgency": need.urgency,
        "expires_at": need.expires_at,
        "version": need.version,
        "project_id": str(need.project_id) if need.project_id else None,
    }
