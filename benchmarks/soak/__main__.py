"""`python -m benchmarks.soak` (`make soak`): see `--help`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.soak.run import main_async
from benchmarks.soak.stack import ROOT, Devstack, soak_stack
from services.devstack.postgres import server_url

DESCRIPTION = """\
Load the whole stack as `make run` starts it (every service a process of its own, its own
Tansu broker, fresh databases under a prefix of their own, dropped at the end; the rate limits
lifted, since the load comes from one address), through the public APIs only:

1. the ceiling: needs published at rising rates (x1.5 a step) until the p99 of POST /v1/needs
   passes 1 s, requests fail, or over a step an outbox backlog, a service's consumer lag or its
   scheduled jobs due grow (the whole stack keeps up, not only the API); the last rate held is
   printed, and the stack left to catch up;
2. a steady run at half that ceiling (half the first rate if none held): needs (one in
   --accept-every accepted by both parties, its agreement signed by both and a use reported
   and confirmed; the others withdrawn after 30 s), a new offer every minute, votes on a
   motion, with every consumer and a partner's webhook subscription running; a progress line
   every 10 s;
3. a drain, then the effects read back through the APIs (each need listed once, each confirmed
   match one agreement, each usage report and vote recorded once, each webhook delivery
   received once by webhook-id), the memory of every process at the start and the end, the
   trends of the outbox backlog, the scheduled jobs due (mails, deliveries), the lag and the
   services' memory over the last half, and a verdict line; the figures are plotted to --plot.

Exit status 0 when the verdict is PASS (no upward trend, nothing lost, nothing doubled)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=float, default=10, help="steady run length (default 10)")
    p.add_argument("--step-seconds", type=float, default=30, help="each ramp step (default 30)")
    p.add_argument("--start-rate", type=float, default=0.5, help="first ramp rate, needs/s")
    p.add_argument("--max-rate", type=float, default=200, help="last ramp rate tried, needs/s")
    p.add_argument("--rate", type=float, default=0, help="skip the ramp: run at this needs/s")
    p.add_argument("--accept-every", type=int, default=4, help="accept one need in N (default 4)")
    p.add_argument("--businesses", type=int, default=3, help="businesses, each with a van")
    p.add_argument("--publishers", type=int, default=3, help="associations whose needs withdraw")
    p.add_argument("--drain-seconds", type=float, default=600, help="longest wait to go idle")
    p.add_argument(
        "--plot", type=Path, default=ROOT / "deploy" / "soak.png", help="the PNG written"
    )
    p.add_argument(
        "--database-url",
        help="PostgreSQL server (default: env DATABASE_URL, else 127.0.0.1:5432, else embedded)",
    )
    p.add_argument(
        "--data-dir", type=Path, default=ROOT / ".run" / "soak", help="the stack's logs and files"
    )
    p.add_argument(
        "--ready-timeout", type=float, default=300, help="seconds each service may take to start"
    )
    p.add_argument(
        "--stack-env",
        type=Path,
        help="load a stack already running (its stack.env, e.g. .run/stack.env) instead of "
        "starting one; its rate limits then apply",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.stack_env:
        found = Devstack.of(args.stack_env)
        return main_async(found.urls, found.database_urls, found.kafka, args)
    server = server_url(
        args.database_url or os.environ.get("DATABASE_URL"), ROOT / ".run" / "postgres"
    )
    print(
        f"starting the stack in {args.data_dir} (its logs in {args.data_dir / 'logs'}) ...",
        flush=True,
    )
    with soak_stack(args.data_dir, server, args.ready_timeout) as found:
        print(f"stack up: {', '.join(sorted(found.urls))}; broker {found.kafka}", flush=True)
        return main_async(found.urls, found.database_urls, found.kafka, args)


if __name__ == "__main__":
    sys.exit(main())
