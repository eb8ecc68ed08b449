"""The demo territory that `make run` loads, from its readable data file `demo_territory.toml`:
the Petite Montagne (Jura), its facilitators, associations, businesses, town hall and citizens,
their offers and needs (when the offers service runs), matches proposed and confirmed (when
matching runs too) and a vote under way (when governance runs).

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
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.portal.places import commune_location
from services.runtime.context import Context
from services.runtime.db import create_pool


@dataclass(frozen=True)
class Member:
    """A demo actor and its API key."""

    role: str
    id: str
    name: str
    api_key: str
    email: str = ""


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

    def sign_in_lines(self, portal_url: str, mail: str) -> list[str]:
        """A demo sign-in for each kind of actor: the address to type at the portal."""
        lines = [f"demo territory '{self.territory}': sign in at {portal_url}/connexion as"]
        shown: set[str] = set()
        for member in self.members:
            if member.role in shown or not member.email:
                continue
            shown.add(member.role)
            lines.append(f"  {member.role:<17} {member.email:<40} ({member.name})")
        if mail:
            lines.append(f"  the sign-in link arrives by mail: {mail}")
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


DATA_FILE = Path(__file__).with_name("demo_territory.toml")
PARIS = ZoneInfo("Europe/Paris")


def demo_data(path: Path = DATA_FILE) -> dict[str, Any]:
    """The demo territory as its readable data file describes it."""
    with path.open("rb") as file:
        return tomllib.load(file)


def _minute(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def weekly(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`{weekday, start: "08:00", end: "12:00"}` as the API's weekly slots."""
    return [
        {
            "weekday": s["weekday"],
            "start_minute": _minute(s["start"]),
            "end_minute": _minute(s["end"]),
        }
        for s in slots
    ]


def registration(actor: dict[str, Any], territory_id: str) -> dict[str, Any]:
    body = {
        "territory_id": territory_id,
        "kind": actor["kind"],
        "name": actor["name"],
        "email": actor["email"],
        "description": actor.get("description", ""),
        "location": commune_location(actor["commune"]),
    }
    if actor.get("siret"):
        body["siret"] = actor["siret"]
    return body


def asset_body(offer: dict[str, Any]) -> dict[str, Any]:
    return {**offer["asset"], "availability": {"weekly": weekly(offer["weekly"])}}


def offer_body(offer: dict[str, Any], asset_id: str) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "title": offer["title"],
        "description": offer.get("description", ""),
        "price": offer["price"],
        "performance": offer.get("performance", []),
        "eligible_requester_kinds": offer.get("eligible", []),
        "max_distance_km": offer["max_distance_km"],
    }


def need_body(need: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": need["title"],
        "description": need.get("description", ""),
        "category": need["category"],
        "quantity": need["quantity"],
        "unit": need["unit"],
        "required_features": need.get("features", []),
        "weekly_windows": weekly(need["weekly"]),
        "min_duration_minutes": need["min_duration_minutes"],
        "max_distance_km": need["max_distance_km"],
        "budget": need["budget"],
    }


def _standard_pair() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    data = demo_data()
    van = next(offer for offer in data["offer"] if offer["key"] == "fourgon")
    need = next(need for need in data["need"] if need["key"] == "tournee")
    offer = {key: value for key, value in offer_body(van, "").items() if key != "asset_id"}
    return asset_body(van), offer, need_body(need)


# The refrigerated van, its offer and the Saturday need it meets: the benchmarks' standard pair.
VAN, OFFER, NEED = _standard_pair()


async def _admitted_actor(
    client: httpx.AsyncClient, body: dict[str, Any], facilitator: dict[str, str]
) -> tuple[str, str]:
    response = await client.post("/v1/actors", json=body)
    response.raise_for_status()
    registered = response.json()
    actor_id = registered["actor"]["id"]
    (await client.post(f"/v1/actors/{actor_id}/admit", headers=facilitator)).raise_for_status()
    return actor_id, registered["api_key"]["key"]


async def _token(client: httpx.AsyncClient, api_key: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"api_key": api_key})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _post_when_known(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    timeout_s: float = 30,
) -> dict[str, Any]:
    """POST, retrying while the service has not yet heard (by event) of the actor (401 with
    Retry-After) or that it is active (403), or of the need or offer named (404, 409)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.post(path, json=body, headers=headers)
        if response.status_code < 400 or response.status_code not in (401, 403, 404, 409):
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
        if time.monotonic() > deadline:
            response.raise_for_status()
        await asyncio.sleep(0.2)


async def _proposal(
    client: httpx.AsyncClient, need_id: str, offer_id: str, headers: dict[str, str]
) -> str:
    """The id of the match the engine proposed for this pair (it works from events: wait)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await client.get("/v1/matches", headers=headers, params={"limit": 100})
        if response.status_code == 200:
            for match in response.json()["items"]:
                if match["need_id"] == need_id and match["offer_id"] == offer_id:
                    return str(match["id"])
        await asyncio.sleep(0.3)
    raise RuntimeError(f"no match proposed for need {need_id} and offer {offer_id}")


async def _marketplace(
    urls: dict[str, str], data: dict[str, Any], headers: dict[str, dict[str, str]]
) -> tuple[Listing, ...]:
    """Assets and offers, then needs, then the parties' answers to the engine's proposals."""
    listings: list[Listing] = []
    offer_ids: dict[str, tuple[str, str]] = {}  # key -> (offer id, owner key)
    need_ids: dict[str, tuple[str, str]] = {}
    async with httpx.AsyncClient(base_url=urls["offers"], timeout=10) as offers:
        for offer in data.get("offer", []):
            owner = headers[offer["owner"]]
            asset = await _post_when_known(offers, "/v1/assets", asset_body(offer), owner)
            made = await _post_when_known(
                offers, "/v1/offers", offer_body(offer, asset["id"]), owner
            )
            offer_ids[offer["key"]] = (made["id"], offer["owner"])
            listings.append(Listing("offer", made["id"], made["title"], offer["owner"]))
        for need in data.get("need", []):
            made = await _post_when_known(
                offers, "/v1/needs", need_body(need), headers[need["owner"]]
            )
            need_ids[need["key"]] = (made["id"], need["owner"])
            listings.append(Listing("need", made["id"], made["title"], need["owner"]))
    if "matching" in urls:
        async with httpx.AsyncClient(base_url=urls["matching"], timeout=10) as matching:
            for answer in data.get("answer", []):
                need_id, requester = need_ids[answer["need"]]
                offer_id, provider = offer_ids[answer["offer"]]
                match_id = await _proposal(matching, need_id, offer_id, headers[requester])
                for party in answer["accept"]:
                    who = headers[requester if party == "requester" else provider]
                    await _post_when_known(matching, f"/v1/matches/{match_id}/accept", None, who)
    return tuple(listings)


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


async def _agreements(
    urls: dict[str, str], data: dict[str, Any], headers: dict[str, dict[str, str]]
) -> tuple[Listing, ...]:
    """The draft agreements the confirmed matches became (agreements works from events: wait)."""
    owners = {need["key"]: need["owner"] for need in data.get("need", [])}
    requesters = {
        owners[answer["need"]]
        for answer in data.get("answer", [])
        if {"requester", "provider"} <= set(answer["accept"])
    }
    found: dict[str, Listing] = {}
    async with httpx.AsyncClient(base_url=urls["agreements"], timeout=10) as agreements:
        for key in sorted(requesters):
            path = "/v1/agreements?status=draft"
            for draft in await _get_when_there(agreements, path, headers[key]):
                found.setdefault(draft["id"], Listing("agreement", draft["id"], "à signer", key))
    return tuple(found.values())


def vote_body(vote: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The data file's vote as a proposal's draft, closing `days` after `now`."""
    return {
        "kind": vote["kind"],
        "title": vote["title"],
        "description": vote.get("description", ""),
        "method": vote.get("method", "majority"),
        "parameters": vote.get("parameters", {}),
        "closes_at": (now + timedelta(days=vote["days"])).isoformat(),
    }


async def _members_known_to_governance(
    governance: httpx.AsyncClient, territory_id: str, count: int, headers: dict[str, str]
) -> None:
    """Wait until governance (which learns of members by event) counts `count` members: a
    proposal's electorate is frozen when it opens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await governance.get(f"/v1/territories/{territory_id}/colleges", headers=headers)
        if response.is_success and sum(response.json()["members"].values()) >= count:
            return
        await asyncio.sleep(0.3)
    raise RuntimeError(f"governance does not know the {count} members of the demo territory")


async def _vote_under_way(
    url: str,
    data: dict[str, Any],
    territory_id: str,
    members: int,
    facilitator: dict[str, str],
    headers: dict[str, dict[str, str]],
) -> tuple[Listing, ...]:
    """The vote of the data file, opened by the facilitator, with some members' ballots."""
    vote = data.get("vote")
    if not vote:
        return ()
    async with httpx.AsyncClient(base_url=url, timeout=10) as governance:
        await _members_known_to_governance(governance, territory_id, members, facilitator)
        body = vote_body(vote, datetime.now(UTC))
        opened = await _post_when_known(governance, "/v1/proposals", body, facilitator)
        for voter, choice in vote.get("ballots", {}).items():
            path = f"/v1/proposals/{opened['id']}/votes"
            await _post_when_known(governance, path, {"choice": choice}, headers[voter])
    return (Listing("vote", opened["id"], opened["title"], "facilitator"),)


# --- an agreement at work ---------------------------------------------------------------------


def running_need_body(running: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The need of the agreement at work: one dated window opening shortly after `now` (Paris
    time), the need expiring when it closes."""
    opens = (now + timedelta(seconds=running["opens_after_s"])).astimezone(PARIS)
    opens = opens.replace(microsecond=0)
    closes = opens + timedelta(minutes=running["window_minutes"])
    return {
        **running["need"],
        "required_features": running["need"].get("features", []),
        "features": None,
        "weekly_windows": [],
        "dated_windows": [{"start": opens.isoformat(), "end": closes.isoformat()}],
        "expires_at": closes.isoformat(),
    }


async def _until(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    ready: Callable[[Any], bool],
    timeout_s: float = 90,
) -> Any:
    """GET `path` until its answer is `ready` (the services work from events and timed jobs)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(path, headers=headers)
        if response.is_success and ready(found := response.json()):
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not reach the state awaited")
        await asyncio.sleep(0.3)


async def _agreement_at_work(
    urls: dict[str, str], data: dict[str, Any], headers: dict[str, dict[str, str]]
) -> tuple[Listing, ...]:
    """The `[running]` pair: matched, signed by both, started, its first use reported and
    confirmed, and the value it created declared and confirmed, all through the public APIs."""
    running = data["running"]
    provider, beneficiary = headers[running["provider"]], headers[running["beneficiary"]]
    async with httpx.AsyncClient(base_url=urls["offers"], timeout=10) as offers:
        asset = await _post_when_known(offers, "/v1/assets", asset_body(running), provider)
        made = await _post_when_known(
            offers, "/v1/offers", offer_body(running, asset["id"]), provider
        )
        body = {
            k: v for k, v in running_need_body(running, datetime.now(UTC)).items() if v is not None
        }
        wanted = await _post_when_known(offers, "/v1/needs", body, beneficiary)
    async with httpx.AsyncClient(base_url=urls["matching"], timeout=10) as matching:
        match_id = await _proposal(matching, wanted["id"], made["id"], beneficiary)
        for who in (beneficiary, provider):
            await _post_when_known(matching, f"/v1/matches/{match_id}/accept", None, who)
    async with httpx.AsyncClient(base_url=urls["agreements"], timeout=10) as agreements:
        listed = await _until(
            agreements,
            "/v1/agreements",
            provider,
            lambda page: any(a["need_id"] == wanted["id"] for a in page["items"]),
        )
        agreement_id = next(a["id"] for a in listed["items"] if a["need_id"] == wanted["id"])
        base = f"/v1/agreements/{agreement_id}"
        for who in (provider, beneficiary):
            draft = (await agreements.get(base, headers=who)).json()
            version = next(
                v for v in draft["versions"] if v["terms"]["version"] == draft["terms_version"]
            )
            signed = await agreements.post(
                f"{base}/sign",
                json={"terms_version": draft["terms_version"], "terms_hash": version["terms_hash"]},
                headers=who,
            )
            signed.raise_for_status()
        active = await _until(agreements, base, provider, lambda a: a["status"] == "active")
        started = datetime.fromisoformat(active["starts_at"])
        usage = running["usage"]
        report = await agreements.post(
            f"{base}/usage",
            json={
                "period_start": started.isoformat(),
                "period_end": max(datetime.now(UTC), started + timedelta(minutes=1)).isoformat(),
                "quantity": str(usage["quantity"]),
                "measurements": {k: str(v) for k, v in usage.get("measurements", {}).items()},
            },
            headers=provider,
        )
        report.raise_for_status()
        confirmed = await agreements.post(
            f"{base}/usage/{report.json()['id']}/confirm", headers=beneficiary
        )
        confirmed.raise_for_status()
        for value in running.get("value", []):
            declared = await agreements.post(
                f"{base}/value-declarations",
                json={"period_start": started.isoformat(), **value},
                headers=beneficiary,
            )
            declared.raise_for_status()
            accepted = await agreements.post(
                f"{base}/value-declarations/{declared.json()['id']}/confirm", headers=provider
            )
            accepted.raise_for_status()
    return (Listing("agreement", agreement_id, "en cours", running["beneficiary"]),)


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


async def load_demo(
    urls: dict[str, str], database_urls: dict[str, str], data: dict[str, Any] | None = None
) -> Demo:
    """Create the demo territory of the data file through the services at `urls`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data = data or demo_data()
    facilitator_data = data["facilitator"]
    pool = await create_pool(database_urls["actors"], min_size=1, max_size=2)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": "00000000-0000-0000-0000-000000000000",
                "kind": "association",
                "name": facilitator_data["name"],
                "email": facilitator_data["email"],
            }
        )
        territory_id, facilitator_actor, facilitator_key = await bootstrap_territory(
            pool, data["territory"], draft, Context(ActorsSettings().source)
        )
    finally:
        await pool.close()
    assert facilitator_actor is not None and facilitator_key is not None
    members = [
        Member(
            "facilitator",
            str(facilitator_actor.id),
            facilitator_data["name"],
            facilitator_key.api_key,
            facilitator_data["email"],
        )
    ]
    headers: dict[str, dict[str, str]] = {}
    async with httpx.AsyncClient(base_url=urls["actors"], timeout=10) as actors:
        facilitator = await _token(actors, facilitator_key.api_key)
        for actor in data.get("actor", []):
            body = registration(actor, str(territory_id))
            actor_id, key = await _admitted_actor(actors, body, facilitator)
            members.append(Member(actor["kind"], actor_id, actor["name"], key, actor["email"]))
            headers[actor["key"]] = await _token(actors, key)
    listings: tuple[Listing, ...] = ()
    if "offers" in urls:
        listings = await _marketplace(urls, data, headers)
    if "offers" in urls and "matching" in urls and "agreements" in urls:
        listings += await _agreements(urls, data, headers)
        if "running" in data:
            listings += await _agreement_at_work(urls, data, headers)
    if "governance" in urls:
        listings += await _vote_under_way(
            urls["governance"], data, str(territory_id), len(members), facilitator, headers
        )
    return Demo(data["territory"], str(territory_id), tuple(members), listings)
