"""Run benchmarks: `python -m benchmarks [name ...]` (all of them when no name is given).

Each benchmark is a module of this package with a `main(argv)` that prints its figures; it runs
here with its default settings (run `python -m benchmarks.<name> --help` for its options).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

BENCHMARKS = {
    "backbone": "outbox write rate, relay drain rate, commit-to-consumer latency (issue 2)",
    "matching_domain": "matching's candidates and scoring on synthetic territories (issue 4)",
    "matching_flow": "need published -> match.proposed on the broker, against the raw round trip",
    "matching_replicas": "proposals for 200 territories on 1, 2 and 4 matching replicas (issue 15)",
    "notifications_flow": "need published -> partner webhook; delivery rate; a hanging endpoint",
    "agreements": "period close of 10,000 agreements and impact p99, against raw SQL (issue 10)",
    "governance": "votes with audit appends, tally and chain verification, against raw references",
    "rebuild": "matching's read model from offset 0: batched, one at a time, raw (issue 15)",
}


def available() -> list[str]:
    return [
        name for name in BENCHMARKS if importlib.util.find_spec(f"{__package__}.{name}") is not None
    ]


def main(argv: Sequence[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the named benchmarks, or all of them.",
        epilog="benchmarks:\n" + "\n".join(f"  {n:<16} {BENCHMARKS[n]}" for n in names),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="name", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(names)}")
    for name in args.names or names:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"{__package__}.{name}").main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
