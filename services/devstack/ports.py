"""Free loopback ports and waiting for a port to answer."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

# Below the kernel's ephemeral range, a port found free stays free until a server binds it: no
# outgoing connection (a Kafka client's, a pool's) is given it in between, as one from the
# ephemeral range can be while a stack starts its services one after the other.
LOWEST_PORT = 15000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option as uvicorn, so a port in TIME_WAIT from the last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the ephemeral range
    when the kernel leaves room there, else one the kernel picks."""
    highest = _first_ephemeral_port() - 100  # room for the ports a stack takes after its first
    if highest > LOWEST_PORT:
        for _ in range(100):
            port = random.randint(LOWEST_PORT, highest)
            if port_is_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Block until host:port accepts a TCP connection, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} did not answer within {timeout:.0f}s") from None
            time.sleep(0.05)
