"""The offers database: SQL in the open, one function per query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts.actors import Location
from contracts.projects import Stage
from services.offers import geo
from services.offers.domain import ActorRecord, Asset, Need, Offer, ProjectRecord
from services.offers.domain.bookings import Booking
from services.runtime.db import Connection
from services.runtime.pages import keyset
from services.runtime.personal import plain
from services.runtime.rows import Table


def _location(row: asyncpg.Record) -> Location:
    return Location(lat=row["lat"], lon=row["lon"], commune=row["commune"])


def _location_columns(location: Location | None) -> dict[str, Any]:
    return {
        "lat": location.lat if location else None,
        "lon": location.lon if location else None,
        "commune": location.commune if location else None,
    }


def _fields(row: asyncpg.Record) -> dict[str, Any]:
    return {
        k: row[k] for k in row.keys() if k not in ("lat", "lon", "commune", "stale_notice_version")
    }


# --- actors (read model) ----------------------------------------------------------------------


_ACTORS = Table(
    "actors",
    ("actor_id", "territory_id", "kind", "status", "lat", "lon", "commune", "version"),
    key="actor_id",
)


def _actor_row(actor: ActorRecord) -> dict[str, Any]:
    return {
        "actor_id": actor.actor_id,
        "territory_id": actor.territory_id,
        "kind": str(actor.kind),
        "status": str(actor.status),
        **_location_columns(actor.location),
        "version": actor.version,
    }


async def get_actor(conn: Connection, actor_id: UUID) -> ActorRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_ACTORS.select_list()} FROM actors WHERE actor_id = $1", actor_id
    )
    if row is None:
        return None
    location = _location(row) if row["lat"] is not None else None
    return ActorRecord(**_fields(row), location=location)


async def save_actor_if_newer(conn: Connection, actor: ActorRecord) -> bool:
    """Store the actor unless a version at least as new is stored; True when stored."""
    stored = await conn.fetchval(
        _ACTORS.upsert_if_newer_sql(),
        *_ACTORS.values(_actor_row(actor)),
    )
    return bool(stored)


# --- projects (read model) --------------------------------------------------------------------


async def get_project(conn: Connection, project_id: UUID) -> ProjectRecord | None:
    row = await conn.fetchrow(
        "SELECT project_id, territory_id, carrier_ids, stage FROM projects WHERE project_id = $1",
        project_id,
    )
    if row is None:
        return None
    return ProjectRecord(
        project_id=row["project_id"],
        territory_id=row["territory_id"],
        carrier_ids=frozenset(row["carrier_ids"]),
        stage=row["stage"],
    )


async def save_project(conn: Connection, project: ProjectRecord) -> None:
    """A project's territory and carriers are set at its creation: a redelivery changes nothing."""
    await conn.execute(
        """INSERT INTO projects (project_id, territory_id, carrier_ids, stage)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (project_id) DO NOTHING""",
        project.project_id,
        project.territory_id,
        sorted(project.carrier_ids),
        project.stage,
    )


async def set_project_stage(conn: Connection, project_id: UUID, stage: Stage) -> None:
    await conn.execute("UPDATE projects SET stage = $2 WHERE project_id = $1", project_id, stage)


# --- assets -----------------------------------------------------------------------------------

_ASSETS = Table(
    "assets",
    (
        "id", "owner_id", "territory_id", "category", "title", "description", "capacity", "unit",
        "features", "lat", "lon", "commune", "availability", "idle_share",
        "measured_idle_share", "version", "created_at", "updated_at",
    ),
)  # fmt: skip
_ASSET_COLUMNS = _ASSETS.select_list()


def _asset(row: asyncpg.Record) -> Asset:
    return Asset(**_fields(row), location=_location(row))


def _asset_row(asset: Asset) -> dict[str, Any]:
    return {
        "id": asset.id,
        "owner_id": asset.owner_id,
        "territory_id": asset.territory_id,
        "category": asset.category,
        "title": asset.title,
        "description": asset.description,
        "capacity": asset.capacity,
        "unit": str(asset.unit),
        "features": list(asset.features),
        **_location_columns(asset.location),
        "availability": asset.availability.model_dump(mode="json"),
        "idle_share": asset.idle_share,
        "measured_idle_share": asset.measured_idle_share,
        "version": asset.version,
        "created_at": asset.created_at,
        "updated_at": asset.updated_at,
    }


async def insert_asset(conn: Connection, asset: Asset) -> None:
    await conn.execute(_ASSETS.insert_sql(), *_ASSETS.values(_asset_row(asset)))


async def update_asset(conn: Connection, asset: Asset) -> None:
    """Write the new state of an asset read FOR UPDATE in the same transaction."""
    await conn.execute(_ASSETS.update_sql(), *_ASSETS.update_values(_asset_row(asset)))


async def get_asset(conn: Connection, asset_id: UUID, *, for_update: bool = False) -> Asset | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_ASSET_COLUMNS} FROM assets WHERE id = $1{lock}", asset_id)
    return _asset(row) if row else None


async def get_assets(conn: Connection, asset_ids: list[UUID]) -> dict[UUID, Asset]:
    rows = await conn.fetch(
        f"SELECT {_ASSET_COLUMNS} FROM assets WHERE id = ANY($1::uuid[])", asset_ids
    )
    return {row["id"]: _asset(row) for row in rows}


async def list_assets(
    conn: Connection, owner_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Asset]:
    """A page of an owner's assets, newest first, after the keyset cursor `after`."""
    rows = await conn.fetch(
        f"""SELECT {_ASSET_COLUMNS} FROM assets
            WHERE owner_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        owner_id,
        *keyset(after),
        limit,
    )
    return [_asset(row) for row in rows]


# --- offers -----------------------------------------------------------------------------------

_OFFERS = Table(
    "offers",
    (
        "id", "asset_id", "owner_id", "territory_id", "status", "title", "description",
        "performance", "clause", "price", "eligible_requester_kinds", "max_distance_km",
        "valid_from", "valid_to", "version", "created_at", "updated_at",
    ),
)  # fmt: skip
_OFFER_COLUMNS = _OFFERS.select_list()


def _offer(row: asyncpg.Record) -> Offer:
    return Offer(**_fields(row))


def _offer_row(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "asset_id": offer.asset_id,
        "owner_id": offer.owner_id,
        "territory_id": offer.territory_id,
        "status": str(offer.status),
        "title": offer.title,
        "description": offer.description,
        "performance": [i.model_dump(mode="json") for i in offer.performance],
        "clause": offer.clause.model_dump(mode="json") if offer.clause else None,
        "price": offer.price.model_dump(mode="json"),
        "eligible_requester_kinds": [str(k) for k in offer.eligible_requester_kinds],
        "max_distance_km": offer.max_distance_km,
        "valid_from": offer.valid_from,
        "valid_to": offer.valid_to,
        "version": offer.version,
        "created_at": offer.created_at,
        "updated_at": offer.updated_at,
    }


async def insert_offer(conn: Connection, offer: Offer) -> None:
    await conn.execute(_OFFERS.insert_sql(), *_OFFERS.values(_offer_row(offer)))


async def update_offer(conn: Connection, offer: Offer) -> None:
    """Write the new state of an offer read FOR UPDATE in the same transaction."""
    await conn.execute(_OFFERS.update_sql(), *_OFFERS.update_values(_offer_row(offer)))


async def get_offer(conn: Connection, offer_id: UUID, *, for_update: bool = False) -> Offer | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_OFFER_COLUMNS} FROM offers WHERE id = $1{lock}", offer_id)
    return _offer(row) if row else None


async def live_offers_of_asset(conn: Connection, asset_id: UUID) -> list[Offer]:
    """The asset's offers that are not withdrawn, locked for update."""
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM offers WHERE asset_id = $1 AND status <> 'withdrawn'
            ORDER BY created_at, id FOR UPDATE""",
        asset_id,
    )
    return [_offer(row) for row in rows]


async def published_offers_of(conn: Connection, owner_id: UUID) -> list[Offer]:
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM offers WHERE owner_id = $1 AND status = 'published'
            ORDER BY created_at, id FOR UPDATE""",
        owner_id,
    )
    return [_offer(row) for row in rows]


async def offers_past_validity(conn: Connection, now: datetime, limit: int) -> list[Offer]:
    """Published offers whose validity has ended, locked; rows held elsewhere are skipped."""
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM offers WHERE status = 'published' AND valid_to <= $1
            ORDER BY valid_to LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_offer(row) for row in rows]


async def offers_going_stale(
    conn: Connection, now: datetime, notice: timedelta, limit: int
) -> list[Offer]:
    """Published offers ending within `notice` whose current version has had no notice yet."""
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM offers
            WHERE status = 'published' AND valid_to > $1 AND valid_to <= $1 + $2::interval
              AND stale_notice_version IS DISTINCT FROM version
            ORDER BY valid_to LIMIT $3 FOR UPDATE SKIP LOCKED""",
        now,
        notice,
        limit,
    )
    return [_offer(row) for row in rows]


async def mark_offer_notice(conn: Connection, offer: Offer) -> None:
    await conn.execute(
        "UPDATE offers SET stale_notice_version = $2 WHERE id = $1", offer.id, offer.version
    )


# --- needs ------------------------------------------------------------------------------------

_NEEDS = Table(
    "needs",
    (
        "id", "owner_id", "requester_kind", "territory_id", "status", "title", "description",
        "category", "quantity", "unit", "required_features", "weekly_windows", "dated_windows",
        "min_duration_minutes", "lat", "lon", "commune", "max_distance_km", "budget", "urgency",
        "expires_at", "version", "created_at", "updated_at", "project_id",
    ),
)  # fmt: skip
_NEED_COLUMNS = _NEEDS.select_list()


def _need(row: asyncpg.Record) -> Need:
    return Need(**_fields(row), location=_location(row))


def _need_row(need: Need) -> dict[str, Any]:
    return {
        "id": need.id,
        "owner_id": need.owner_id,
        "requester_kind": str(need.requester_kind),
        "territory_id": need.territory_id,
        "status": str(need.status),
        "title": need.title,
        "description": need.description,
        "category": need.category,
        "quantity": need.quantity,
        "unit": str(need.unit),
        "required_features": list(need.required_features),
        "weekly_windows": [w.model_dump(mode="json") for w in need.weekly_windows],
        "dated_windows": [w.model_dump(mode="json") for w in need.dated_windows],
        "min_duration_minutes": need.min_duration_minutes,
        **_location_columns(need.location),
        "max_distance_km": need.max_distance_km,
        "budget": need.budget.model_dump(mode="json"),
        "urgency": str(need.urgency),
        "expires_at": need.expires_at,
        "version": need.version,
        "created_at": need.created_at,
        "updated_at": need.updated_at,
        "project_id": need.project_id,
    }


async def insert_need(conn: Connection, need: Need) -> None:
    await conn.execute(_NEEDS.insert_sql(), *_NEEDS.values(_need_row(need)))


async def update_need(conn: Connection, need: Need) -> None:
    """Write the new state of a need read FOR UPDATE in the same transaction."""
    await conn.execute(_NEEDS.update_sql(), *_NEEDS.update_values(_need_row(need)))


async def get_need(conn: Connection, need_id: UUID, *, for_update: bool = False) -> Need | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_NEED_COLUMNS} FROM needs WHERE id = $1{lock}", need_id)
    return _need(row) if row else None


async def open_needs_of(conn: Connection, owner_id: UUID) -> list[Need]:
    rows = await conn.fetch(
        f"""SELECT {_NEED_COLUMNS} FROM needs WHERE owner_id = $1 AND status IN ('open', 'matched')
            ORDER BY created_at, id FOR UPDATE""",
        owner_id,
    )
    return [_need(row) for row in rows]


async def needs_past_expiry(conn: Connection, now: datetime, limit: int) -> list[Need]:
    """Open or matched needs past their expiry date, locked; rows held elsewhere are skipped."""
    rows = await conn.fetch(
        f"""SELECT {_NEED_COLUMNS} FROM needs
            WHERE status IN ('open', 'matched') AND expires_at <= $1
            ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_need(row) for row in rows]


async def needs_going_stale(
    conn: Connection, now: datetime, notice: timedelta, limit: int
) -> list[Need]:
    """Open or matched needs expiring within `notice` whose current version had no notice yet."""
    rows = await conn.fetch(
        f"""SELECT {_NEED_COLUMNS} FROM needs
            WHERE status IN ('open', 'matched') AND expires_at > $1
              AND expires_at <= $1 + $2::interval
              AND stale_notice_version IS DISTINCT FROM version
            ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED""",
        now,
        notice,
        limit,
    )
    return [_need(row) for row in rows]


async def mark_need_notice(conn: Connection, need: Need) -> None:
    await conn.execute(
        "UPDATE needs SET stale_notice_version = $2 WHERE id = $1", need.id, need.version
    )


# --- listings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Listing:
    """What a listing asks for; `viewer` and `facilitated` decide what the caller may see."""

    territory_id: UUID
    viewer: UUID
    facilitated: UUID | None
    public_statuses: tuple[str, ...]
    statuses: tuple[str, ...] | None = None
    categories: frozenset[str] | None = None
    owner_id: UUID | None = None
    near: Near | None = None
    after: tuple[datetime, UUID] | None = None
    limit: int = 50


class _Query:
    """Conditions and their numbered parameters, built together so that they never drift apart."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.conditions: list[str] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)


def _haversine_sql(alias: str, lat: str, lon: str) -> str:
    return (
        f"2 * {geo.EARTH_RADIUS_KM} * asin(least(1, sqrt("
        f"power(sin(radians({alias}.lat - {lat}) / 2), 2) + cos(radians({lat})) "
        f"* cos(radians({alias}.lat)) * power(sin(radians({alias}.lon - {lon}) / 2), 2))))"
    )


def _listing_conditions(
    query: _Query, listing: Listing, *, owned: str, geo_alias: str, category: str
) -> None:
    q = query
    q.where(f"{owned}.territory_id = {q.arg(listing.territory_id)}")
    visible = f"{owned}.status = ANY({q.arg(list(listing.public_statuses))}::text[]) "
    visible += f"OR {owned}.owner_id = {q.arg(listing.viewer)}"
    if listing.facilitated is not None:
        visible += f" OR {owned}.territory_id = {q.arg(listing.facilitated)}"
    q.where(f"({visible})")
    if listing.statuses is not None:
        q.where(f"{owned}.status = ANY({q.arg(list(listing.statuses))}::text[])")
    if listing.categories is not None:
        q.where(f"{category} = ANY({q.arg(sorted(listing.categories))}::text[])")
    if listing.owner_id is not None:
        q.where(f"{owned}.owner_id = {q.arg(listing.owner_id)}")
    if listing.near is not None:
        near = listing.near
        box = geo.bounding_box(near.lat, near.lon, near.radius_km)
        q.where(f"{geo_alias}.lat BETWEEN {q.arg(box.min_lat)} AND {q.arg(box.max_lat)}")
        if box.min_lon is not None:
            q.where(f"{geo_alias}.lon BETWEEN {q.arg(box.min_lon)} AND {q.arg(box.max_lon)}")
        lat, lon = f"{q.arg(near.lat)}::float8", f"{q.arg(near.lon)}::float8"
        q.where(f"{_haversine_sql(geo_alias, lat, lon)} <= {q.arg(near.radius_km)}")
    if listing.after is not None:
        created, last_id = listing.after
        q.where(f"({owned}.created_at, {owned}.id) < ({q.arg(created)}, {q.arg(last_id)})")


async def list_offers(conn: Connection, listing: Listing) -> list[Offer]:
    """A page of offers, newest first; the asset gives the category and the position."""
    q = _Query()
    _listing_conditions(q, listing, owned="o", geo_alias="a", category="a.category")
    rows = await conn.fetch(
        f"""SELECT {_OFFERS.select_list("o")} FROM offers o JOIN assets a ON a.id = o.asset_id
            WHERE {" AND ".join(q.conditions)}
            ORDER BY o.created_at DESC, o.id DESC LIMIT {q.arg(listing.limit)}""",
        *q.args,
    )
    return [_offer(row) for row in rows]


async def list_needs(conn: Connection, listing: Listing) -> list[Need]:
    """A page of needs, newest first."""
    q = _Query()
    _listing_conditions(q, listing, owned="n", geo_alias="n", category="n.category")
    rows = await conn.fetch(
        f"""SELECT {_NEED_COLUMNS} FROM needs n WHERE {" AND ".join(q.conditions)}
            ORDER BY n.created_at DESC, n.id DESC LIMIT {q.arg(listing.limit)}""",
        *q.args,
    )
    return [_need(row) for row in rows]


# --- bookings (read model of confirmed matches) -----------------------------------------------

_BOOKINGS = Table(
    "bookings",
    ("match_id", "offer_id", "need_id", "asset_id", "quantity", "week", "dated", "version"),
    key="match_id",
)


def _booking(row: asyncpg.Record) -> Booking:
    return Booking(
        match_id=row["match_id"],
        offer_id=row["offer_id"],
        need_id=row["need_id"],
        asset_id=row["asset_id"],
        quantity=row["quantity"],
        week=tuple((start, end) for start, end in row["week"]),
        dated=tuple((start, end) for start, end in row["dated"]),
        version=row["version"],
    )


async def insert_booking(conn: Connection, booking: Booking) -> bool:
    """Record a confirmed match; False when it was recorded already."""
    row = {
        "match_id": booking.match_id,
        "offer_id": booking.offer_id,
        "need_id": booking.need_id,
        "asset_id": booking.asset_id,
        "quantity": booking.quantity,
        "week": [list(i) for i in booking.week],
        "dated": [list(i) for i in booking.dated],
        "version": booking.version,
    }
    inserted = await conn.fetchval(
        f"{_BOOKINGS.insert_sql()} ON CONFLICT (match_id) DO NOTHING RETURNING true",
        *_BOOKINGS.values(row),
    )
    return bool(inserted)


async def delete_booking(conn: Connection, match_id: UUID) -> Booking | None:
    """End a booking; the booking ended, or None when there was none."""
    row = await conn.fetchrow(
        f"DELETE FROM bookings WHERE match_id = $1 RETURNING {_BOOKINGS.select_list()}", match_id
    )
    return _booking(row) if row else None


async def bookings_of(
    conn: Connection,
    *,
    asset_id: UUID | None = None,
    offer_id: UUID | None = None,
    need_id: UUID | None = None,
) -> list[Booking]:
    """The confirmed bookings of an asset, an offer or a need, oldest match first."""
    rows = await conn.fetch(
        f"""SELECT {_BOOKINGS.select_list()} FROM bookings
            WHERE ($1::uuid IS NULL OR asset_id = $1) AND ($2::uuid IS NULL OR offer_id = $2)
              AND ($3::uuid IS NULL OR need_id = $3)
            ORDER BY match_id""",
        asset_id,
        offer_id,
        need_id,
    )
    return [_booking(row) for row in rows]


# --- confirmed usage (mcvt.agreements) ---------------------------------------------------------


async def record_usage(
    conn: Connection, report_id: UUID, asset_id: UUID, start: datetime, end: datetime, hours: Any
) -> bool:
    """Keep a confirmed usage report of an asset; False when it was kept already."""
    kept = await conn.fetchval(
        """INSERT INTO asset_usage (report_id, asset_id, period_start, period_end, hours)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (report_id) DO NOTHING RETURNING true""",
        report_id,
        asset_id,
        start,
        end,
        hours,
    )
    return bool(kept)


async def usage_of(
    conn: Connection, asset_id: UUID, since: datetime
) -> tuple[list[tuple[datetime, datetime, Any]], datetime | None]:
    """The asset's confirmed usage ending after `since`, and the latest end of all."""
    rows = await conn.fetch(
        """SELECT period_start, period_end, hours FROM asset_usage
           WHERE asset_id = $1 AND period_end > $2""",
        asset_id,
        since,
    )
    latest = await conn.fetchval(
        "SELECT max(period_end) FROM asset_usage WHERE asset_id = $1", asset_id
    )
    return [(r["period_start"], r["period_end"], r["hours"]) for r in rows], latest


# --- personal data ----------------------------------------------------------------------------


async def personal_data(conn: Connection, actor_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """All offers holds about an actor: what it knows of it, and its assets, offers and needs
    (every column, so that a column added later is exported too)."""
    return {
        "actor": plain(await conn.fetch("SELECT * FROM actors WHERE actor_id = $1", actor_id)),
        "assets": plain(await conn.fetch("SELECT * FROM assets WHERE owner_id = $1", actor_id)),
        "offers": plain(await conn.fetch("SELECT * FROM offers WHERE owner_id = $1", actor_id)),
        "needs": plain(await conn.fetch("SELECT * FROM needs WHERE owner_id = $1", actor_id)),
    }
