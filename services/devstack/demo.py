"""The demo territory that `make run` loads: a facilitator, a business, an association, and (when
the offers service runs) a refrigerated van offered per use and a need for it; when matching and
agreements run too, both accept the match proposed and the draft agreement awaits signatures.

The territory and its first facilitator are created the way an operator does it
(`python -m services.actors bootstrap`); everything else goes through the public HTTP API.
The API keys are shown once by the services, so they are also written to `.run/demo.json` and
`.run/demo-keys.txt` (readable only by their owner); a run with `--keep-data` finds the demo
there and keeps it instead of making a second one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.runtime.context import Context
from services.runtime.db import create_pool


@dataclass(frozen=True)
class Member:
    """A demo actor and its API key."""

    role: str
    id: str
    name: str
    api_key: str


@dataclass(frozen=True)
class Listing:
    kind: str  # "offer" or "need"
    id: str
    title: str
    note: str


@dataclass(frozen=True)
class Demo:
    """What `load_demo` made: enough to use the demo without reading any log."""

    territory: str
    territory_id: str
    members: tuple[Member, ...]
    listings: tuple[Listing, ...] = ()

    def summary(self, actors_url: str) -> list[str]:
        """The lines that tell a newcomer how to use the demo."""
        lines = [f"demo territory '{self.territory}' ({self.territory_id})"]
        for member in self.members:
            lines.append(f"  {member.role:<11} {member.name} ({member.id})")
            lines.append(f"  {'':<11} API key: {member.api_key}")
        lines += [
            f"  {item.kind:<9} '{item.title}' ({item.id}), {item.note}" for item in self.listings
        ]
        lines.append(
            f"  get a token: curl -s -X POST {actors_url}/v1/auth/token "
            "-H 'content-type: application/json' -d '{\"api_key\": \"<key>\"}'"
        )
        return lines

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Demo:
        return cls(
            territory=data["territory"],
            territory_id=data["territory_id"],
            members=tuple(Member(**member) for member in data["members"]),
            listings=tuple(Listing(**item) for item in data.get("listings", ())),
        )


TERRITORY = "Vallée de la Drôme (démo)"
FACILITATOR = "Équipe d'animation MCVT"

BUSINESS = {
    "kind": "business",
    "name": "Transports Frigorifiques du Diois",
    "email": "contact@frigo-diois.example",
    "location": {"lat": 44.7536, "lon": 5.3703, "commune": "Die"},
    "description": "PME de transport ; un camion frigorifique reste au dépôt les week-ends.",
    "siret": "73282932000074",
}
ASSOCIATION = {
    "kind": "association",
    "name": "Épicerie solidaire du Diois",
    "email": "bonjour@epicerie-diois.example",
    "location": {"lat": 44.7420, "lon": 5.3650, "commune": "Die"},
    "description": "Collecte des invendus frais auprès des producteurs le samedi matin.",
}


async def _admitted_actor(
    client: httpx.AsyncClient, territory_id: str, body: dict[str, Any], facilitator: dict[str, str]
) -> tuple[str, str]:
    response = await client.post("/v1/actors", json={**body, "territory_id": territory_id})
    response.raise_for_status()
    registered = response.json()
    actor_id = registered["actor"]["id"]
    (await client.post(f"/v1/actors/{actor_id}/admit", headers=facilitator)).raise_for_status()
    return actor_id, registered["api_key"]["key"]


async def _token(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


SATURDAY = 5
VAN = {
    "category": "refrigerated_van",
    "title": "Fourgon frigorifique 12 m³",
    "description": "Fourgon frigorifique, groupe froid récent, au dépôt de Die le week-end.",
    "capacity": 1,
    "unit": "unit",
    "features": ["refrigerated", "tail_lift"],
    "availability": {
        "weekly": [
            {"weekday": SATURDAY, "start_minute": 7 * 60, "end_minute": 19 * 60},
            {"weekday": SATURDAY + 1, "start_minute": 7 * 60, "end_minute": 19 * 60},
        ]
    },
    "idle_share": 0.8,
}
OFFER = {
    "title": "Transport frigorifique à l'usage, avec chauffeur",
    "description": "Fourgon frigorifique avec chauffeur, payé à l'usage, le week-end.",
    "performance": [
        {"name": "availability", "unit": "%", "target": 95, "comparator": "gte"},
        {"name": "temperature", "unit": "°C", "target": 4, "comparator": "lte"},
        {"name": "ready_within", "unit": "h", "target": 2, "comparator": "lte"},
    ],
    "price": {"model": "per_use", "unit_price": 35},
    "eligible_requester_kinds": ["association"],
    "max_distance_km": 25,
}
NEED = {
    "title": "Un fourgon frigorifique le samedi matin",
    "description": "Collecte des invendus frais chez les producteurs, le samedi de 8 h à 12 h.",
    "category": "refrigerated_van",
    "quantity": 1,
    "unit": "unit",
    "required_features": ["refrigerated"],
    "weekly_windows": [{"weekday": SATURDAY, "start_minute": 8 * 60, "end_minute": 12 * 60}],
    "min_duration_minutes": 240,
    "max_distance_km": 15,
    "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
    "urgency": "normal",
}


async def _post_when_known(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST, retrying while the service has not yet heard (by event) of the actor (401 with
    Retry-After) or that it is active (403)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.post(path, json=body, headers=headers)
        if response.status_code < 400 or response.status_code not in (401, 403, 404, 409):
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        if time.monotonic() > deadline:
            response.raise_for_status()
        await asyncio.sleep(0.2)


async def _supply_and_demand(
    url: str, business_key: str, association_key: str, actors_url: str
) -> tuple[Listing, ...]:
    async with httpx.AsyncClient(base_url=actors_url, timeout=10) as actors:
        business = await _token(actors, business_key)
        association = await _token(actors, association_key)
    async with httpx.AsyncClient(base_url=url, timeout=10) as offers:
        asset = await _post_when_known(offers, "/v1/assets", VAN, business)
        offer = await _post_when_known(
            offers, "/v1/offers", {**OFFER, "asset_id": asset["id"]}, business
        )
        need = await _post_when_known(offers, "/v1/needs", NEED, association)
    return (
        Listing("offer", offer["id"], offer["title"], "per use at 35 EUR"),
        Listing("need", need["id"], need["title"], "Saturday 8:00-12:00"),
    )


async def _get_when_there(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """The items of a listing, once it has any (events reach each service asynchronously)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(path, headers=headers)
        items: list[dict[str, Any]] = (
            response.json().get("items", []) if response.is_success else []
        )
        if items or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.3)


async def _agreement(
    urls: dict[str, str], business_key: str, association_key: str
) -> tuple[Listing, ...]:
    """Both parties accept the match proposed for the demo need; its draft agreement."""
    async with httpx.AsyncClient(base_url=urls["actors"], timeout=10) as actors:
        business = await _token(actors, business_key)
        association = await _token(actors, association_key)
    async with httpx.AsyncClient(base_url=urls["matching"], timeout=10) as matching:
        proposed = await _get_when_there(matching, "/v1/matches?status=proposed", business)
        if not proposed:
            return ()
        for party in (business, association):
            accepted = await matching.post(f"/v1/matches/{proposed[0]['id']}/accept", headers=party)
            accepted.raise_for_status()
    async with httpx.AsyncClient(base_url=urls["agreements"], timeout=10) as agreements:
        drafts = await _get_when_there(agreements, "/v1/agreements?status=draft", business)
    return tuple(
        Listing("agreement", a["id"], "Convention de transport frigorifique", "draft to sign")
        for a in drafts[:1]
    )


DEMO_JSON = "demo.json"
DEMO_KEYS = "demo-keys.txt"


def _write_private(path: Path, text: str) -> None:
    # API keys: readable by their owner only, from the moment the file exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an older file may have been created with wider rights


def save_demo(demo: Demo, data_dir: Path, actors_url: str) -> list[Path]:
    """Write the demo to DATA_DIR/demo.json (for scripts) and demo-keys.txt (for people)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    as_json, as_text = data_dir / DEMO_JSON, data_dir / DEMO_KEYS
    _write_private(as_json, json.dumps(demo.to_json(), indent=2, ensure_ascii=False) + "\n")
    _write_private(as_text, "\n".join(demo.summary(actors_url)) + "\n")
    return [as_json, as_text]


def saved_demo(data_dir: Path) -> Demo | None:
    """The demo the last run saved in DATA_DIR, if any."""
    try:
        data = json.loads((data_dir / DEMO_JSON).read_text(encoding="utf-8"))
        return Demo.from_json(data)
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


async def demo_in_database(demo: Demo, actors_database_url: str) -> bool:
    """Whether the actors database still holds the demo's territory and members."""
    conn = await asyncpg.connect(actors_database_url)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM actors WHERE territory_id = $1 AND id = ANY($2::uuid[])",
            demo.territory_id,
            [member.id for member in demo.members],
        )
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()
    return bool(found == len(demo.members))


async def load_demo(urls: dict[str, str], database_urls: dict[str, str]) -> Demo:
    """Create the demo territory through the services at `urls`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pool = await create_pool(database_urls["actors"], min_size=1, max_size=2)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": "00000000-0000-0000-0000-000000000000",
                "kind": "association",
                "name": FACILITATOR,
                "email": "animation@mcvt.example",
            }
        )
        territory_id, facilitator_actor, facilitator_key = await bootstrap_territory(
            pool, TERRITORY, draft, Context(ActorsSettings().source)
        )
    finally:
        await pool.close()
    assert facilitator_actor is not None and facilitator_key is not None
    async with httpx.AsyncClient(base_url=urls["actors"], timeout=10) as actors:
        facilitator = await _token(actors, facilitator_key.api_key)
        business_id, business_key = await _admitted_actor(
            actors, str(territory_id), BUSINESS, facilitator
        )
        association_id, association_key = await _admitted_actor(
            actors, str(territory_id), ASSOCIATION, facilitator
        )
    members = (
        Member("facilitator", str(facilitator_actor.id), FACILITATOR, facilitator_key.api_key),
        Member("business", business_id, str(BUSINESS["name"]), business_key),
        Member("association", association_id, str(ASSOCIATION["name"]), association_key),
    )
    listings: tuple[Listing, ...] = ()
    if "offers" in urls:
        listings = await _supply_and_demand(
            urls["offers"], business_key, association_key, urls["actors"]
        )
    if "offers" in urls and "matching" in urls and "agreements" in urls:
        listings += await _agreement(urls, business_key, association_key)
    return Demo(TERRITORY, str(territory_id), members, listings)
