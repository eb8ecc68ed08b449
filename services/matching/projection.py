"""From contract payloads to the views matching reads: `OfferView`, `NeedView`.

Pure: the read model stores each offer and need as its contract payload, and the indexes hold
the views made from them here, so a view can always be made again from the stored row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from contracts import offers as offer_contract
from contracts.needs import NeedState, NeedStatus
from contracts.offers import OfferState, OfferStatus
from services.matching.model import DatedWindow, Location, NeedView, OfferView, WeeklySlot
from services.matching.policies import TerritoryPolicy

log = logging.getLogger(__name__)

# Only these are in the indexes: a published offer, an open need. A need the offers service
# marks matched is served already; it keeps its confirmed match and gets no new proposal.
LIVE_OFFER = OfferStatus.PUBLISHED
LIVE_NEED = NeedStatus.OPEN
CLOSED_NEED = frozenset({NeedStatus.FULFILLED, NeedStatus.WITHDRAWN, NeedStatus.EXPIRED})


def _slots(slots: list[offer_contract.WeeklySlot]) -> tuple[WeeklySlot, ...]:
    return tuple(WeeklySlot(s.weekday, s.start_minute, s.end_minute) for s in slots)


def _windows(windows: list[offer_contract.DatedWindow]) -> tuple[DatedWindow, ...]:
    return tuple(DatedWindow(w.start, w.end) for w in windows)


def _wall_clock(moment: datetime) -> datetime:
    """A contract's aware time as the views' naive wall-clock time. Territories keep no time
    zone yet: UTC stands for it, a few hours' error on validities counted in days."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _text(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def offer_view(state: OfferState) -> OfferView:
    """The view of an offer with its asset; raises ValueError when it cannot be matched."""
    asset = state.asset
    return OfferView(
        offer_id=state.offer_id,
        asset_id=asset.asset_id,
        provider_id=state.provider_id,
        territory_id=state.territory_id,
        category=asset.category,
        capacity=asset.capacity,
        unit=asset.unit,
        location=Location(asset.location.lat, asset.location.lon),
        max_distance_km=state.max_distance_km,
        weekly_slots=_slots(asset.availability.weekly),
        price_model=state.price.model,
        unit_price=state.price.unit_price,
        currency=state.price.currency,
        exceptions=_windows(asset.availability.closures),
        features=frozenset(asset.features),
        eligible_requester_kinds=frozenset(str(k) for k in state.eligible_requester_kinds),
        idle_share=asset.idle_share,
        # Offer and asset are both described in French; the score compares all of it.
        description=_text(state.title, state.description, asset.title, asset.description),
        version=state.version,
        valid_from=_wall_clock(state.valid_from),
        valid_to=_wall_clock(state.valid_to),
    )


def need_view(state: NeedState, social_priority: Mapping[str, float]) -> NeedView:
    """The view of a need, with the priority the policy gives its requester's kind; raises
    ValueError when it cannot be matched."""
    budget = state.budget
    return NeedView(
        need_id=state.need_id,
        requester_id=state.requester_id,
        requester_kind=str(state.requester_kind),
        territory_id=state.territory_id,
        category=state.category,
        quantity=state.quantity,
        unit=state.unit,
        location=Location(state.location.lat, state.location.lon),
        max_distance_km=state.max_distance_km,
        accepted_price_models=frozenset(budget.accepted_price_models),
        weekly_windows=_slots(state.weekly_windows),
        dated_windows=_windows(state.dated_windows),
        min_duration_minutes=state.min_duration_minutes,
        max_unit_price=budget.max_unit_price,
        accepts_time_credits=budget.accepts_time_credits,
        required_features=frozenset(state.required_features),
        urgency=state.urgency,
        description=_text(state.title, state.description),
        social_priority=social_priority.get(str(state.requester_kind), 0.0),
        version=state.version,
        expires_at=_wall_clock(state.expires_at),
        project_id=state.project_id,
    )


def offer_state(stored: Mapping[str, Any]) -> OfferState:
    """An offer payload as the read model stores it (JSON), back as the contract model."""
    return OfferState.model_validate(stored)


def need_state(stored: Mapping[str, Any]) -> NeedState:
    return NeedState.model_validate(stored)


def matchable_offer(state: OfferState) -> OfferView | None:
    """The view the indexes hold of a published offer; None for any other (or one that cannot
    be matched, logged)."""
    if state.status != LIVE_OFFER:
        return None
    try:
        return offer_view(state)
    except ValueError as error:
        log.warning("offer %s v%d cannot be matched: %s", state.offer_id, state.version, error)
        return None


def matchable_need(state: NeedState, policy: TerritoryPolicy) -> NeedView | None:
    """The view the indexes hold of an open need under its territory's policy; None otherwise."""
    if state.status != LIVE_NEED:
        return None
    try:
        return need_view(state, policy.social_priority)
    except ValueError as error:
        log.warning("need %s v%d cannot be matched: %s", state.need_id, state.version, error)
        return None


def need_views(
    stored: Iterable[Mapping[str, Any]], policy_of: Callable[[str], TerritoryPolicy]
) -> Iterator[NeedView]:
    """The matchable views of stored needs (their payloads), under their territories' policies."""
    for payload in stored:
        state = need_state(payload)
        view = matchable_need(state, policy_of(state.territory_id))
        if view is not None:
            yield view
