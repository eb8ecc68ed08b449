"""Driving `python -m services.devstack` from another program (the tests that must see the
services exactly as people run them, the soak): start it in a folder of its own (its logs, its
mail folder, its `stack.env`) on databases named by a prefix of its own, read the addresses it
wrote, stop it (SIGTERM: the runner stops every service in order) and drop its databases."""

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from services.devstack import postgres
from services.devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
STACK_TIMEOUT_S = 240
# Once told to stop, the runner stops every service in order; past this it is killed.
STOP_TIMEOUT_S = 90
_DATABASE = "_DATABASE_URL"


@dataclass(frozen=True)
class Devstack:
    """A running `python -m services.devstack`: its folder and the addresses it wrote."""

    data_dir: Path
    env: dict[str, str]  # DATA_DIR/stack.env: <SERVICE>_URL, <SERVICE>_DATABASE_URL, KAFKA_...

    @classmethod
    def of(cls, stack_env: Path) -> Devstack:
        """The stack whose addresses are in `stack_env` (e.g. `.run/stack.env` of `make run`)."""
        return cls(stack_env.parent, read_env(stack_env))

    @property
    def log(self) -> Path:
        return self.data_dir / "runner.log"

    def url(self, service: str) -> str:
        return self.env[f"{service.upper()}_URL"]

    def database_url(self, service: str) -> str:
        return self.env[f"{service.upper()}{_DATABASE}"]

    @property
    def services(self) -> list[str]:
        """The services with a database (every one but the portal)."""
        return [
            name.removesuffix(_DATABASE).lower() for name in self.env if name.endswith(_DATABASE)
        ]

    @property
    def urls(self) -> dict[str, str]:
        """Every service's base URL (the portal's too), by service."""
        return {
            name.removesuffix("_URL").lower(): url
            for name, url in self.env.items()
            if name.endswith("_URL") and not name.endswith(_DATABASE) and name != "PUBLIC_URL"
        }

    @property
    def database_urls(self) -> dict[str, str]:
        return {service: self.database_url(service) for service in self.services}

    @property
    def kafka(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

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
    prefix: str = "mcvt_p",
) -> Iterator[Devstack]:
    """`python -m services.devstack` with `options` (e.g. `--no-demo`), on the PostgreSQL server
    `server`, its databases named `<prefix><random>_<service>`, with `env` added to the
    services' environment, until the block ends; up within `timeout_s`."""
    prefix = f"{prefix}{uuid.uuid4().hex[:6]}_"
    data_dir.mkdir(parents=True, exist_ok=True)
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
            started = Devstack.of(data_dir / "stack.env")
            yield started
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
            for service in started.services if started else ():
                asyncio.run(postgres.drop_database(server, f"{prefix}{service}"))


def _wait_until_up(process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Ctrl-C to stop" in text:
            if "demo territory NOT loaded" in text:
                raise RuntimeError(f"the demo did not load:\n{text}")
            return
        if process.poll() is not None:
            raise RuntimeError(f"the stack stopped:\n{text}")
        time.sleep(0.5)
    raise RuntimeError(f"the stack was not up in {timeout_s}s:\n{log.read_text()}")


def read_env(path: Path) -> dict[str, str]:
    """The variables of a `stack.env`."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^[A-Z_]+=", line):
            name, _, value = line.partition("=")
            found[name] = shlex.split(value)[0] if value else ""
    return found
