"""The offers database: SQL in the open, one function per query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts.actors import Location
from services.offers import geo
from services.offers.domain import ActorRecord, Asset, Need, Offer
from services.runtime.db import Connection


def _location(row: asyncpg.Record) -> Location:
    return Location(lat=row["lat"], lon=row["lon"], commune=row["commune"])


def _fields(row: asyncpg.Record) -> dict[str, Any]:
    return {
        k: row[k] for k in row.keys() if k not in ("lat", "lon", "commune", "stale_notice_version")
    }


# --- actors (read model) ----------------------------------------------------------------------


async def get_actor(conn: Connection, actor_id: UUID) -> ActorRecord | None:
    row = await conn.fetchrow(
        "SELECT actor_id, territory_id, kind, status, lat, lon, commune, version FROM actors "
        "WHERE actor_id = $1",
        actor_id,
    )
    if row is None:
        return None
    location = _location(row) if row["lat"] is not None else None
    return ActorRecord(**_fields(row), location=location)


async def save_actor_if_newer(conn: Connection, actor: ActorRecord) -> bool:
    """Store the actor unless a version at least as new is stored; True when stored."""
    loc = actor.location
    stored = await conn.fetchval(
        """INSERT INTO actors (actor_id, territory_id, kind, status, lat, lon, commune, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (actor_id) DO UPDATE SET
               territory_id = EXCLUDED.territory_id, kind = EXCLUDED.kind, status = EXCLUDED.status,
               lat = EXCLUDED.lat, lon = EXCLUDED.lon, commune = EXCLUDED.commune,
               version = EXCLUDED.version
           WHERE actors.version < EXCLUDED.version
           RETURNING true""",
        actor.actor_id, actor.territory_id, str(actor.kind), str(actor.status),
        loc.lat if loc else None, loc.lon if loc else None, loc.commune if loc else None,
        actor.version,
    )  # fmt: skip
    return bool(stored)


# --- assets -----------------------------------------------------------------------------------

_ASSET_COLUMNS = """id, owner_id, territory_id, category, title, description, capacity, unit,
    features, lat, lon, commune, availability, idle_share, version, created_at, updated_at"""


def _asset(row: asyncpg.Record) -> Asset:
    return Asset(**_fields(row), location=_location(row))


def _asset_values(asset: Asset) -> tuple[Any, ...]:
    loc = asset.location
    return (
        asset.id, asset.owner_id, asset.territory_id, asset.category, asset.title,
        asset.description, asset.capacity, str(asset.unit), list(asset.features),
        loc.lat, loc.lon, loc.commune, asset.availability.model_dump(mode="json"),
        asset.idle_share, asset.version, asset.created_at, asset.updated_at,
    )  # fmt: skip


async def insert_asset(conn: Connection, asset: Asset) -> None:
    await conn.execute(
        f"INSERT INTO assets ({_ASSET_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        *_asset_values(asset),
    )


async def update_asset(conn: Connection, asset: Asset) -> None:
    """Write the new state of an asset read FOR UPDATE in the same transaction."""
    await conn.execute(
        """UPDATE assets SET owner_id = $2, territory_id = $3, category = $4, title = $5,
               description = $6, capacity = $7, unit = $8, features = $9, lat = $10, lon = $11,
               commune = $12, availability = $13, idle_share = $14, version = $15,
               created_at = $16, updated_at = $17
           WHERE id = $1""",
        *_asset_values(asset),
    )


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
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_asset(row) for row in rows]


# --- offers -----------------------------------------------------------------------------------

_OFFER_COLUMNS = """id, asset_id, owner_id, territory_id, status, title, description, performance,
    price, eligible_requester_kinds, max_distance_km, valid_from, valid_to, version, created_at,
    updated_at"""


def _offer(row: asyncpg.Record) -> Offer:
    return Offer(**_fields(row))


def _offer_values(offer: Offer) -> tuple[Any, ...]:
    return (
        offer.id, offer.asset_id, offer.owner_id, offer.territory_id, str(offer.status),
        offer.title, offer.description, [i.model_dump(mode="json") for i in offer.performance],
        offer.price.model_dump(mode="json"), [str(k) for k in offer.eligible_requester_kinds],
        offer.max_distance_km, offer.valid_from, offer.valid_to, offer.version, offer.created_at,
        offer.updated_at,
    )  # fmt: skip


async def insert_offer(conn: Connection, offer: Offer) -> None:
    await conn.execute(
        f"INSERT INTO offers ({_OFFER_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        *_offer_values(offer),
    )


async def update_offer(conn: Connection, offer: Offer) -> None:
    """Write the new state of an offer read FOR UPDATE in the same transaction."""
    await conn.execute(
        """UPDATE offers SET asset_id = $2, owner_id = $3, territory_id = $4, status = $5,
               title = $6, description = $7, performance = $8, price = $9,
               eligible_requester_kinds = $10, max_distance_km = $11, valid_from = $12,
               valid_to = $13, version = $14, created_at = $15, updated_at = $16
           WHERE id = $1""",
        *_offer_values(offer),
    )


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

_NEED_COLUMNS = """id, owner_id, requester_kind, territory_id, status, title, description, category,
    quantity, unit, required_features, weekly_windows, dated_windows, min_duration_minutes, lat,
    lon, commune, max_distance_km, budget, urgency, expires_at, version, created_at, updated_at"""


def _need(row: asyncpg.Record) -> Need:
    return Need(**_fields(row), location=_location(row))


def _need_values(need: Need) -> tuple[Any, ...]:
    loc = need.location
    return (
        need.id, need.owner_id, str(need.requester_kind), need.territory_id, str(need.status),
        need.title, need.description, need.category, need.quantity, str(need.unit),
        list(need.required_features), [w.model_dump(mode="json") for w in need.weekly_windows],
        [w.model_dump(mode="json") for w in need.dated_windows], need.min_duration_minutes,
        loc.lat, loc.lon, loc.commune, need.max_distance_km, need.budget.model_dump(mode="json"),
        str(need.urgency), need.expires_at, need.version, need.created_at, need.updated_at,
    )  # fmt: skip


async def insert_need(conn: Connection, need: Need) -> None:
    await conn.execute(
        f"INSERT INTO needs ({_NEED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        *_need_values(need),
    )


async def update_need(conn: Connection, need: Need) -> None:
    """Write the new state of a need read FOR UPDATE in the same transaction."""
    await conn.execute(
        """UPDATE needs SET owner_id = $2, requester_kind = $3, territory_id = $4, status = $5,
               title = $6, description = $7, category = $8, quantity = $9, unit = $10,
               required_features = $11, weekly_windows = $12, dated_windows = $13,
               min_duration_minutes = $14, lat = $15, lon = $16, commune = $17,
               max_distance_km = $18, budget = $19, urgency = $20, expires_at = $21,
               version = $22, created_at = $23, updated_at = $24
           WHERE id = $1""",
        *_need_values(need),
    )


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
    columns = ", ".join(f"o.{c.strip()}" for c in _OFFER_COLUMNS.split(","))
    rows = await conn.fetch(
        f"""SELECT {columns} FROM offers o JOIN assets a ON a.id = o.asset_id
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
