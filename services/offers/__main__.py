"""`python -m services.offers` serves the offers API, consumes actor events, runs the sweep."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "offers",
        "MCVT offers service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, STALENESS_INTERVAL_S, "
        "STALE_NOTICE_DAYS",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
