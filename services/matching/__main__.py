"""`python -m services.matching` serves the matching API, consumes events, expires proposals."""

from __future__ import annotations

import argparse
import sys

from services.matching.settings import MatchingSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.matching",
        description="MCVT matching service. Settings come from the environment (DATABASE_URL, "
        "KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, CONSUMER_GROUP, PROPOSE_MATCHES, "
        "EXPIRY_INTERVAL_S, ...; see the README). Run one replica: the indexes live in memory.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the HTTP API, consume events, expire (the default)")
    parser.parse_args(argv)
    from services.matching.app import spec
    from services.runtime.service import serve

    settings = MatchingSettings()
    serve(spec(settings), settings)


if __name__ == "__main__":
    main(sys.argv[1:])
