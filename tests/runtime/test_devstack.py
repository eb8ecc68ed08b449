"""The runner behind `make run` on real processes and a real PostgreSQL: services start in waves
(actors, then the others together), kept data survives a restart with `--keep-data` and is
wiped without it, and a kept demo is recognised in the actors database."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.actors.domain import ActorRegistration
from services.actors.handlers import bootstrap_territory
from services.devstack import demo, postgres, runner
from services.devstack.ports import free_port
from services.devstack.runner import (
    Service,
    ServiceFailed,
    parse_args,
    prepare_databases,
    start_services,
    stop_all,
    wait_all_ready,
)
from services.runtime.context import Context
from services.runtime.db import create_pool
from tests.harness import Databases

# A stand-in service: notes when it started, takes DELAY seconds to come up, then answers /readyz.
FAKE = textwrap.dedent(
    """
    import http.server, os, pathlib, time
    pathlib.Path(os.environ["MARK"]).write_text(repr(time.monotonic()))
    time.sleep(float(os.environ["DELAY"]))

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ready).serve_forever()
    """
)
DELAY_S = 1.5


class FakeService(Service):
    @property
    def command(self) -> list[str]:
        return [sys.executable, "-c", FAKE]


def test_services_start_in_waves_actors_first_then_the_others_together(tmp_path: Path) -> None:
    names = ["actors", "offers", "matching"]
    services = [FakeService(name, free_port(), tmp_path / f"{name}.log") for name in names]
    envs = {
        s.name: {"PORT": str(s.port), "DELAY": str(DELAY_S), "MARK": str(tmp_path / s.name)}
        for s in services
    }

    args = parse_args(["--ready-timeout", "30"])
    try:
        start_services(services, envs, threading.Event(), args)
        for service in services:
            assert service.running()
    finally:
        stop_all(services, None)
    started = {name: float((tmp_path / name).read_text()) for name in names}
    # offers and matching waited for actors to answer, then started side by side.
    assert started["offers"] >= started["actors"] + DELAY_S
    assert started["matching"] >= started["actors"] + DELAY_S
    assert abs(started["offers"] - started["matching"]) < DELAY_S


def test_waiting_names_the_service_that_died(tmp_path: Path) -> None:
    dead = Service("offers", free_port(), tmp_path / "offers.log")
    dead.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.process.wait()
    try:
        wait_all_ready([dead], timeout=5)
    except ServiceFailed as failure:
        assert failure.service is dead
        assert "exited with code 3" in str(failure)
    else:
        raise AssertionError("a dead service was taken for ready")


class Abandoned(Exception):
    """What the handler a test installs raises: a stop interrupted midway."""


def test_a_signal_while_stopping_kills_what_is_left_and_never_abandons_the_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two services that ignore SIGTERM: a stop would wait them out, then kill them.
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    services = [Service(name, free_port(), tmp_path / f"{name}.log") for name in ("a", "b")]
    for service in services:
        service.process = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    time.sleep(0.5)  # their handlers in place

    def abandon(signum: int, frame: object) -> None:
        raise Abandoned

    said = runner.say

    def say_then_interrupt(message: str, **kwargs: str) -> None:
        said(message, **kwargs)
        if message.startswith("stopping"):  # a second Ctrl-C, before any service is signalled
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(runner, "say", say_then_interrupt)
    before = signal.signal(signal.SIGINT, abandon)
    try:
        started = time.monotonic()
        stop_all(services, None)
        took = time.monotonic() - started
        assert signal.getsignal(signal.SIGINT) is abandon  # the handler from before is back
    finally:
        signal.signal(signal.SIGINT, before)
        for service in services:
            if service.running():
                assert service.process is not None
                service.process.kill()
    assert not any(service.running() for service in services)
    assert took < runner.STOP_TIMEOUT_S / 2  # killed at once, not waited out


def test_the_stopping_signal_passed_on_again_does_not_hurry_the_stop_but_a_later_one_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "_stopped_at", [])
    before = {kind: signal.getsignal(kind) for kind in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt):  # the first one stops the stack
            runner._raise_interrupt(signal.SIGTERM, None)
        signal.raise_signal(signal.SIGTERM)  # `uv run` passing the same one on
        assert not runner._hurry.is_set()
        monkeypatch.setattr(runner, "_stopped_at", [time.monotonic() - runner._ECHO_S])
        signal.raise_signal(signal.SIGINT)  # a Ctrl-C a while after
        assert runner._hurry.is_set()
    finally:
        for kind, handler in before.items():
            signal.signal(kind, handler)
        runner._hurry.clear()


async def test_kept_databases_keep_their_data_and_fresh_ones_start_empty(pg_server: str) -> None:
    prefix = f"mcvt_test_devstack_{uuid.uuid4().hex[:8]}_"
    try:
        urls = await prepare_databases(pg_server, ["actors"], fresh=True, prefix=prefix)
        conn = await asyncpg.connect(urls["actors"])
        await conn.execute(
            "CREATE TABLE territories (name text); INSERT INTO territories VALUES ('Diois')"
        )
        await conn.close()

        kept = await prepare_databases(pg_server, ["actors"], fresh=False, prefix=prefix)
        conn = await asyncpg.connect(kept["actors"])
        assert await conn.fetchval("SELECT name FROM territories") == "Diois"
        await conn.close()

        await prepare_databases(pg_server, ["actors"], fresh=True, prefix=prefix)
        conn = await asyncpg.connect(urls["actors"])
        assert await conn.fetchval("SELECT to_regclass('territories')") is None
        await conn.close()
    finally:
        await postgres.drop_database(pg_server, f"{prefix}actors")


async def test_a_kept_demo_is_found_in_the_actors_database(databases: Databases) -> None:
    url = await databases.for_service("actors")
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        draft = ActorRegistration.model_validate(
            {
                "territory_id": str(uuid.uuid4()),
                "kind": "association",
                "name": "Équipe",
                "email": "equipe@example.org",
            }
        )
        territory_id, actor, key = await bootstrap_territory(
            pool, f"Diois {uuid.uuid4().hex[:6]}", draft, Context("/mcvt/test")
        )
    finally:
        await pool.close()
    assert actor is not None and key is not None
    member = demo.Member("facilitator", str(actor.id), "Équipe", key.api_key)
    kept = demo.Demo("Diois", str(territory_id), (member,))
    assert await demo.demo_in_database(kept, url)
    gone = demo.Member("business", str(uuid.uuid4()), "Frigo", "mcvt_x")
    assert not await demo.demo_in_database(
        demo.Demo("Diois", str(territory_id), (member, gone)), url
    )
    assert not await demo.demo_in_database(demo.Demo("x", str(uuid.uuid4()), (member,)), url)
