"""`python -m services.offers` serves the offers API, consumes actor events, runs the sweep."""

from __future__ import annotations

import argparse
import sys

from services.offers.settings import OffersSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.offers",
        description="MCVT offers service. Settings come from the environment (DATABASE_URL, "
        "KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, STALENESS_INTERVAL_S, STALE_NOTICE_DAYS, ...; "
        "see the README).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the HTTP API, consume events, sweep (the default)")
    parser.parse_args(argv)
    from services.offers.app import spec
    from services.runtime.service import serve

    settings = OffersSettings()
    serve(spec(settings), settings)


if __name__ == "__main__":
    main(sys.argv[1:])
