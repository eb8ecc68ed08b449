"""`python -m services.governance`: the API, the colleges kept from actor events, closings."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "governance",
        "MCVT governance service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, MEMBERS_CONSUMER_GROUP",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
