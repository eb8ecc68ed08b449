"""The soak's territory and the work its members do through the public APIs.

The territory and its first facilitator are created as an operator does
(`python -m services.actors bootstrap`, here its function on actors' database); everything else
is an HTTP request to a service, timed: businesses register and are admitted, declare a
refrigerated van and offer its use; associations publish needs for a use under way. Needs of
the `publishers` are withdrawn after a while, so the open needs stay bounded as in a living
territory; needs of the `acceptor` are accepted by both parties (the engine's first proposal),
their agreements signed by both, and once active a use is reported and confirmed. Members vote,
and change their vote, on a motion. A partner's webhook receiver follows the territory's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.actors.settings import ActorsSettings
from services.devstack.demo import NEED, OFFER, VAN
from services.runtime.context import Context
from services.runtime.db import create_pool

PLACE = {"lat": 46.3921, "lon": 5.5683, "commune": "Arinthod"}
ALL_WEEK = {"weekly": [{"weekday": d, "start_minute": 0, "end_minute": 1440} for d in range(7)]}
WITHDRAW_AFTER_S = 30.0  # how long a publisher's need stays open
EVENT_TYPES = [
    "mcvt.need.*",
    "mcvt.offer.*",
    "mcvt.match.*",
    "mcvt.agreement.*",
    "mcvt.governance.*",
]


@dataclass
class Sample:
    at: float  # seconds since the clock's start
    op: str
    seconds: float
    status: int  # 0: no answer (a transport error)


@dataclass
class Clock:
    """Every request's latency, by time; the soak's time origin."""

    start: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.start

    def since(self, t: float, op: str | None = None) -> list[Sample]:
        return [s for s in self.samples if s.at >= t and (op is None or s.op == op)]


@dataclass(frozen=True)
class Actor:
    id: str
    kind: str
    headers: dict[str, str]


@dataclass
class Cast:
    territory_id: str
    facilitator: Actor
    businesses: list[Actor]
    publishers: list[Actor]
    acceptor: Actor
    motion_id: str = ""

    @property
    def members(self) -> list[Actor]:
        return [self.facilitator, *self.businesses, *self.publishers, self.acceptor]

    def by_id(self, actor_id: str) -> Actor:
        return next(a for a in self.members if a.id == actor_id)


@dataclass
class Ledger:
    """What the load did and was acknowledged: the effects to find again at the end."""

    needs: dict[str, str] = field(default_factory=dict)  # need id -> owner id
    to_withdraw: list[tuple[float, str, str]] = field(default_factory=list)  # (due, need, owner)
    wanted: set[str] = field(default_factory=set)  # the acceptor's needs not yet confirmed
    tried: set[str] = field(default_factory=set)  # matches accepted or refused
    confirmed: dict[str, str] = field(default_factory=dict)  # match id -> need id
    signed: set[str] = field(default_factory=set)  # agreements signed by both
    usage: Counter[str] = field(default_factory=Counter)  # agreement id -> usage reports
    votes: Counter[str] = field(default_factory=Counter)  # voter id -> votes cast
    offers: list[str] = field(default_factory=list)
    withdrawn: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # op -> 5xx or no answer


class Api:
    """One client per service; every request timed into the clock."""

    def __init__(self, urls: Mapping[str, str], clock: Clock) -> None:
        self.clock = clock
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False)
            for name, url in urls.items()
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        op: str,
        *,
        actor: Actor | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response | None:
        started = time.monotonic()
        headers = actor.headers if actor else None
        try:
            response = await self.clients[service].request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError:
            response = None
        status = response.status_code if response is not None else 0
        self.clock.samples.append(
            Sample(started - self.clock.start, op, time.monotonic() - started, status)
        )
        return response

    async def until_known(
        self, service: str, path: str, op: str, actor: Actor, body: Any, timeout_s: float = 60
    ) -> dict[str, Any]:
        """POST, retrying while the service has not yet heard (by event) of the actor or of what
        the body names (401, 403, 404, 409): each service learns of the others by events."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = await self.call(service, "POST", path, op, actor=actor, json=body)
            if response is not None and response.is_success:
                found: dict[str, Any] = response.json()
                return found
            if time.monotonic() > deadline:
                text = response.text if response is not None else "no answer"
                raise RuntimeError(f"POST {service}{path}: {text}")
            await asyncio.sleep(0.5)

    async def pages(
        self, service: str, path: str, actor: Actor, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a cursor-paged listing."""
        cursor: str | None = None
        while True:
            query = {**(params or {}), "limit": 100} | ({"cursor": cursor} if cursor else {})
            response = await self.call(service, "GET", path, "read", actor=actor, params=query)
            if response is None or not response.is_success:
                text = response.text if response is not None else "no answer"
                raise RuntimeError(f"GET {service}{path}: {text}")
            page = response.json()
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return


# --- the territory --------------------------------------------------------------------------------


async def _token(api: Api, api_key: str) -> dict[str, str]:
    response = await api.call(
        "actors", "POST", "/v1/auth/token", "setup", json={"api_key": api_key}
    )
    if response is None or not response.is_success:
        raise RuntimeError(f"no token: {response.text if response is not None else 'no answer'}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _member(api: Api, territory_id: str, facilitator: Actor, kind: str, n: int) -> Actor:
    body = {
        "territory_id": territory_id,
        "kind": kind,
        "name": f"{'Entreprise' if kind == 'business' else 'Association'} {n}",
        "email": f"membre-{uuid.uuid4().hex[:10]}@soak.example",
        "location": PLACE,
        "description": "Membre du territoire d'essai",
    }
    response = await api.call("actors", "POST", "/v1/actors", "setup", json=body)
    if response is None or response.status_code != 201:
        raise RuntimeError(f"registration: {response.text if response is not None else ''}")
    registered = response.json()
    actor_id = registered["actor"]["id"]
    await api.until_known("actors", f"/v1/actors/{actor_id}/admit", "setup", facilitator, None)
    return Actor(actor_id, kind, await _token(api, registered["api_key"]["key"]))


async def territory(
    api: Api, actors_database_url: str, *, businesses: int, publishers: int
) -> Cast:
    pool = await create_pool(actors_database_url, min_size=1, max_size=1)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": str(uuid.uuid4()),
                "kind": "association",
                "name": "Équipe d'animation",
                "email": f"animation-{uuid.uuid4().hex[:8]}@soak.example",
                "location": PLACE,
            }
        )
        territory_id, actor, key = await bootstrap_territory(
            pool,
            f"Territoire d'essai {uuid.uuid4().hex[:6]}",
            draft,
            Context(ActorsSettings().source),
        )
    finally:
        await pool.close()
    assert actor is not None and key is not None
    facilitator = Actor(str(actor.id), "association", await _token(api, key.api_key))
    tid = str(territory_id)
    made = await asyncio.gather(
        *(_member(api, tid, facilitator, "business", n) for n in range(businesses)),
        *(_member(api, tid, facilitator, "association", n) for n in range(publishers + 1)),
    )
    cast = Cast(tid, facilitator, list(made[:businesses]), list(made[businesses:-1]), made[-1])
    return cast


def van_body() -> dict[str, Any]:
    """A van open all week with room for every need of the run (each asks one unit)."""
    return {**VAN, "capacity": 100000, "availability": ALL_WEEK}


def offer_body(asset_id: str) -> dict[str, Any]:
    return {**OFFER, "asset_id": asset_id, "eligible_requester_kinds": ["association"]}


async def offer_van(api: Api, cast: Cast, ledger: Ledger, owner: Actor) -> None:
    asset = await api.until_known("offers", "/v1/assets", "assets", owner, van_body())
    made = await api.until_known("offers", "/v1/offers", "offers", owner, offer_body(asset["id"]))
    ledger.offers.append(made["id"])


async def open_motion(api: Api, cast: Cast) -> None:
    """Once governance knows every member (the electorate is frozen at the opening), a motion
    that stays open for the whole run."""
    deadline = time.monotonic() + 120
    path = f"/v1/territories/{cast.territory_id}/colleges"
    while time.monotonic() < deadline:
        response = await api.call("governance", "GET", path, "setup", actor=cast.facilitator)
        if response is not None and response.is_success:
            if sum(response.json()["members"].values()) >= len(cast.members):
                break
        await asyncio.sleep(1)
    body = {
        "kind": "free_motion",
        "title": "Motion d'essai de charge",
        "description": "Une motion ouverte le temps de l'essai.",
        "method": "majority",
        "parameters": {"text": "Le territoire tient la charge."},
        "closes_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
    }
    made = await api.until_known("governance", "/v1/proposals", "setup", cast.facilitator, body)
    cast.motion_id = made["id"]


async def subscribe(api: Api, cast: Cast, url: str) -> str:
    body = {"url": url, "event_types": EVENT_TYPES, "scope": "territory"}
    made = await api.until_known(
        "notifications", "/v1/subscriptions", "setup", cast.facilitator, body
    )
    return str(made["id"])


# --- the work -------------------------------------------------------------------------------------


def need_body(window_end: datetime) -> dict[str, Any]:
    """A need for one unit, for a use that began ten minutes ago and ends at `window_end`."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    return {
        **NEED,
        "weekly_windows": [],
        "dated_windows": [{"start": start.isoformat(), "end": window_end.isoformat()}],
        "min_duration_minutes": 1,
        "expires_at": window_end.isoformat(),
    }


def _failed(ledger: Ledger, op: str, response: httpx.Response | None) -> bool:
    if response is None or response.status_code >= 500:
        ledger.failures[op] += 1
    return response is None or not response.is_success


async def publish_need(
    api: Api, ledger: Ledger, owner: Actor, window_end: datetime, *, accept: bool
) -> None:
    body = need_body(window_end)
    response = await api.call("offers", "POST", "/v1/needs", "needs", actor=owner, json=body)
    if _failed(ledger, "needs", response):
        return
    assert response is not None
    need_id = response.json()["id"]
    ledger.needs[need_id] = owner.id
    if accept:
        ledger.wanted.add(need_id)
    else:
        ledger.to_withdraw.append((api.clock.now() + WITHDRAW_AFTER_S, need_id, owner.id))


async def withdraw_due(api: Api, cast: Cast, ledger: Ledger, *, everything: bool = False) -> None:
    now = api.clock.now()
    due = [item for item in ledger.to_withdraw if everything or item[0] <= now]
    ledger.to_withdraw = [item for item in ledger.to_withdraw if item not in due]

    async def one(need_id: str, owner_id: str) -> None:
        path = f"/v1/needs/{need_id}/withdraw"
        response = await api.call("offers", "POST", path, "withdraw", actor=cast.by_id(owner_id))
        if not _failed(ledger, "withdraw", response):
            ledger.withdrawn += 1

    await asyncio.gather(*(one(need, owner) for _, need, owner in due))


async def accept_proposals(api: Api, cast: Cast, ledger: Ledger) -> None:
    """Both parties accept the engine's first open proposal of each of the acceptor's needs."""
    response = await api.call(
        "matching", "GET", "/v1/matches", "read", actor=cast.acceptor,
        params={"status": "proposed", "limit": 100},
    )  # fmt: skip
    if _failed(ledger, "read", response):
        return
    assert response is not None
    chosen: dict[str, dict[str, Any]] = {}
    for match in response.json()["items"]:
        if match["need_id"] in ledger.wanted and match["id"] not in ledger.tried:
            chosen.setdefault(match["need_id"], match)

    async def both(match: dict[str, Any]) -> None:
        ledger.tried.add(match["id"])
        path = f"/v1/matches/{match['id']}/accept"
        for who in (cast.acceptor, cast.by_id(match["provider_id"])):
            answer = await api.call("matching", "POST", path, "accepts", actor=who)
            if _failed(ledger, "accepts", answer):
                return
            assert answer is not None
            if answer.json()["status"] == "confirmed":
                ledger.confirmed[match["id"]] = match["need_id"]
                ledger.wanted.discard(match["need_id"])

    await asyncio.gather(*(both(m) for m in chosen.values()))


async def sign_and_report(api: Api, cast: Cast, ledger: Ledger) -> None:
    """Sign the acceptor's draft agreements as both parties; report a use of each active one
    (by its provider) and confirm it (by the acceptor)."""
    drafts = [
        a
        async for a in api.pages("agreements", "/v1/agreements", cast.acceptor, {"status": "draft"})
    ]

    async def sign(agreement: dict[str, Any]) -> None:
        base = f"/v1/agreements/{agreement['id']}"
        for who in (cast.by_id(agreement["provider_id"]), cast.acceptor):
            got = await api.call("agreements", "GET", base, "read", actor=who)
            if _failed(ledger, "read", got):
                return
            assert got is not None
            draft = got.json()
            version = next(
                v for v in draft["versions"] if v["terms"]["version"] == draft["terms_version"]
            )
            body = {"terms_version": draft["terms_version"], "terms_hash": version["terms_hash"]}
            answer = await api.call(
                "agreements", "POST", f"{base}/sign", "sign", actor=who, json=body
            )
            if _failed(ledger, "sign", answer):
                return
        ledger.signed.add(agreement["id"])

    await asyncio.gather(*(sign(a) for a in drafts if a["id"] not in ledger.signed))
    active = [
        a
        async for a in api.pages(
            "agreements", "/v1/agreements", cast.acceptor, {"status": "active"}
        )
    ]

    async def report(agreement: dict[str, Any]) -> None:
        base = f"/v1/agreements/{agreement['id']}"
        start = datetime.fromisoformat(agreement["starts_at"])
        body = {
            "period_start": start.isoformat(),
            "period_end": max(datetime.now(UTC), start + timedelta(minutes=1)).isoformat(),
            "quantity": "1",
            "measurements": {},
        }
        provider = cast.by_id(agreement["provider_id"])
        sent = await api.call(
            "agreements", "POST", f"{base}/usage", "usage", actor=provider, json=body
        )
        if _failed(ledger, "usage", sent):
            return
        assert sent is not None
        ledger.usage[agreement["id"]] += 1
        path = f"{base}/usage/{sent.json()['id']}/confirm"
        _failed(
            ledger,
            "usage",
            await api.call("agreements", "POST", path, "usage", actor=cast.acceptor),
        )

    await asyncio.gather(*(report(a) for a in active if a["id"] not in ledger.usage))


async def vote(api: Api, cast: Cast, ledger: Ledger, n: int) -> None:
    voter = cast.members[n % len(cast.members)]
    choice = ("yes", "no", "abstain")[(n // len(cast.members)) % 3]
    path = f"/v1/proposals/{cast.motion_id}/votes"
    response = await api.call(
        "governance", "POST", path, "votes", actor=voter, json={"choice": choice}
    )
    if not _failed(ledger, "votes", response):
        ledger.votes[voter.id] += 1


async def every(seconds: float, work: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `work` every `seconds` until `stop` (a failed round is counted, not fatal)."""
    while not stop.is_set():
        with contextlib.suppress(RuntimeError, httpx.HTTPError, KeyError, StopIteration):
            await work()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def paced(
    rate: float,
    seconds: float,
    work: Callable[[int], Coroutine[Any, Any, None]],
    *,
    in_flight: int = 64,
) -> float:
    """Start `work(n)` `rate` times a second for `seconds`, whatever the answers take (an open
    loop), at most `in_flight` at once; the rate actually started."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    running: set[asyncio.Task[None]] = set()
    started = n = 0
    while (due := start + n / rate) < start + seconds:
        await asyncio.sleep(max(0.0, due - loop.time()))
        if len(running) < in_flight:
            task = asyncio.create_task(work(started))
            running.add(task)
            task.add_done_callback(running.discard)
            started += 1
        n += 1
    if running:
        await asyncio.wait(running)
    return started / seconds
