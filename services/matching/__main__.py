"""`python -m services.matching` serves the matching API, consumes events, expires proposals."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "matching",
        "MCVT matching service. Run one replica: the indexes live in memory.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, CONSUMER_GROUP, PROPOSE_MATCHES, "
        "EXPIRY_INTERVAL_S",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
