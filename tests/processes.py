"""The stack as `make run` starts it: `python -m services.devstack`, every service a process of
its own, its own broker; for the tests that must see the services exactly as people run them.

`devstack` starts it in a folder of its own (its logs, its mail folder, its `stack.env`) with
databases named by a prefix of its own, and stops it (SIGTERM: the runner stops every service
in order) and drops its databases at the end. `process_stack` wraps it in the `Stack` the tests'
steps take: an HTTP client per service over its socket, and a pool on its database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx

from services.devstack import postgres
from services.devstack.ports import free_port
from services.runtime.db import create_pool
from tests.harness import Running, Stack, app_module

ROOT = Path(__file__).resolve().parents[1]
STACK_TIMEOUT_S = 240


@dataclass(frozen=True)
class Devstack:
    """A running `python -m services.devstack`: its folder and the addresses it wrote."""

    data_dir: Path
    env: dict[str, str]  # DATA_DIR/stack.env: <SERVICE>_URL, <SERVICE>_DATABASE_URL, KAFKA_...

    @property
    def log(self) -> Path:
        return self.data_dir / "runner.log"

    def url(self, service: str) -> str:
        return self.env[f"{service.upper()}_URL"]

    def database_url(self, service: str) -> str:
        return self.env[f"{service.upper()}_DATABASE_URL"]

    @property
    def services(self) -> list[str]:
        """The services with a database (every one but the portal)."""
        suffix = "_DATABASE_URL"
        return [name.removesuffix(suffix).lower() for name in self.env if name.endswith(suffix)]

    @property
    def portal(self) -> str:
        return self.url("portal")

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The mails the services wrote to `address` in the mail folder, oldest first."""
        found = []
        for path in sorted((self.data_dir / "mail").glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if address.lower() in str(message["To"]).lower():
                found.append(message)
        return found


@contextlib.contextmanager
def devstack(
    data_dir: Path,
    server: str,
    *options: str,
    env: Mapping[str, str] | None = None,
    timeout_s: float = STACK_TIMEOUT_S,
) -> Iterator[Devstack]:
    """`python -m services.devstack` with `options` (e.g. `--no-demo`), on the PostgreSQL server
    `server`, with `env` added to the services' environment, until the block ends; up within
    `timeout_s`."""
    prefix = f"mcvt_p{uuid.uuid4().hex[:6]}_"
    log_path = data_dir / "runner.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.devstack", "--data-dir", str(data_dir),
             "--base-port", str(free_port()), "--database-prefix", prefix, "--quiet",
             "--database-url", server, *options],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        started: Devstack | None = None
        try:
            _wait_until_up(process, log_path, timeout_s)
            started = Devstack(data_dir, _read_env(data_dir / "stack.env"))
            yield started
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            names = [f"{prefix}{s}" for s in started.services] if started else []
            for name in names:
                asyncio.run(postgres.drop_database(server, name))


def _wait_until_up(process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Ctrl-C to stop" in text:
            if "demo territory NOT loaded" in text:
                raise AssertionError(f"the demo did not load:\n{text}")
            return
        if process.poll() is not None:
            raise AssertionError(f"the stack stopped:\n{text}")
        time.sleep(0.5)
    raise AssertionError(f"the stack was not up in {timeout_s}s:\n{log.read_text()}")


def _read_env(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^[A-Z_]+=", line):
            name, _, value = line.partition("=")
            found[name] = shlex.split(value)[0] if value else ""
    return found


@contextlib.asynccontextmanager
async def process_stack(started: Devstack) -> AsyncIterator[Stack]:
    """The tests' view of a running devstack: a client and a database pool per service."""
    stack = Stack(started.env["KAFKA_BOOTSTRAP_SERVERS"], {})
    async with contextlib.AsyncExitStack() as opened:
        for service in started.services:
            url, database = started.url(service), started.database_url(service)
            settings = app_module(service).Settings(
                database_url=database, kafka_bootstrap_servers=stack.kafka
            )
            client = await opened.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=30, trust_env=False)
            )
            pool = await create_pool(database, min_size=1, max_size=4)
            opened.push_async_callback(pool.close)
            stack.running[service] = Running(client, settings, database_pool=pool)
            stack.urls[service] = url
        yield stack
