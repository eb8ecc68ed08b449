"""The stack the soak loads: `python -m services.devstack --no-demo` as `make run` starts it,
every service a process of its own with its own Tansu, in a folder of its own and on databases
named by a prefix of its own, dropped at the end; or a stack already running, from its
`stack.env`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.devstack import postgres
from services.devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# The load comes from one address and a few tokens: the per-address and per-token limits of
# `make run` (1,200 and 600 requests a minute) would be the ceiling measured, not the stack's.
LIFTED_LIMITS = {
    "RATE_LIMIT_PER_TOKEN": "1000000/minute",
    "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
    "RATE_LIMIT_SENSITIVE": "1000000/minute",
    # Access tokens live a day, not 15 minutes: the run outlasts them and does not refresh.
    "TOKEN_TTL_S": "86400",
}


@dataclass(frozen=True)
class Addresses:
    urls: dict[str, str]  # service -> base URL
    database_urls: dict[str, str]  # service -> its database
    kafka: str


def read_env(path: Path) -> Addresses:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isupper():
            values[name] = shlex.split(value)[0] if value else ""
    urls = {k.removesuffix("_URL").lower(): v for k, v in values.items() if k.endswith("_URL")}
    databases = {
        name.removesuffix("_database"): url
        for name, url in urls.items()
        if name.endswith("_database")
    }
    services = {name: url for name, url in urls.items() if not name.endswith("_database")}
    services.pop("public", None)
    return Addresses(services, databases, values["KAFKA_BOOTSTRAP_SERVERS"])


@contextlib.contextmanager
def devstack(data_dir: Path, server: str, ready_timeout_s: float) -> Iterator[Addresses]:
    prefix = f"mcvt_soak{uuid.uuid4().hex[:6]}_"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "runner.log"
    env: Mapping[str, str] = {**os.environ, **LIFTED_LIMITS}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.devstack", "--no-demo", "--quiet",
             "--data-dir", str(data_dir), "--base-port", str(free_port()),
             "--database-prefix", prefix, "--database-url", server,
             "--ready-timeout", str(int(ready_timeout_s))],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        addresses: Addresses | None = None
        try:
            deadline = time.monotonic() + ready_timeout_s * 3
            while "Ctrl-C to stop" not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the stack did not start; see {log_path}")
                time.sleep(1)
            addresses = read_env(data_dir / "stack.env")
            yield addresses
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
            for service in addresses.database_urls if addresses else ():
                asyncio.run(postgres.drop_database(server, f"{prefix}{service}"))
