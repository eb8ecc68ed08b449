"""`python -m services.notifications` serves subscriptions and the live stream, consumes the
public topics, and delivers signed webhooks."""

from __future__ import annotations

import sys

from services.runtime import cli


def main(argv: list[str] | None = None) -> None:
    cli.run(
        "notifications",
        "MCVT notifications service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, JWKS_URL, WEBHOOK_REQUIRE_HTTPS, "
        "WEBHOOK_ALLOW_LOOPBACK, DELIVERY_TIMEOUT_S, SMTP_HOST, MAIL_FOLDER",
        argv,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
