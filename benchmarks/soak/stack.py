"""The stack the soak loads: `python -m services.devstack --no-demo` as `make run` starts it
(`services.devstack.driver`), every service a process of its own with its own Tansu, in a
folder of its own and on databases named by a prefix of its own, dropped at the end; or a stack
already running, from its `stack.env`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from services.devstack.driver import ROOT, Devstack, devstack

__all__ = ["ROOT", "Devstack", "soak_stack"]

# The load comes from one address and a few tokens: the per-address and per-token limits of
# `make run` (1,200 and 600 requests a minute) would be the ceiling measured, not the stack's.
LIFTED_LIMITS = {
    "RATE_LIMIT_PER_TOKEN": "1000000/minute",
    "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
    "RATE_LIMIT_SENSITIVE": "1000000/minute",
    # Access tokens live a day, not 15 minutes: the run outlasts them and does not refresh.
    "TOKEN_TTL_S": "86400",
}


@contextlib.contextmanager
def soak_stack(data_dir: Path, server: str, ready_timeout_s: float) -> Iterator[Devstack]:
    """The stack without its demo, the limits lifted; each service up within
    `ready_timeout_s`, the whole within three times that."""
    with devstack(
        data_dir,
        server,
        "--no-demo",
        "--ready-timeout",
        str(int(ready_timeout_s)),
        env=LIFTED_LIMITS,
        timeout_s=ready_timeout_s * 3,
        prefix="mcvt_soak",
    ) as started:
        yield started
