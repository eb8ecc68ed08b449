"""Services as processes of their own, for the fault tests: started with the environment a
deployment gives them (settings from variables, their own consumer groups), then killed with
SIGKILL, paused with SIGSTOP past their session timeout, resumed, and started again on the same
database and port, as an orchestrator restarts a container."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.devstack.ports import free_port
from services.devstack.runner import EchoFilter, Service, start_service, wait_all_ready
from tests.harness import TEST_SETTINGS, Stack, groups_of_its_own

SESSION_TIMEOUT_MS = 3000
READY_TIMEOUT_S = 120


def environment(
    service: str,
    *,
    database_url: str,
    kafka: str,
    jwks_url: str,
    tag: str | None = None,
    urls: Mapping[str, str] | None = None,
    **settings: Any,
) -> dict[str, str]:
    """The variables `service` starts with: the tests' quick settings, its database, the broker,
    the JWKS of actors, consumer groups named for `tag` (read every topic from the beginning,
    apart from other tests on the broker), the other services' `urls` (e.g. agreements' matching
    URL), and `settings` (field names of the service's Settings, as keyword arguments)."""
    tag = tag or uuid.uuid4().hex[:8]
    groups = groups_of_its_own(tag).get(service, {})
    if callable(groups):
        groups = groups(Stack("", {}, urls=dict(urls or {})))
    values: dict[str, Any] = {
        **TEST_SETTINGS,
        "kafka_session_timeout_ms": SESSION_TIMEOUT_MS,
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka,
        "jwks_url": jwks_url,
        "access_consumer_group": f"{service}.access.{tag}",
        **groups,
        **settings,
    }
    return {**os.environ, "PYTHONUNBUFFERED": "1"} | {
        name.upper(): _text(value) for name, value in values.items()
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


@dataclass
class ServiceProcess:
    """`python -m services.<name>` with `env`, its log in `folder`; the same port on every start."""

    name: str
    env: dict[str, str]
    folder: Path
    port: int = field(default_factory=free_port)
    starts: int = 0
    current: Service | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.current is not None and self.current.process is not None
        return self.current.process.pid

    async def start(self) -> None:
        """Start it and wait for its /readyz (database and broker reached, consumers running)."""
        self.starts += 1
        log = self.folder / f"{self.name}-{self.starts}.log"
        self.current = Service(self.name, self.port, log)
        env = {**self.env, "PORT": str(self.port)}
        await asyncio.to_thread(self._started, self.current, env)

    @staticmethod
    def _started(service: Service, env: dict[str, str]) -> None:
        start_service(service, env, threading.Event(), EchoFilter())
        wait_all_ready([service], READY_TIMEOUT_S)

    def running(self) -> bool:
        return self.current is not None and self.current.running()

    def kill(self) -> None:
        """SIGKILL: no leave-group, no offset commit, no last transaction."""
        self._signal(signal.SIGKILL)
        assert self.current is not None and self.current.process is not None
        self.current.process.wait()

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 20 s); nothing if it is not running."""
        if not self.running():
            return
        assert self.current is not None and self.current.process is not None
        self.current.process.send_signal(signal.SIGCONT)  # a paused process cannot stop
        self.current.process.terminate()
        try:
            self.current.process.wait(20)
        except subprocess.TimeoutExpired:
            self.current.process.kill()
            self.current.process.wait()

    async def restart(self) -> None:
        self.stop()
        await self.start()

    def log(self) -> str:
        """Every start's log, for a failing assertion's message."""
        parts = sorted(self.folder.glob(f"{self.name}-*.log"))
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in parts)

    def _signal(self, number: signal.Signals) -> None:
        assert self.current is not None and self.current.process is not None
        self.current.process.send_signal(number)
