"""`python -m services.matching` serves the matching API, consumes events, expires proposals."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "matching",
        "MCVT matching service. Run as many replicas as you like: each matches the territories "
        "the consumer group gives it.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, CONSUMER_GROUP, PROPOSE_MATCHES, "
        "EXPIRY_INTERVAL_S, TERRITORY_PARTITIONS, REPLICA_ID",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
