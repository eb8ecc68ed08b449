"""`python -m services.agreements` serves the agreements API, consumes confirmed matches, offers,
needs, actors and decisions, and runs the agreements' timed transitions."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "agreements",
        "MCVT agreements service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, MATCHING_URL, LAPSE_DAYS, "
        "PUBLIC_ASSET_APPROVAL, TIME_CREDIT_FLOOR_MINUTES",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
