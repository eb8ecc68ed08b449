"""`python -m services.projects`: the API, the decisions, needs and agreements it follows."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "projects",
        "MCVT territorial projects service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, DECISIONS_CONSUMER_GROUP",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
