"""`python -m services.portal` serves the portal (port 8000)."""

from __future__ import annotations

import sys

import uvicorn

from services.runtime.cli import service_parser
from services.runtime.logs import configure_logging
from services.runtime.service import server_config


def main(argv: list[str] | None = None) -> None:
    parser, _ = service_parser(
        "portal",
        "MCVT portal: the French web pages over the public APIs.",
        "PORT, ACTORS_URL, OFFERS_URL, MATCHING_URL, PUBLIC_URL, SESSION_KEY, TILE_URL",
    )
    parser.parse_args(argv)
    from services.portal.app import build_app
    from services.portal.settings import PortalSettings

    settings = PortalSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    uvicorn.Server(server_config(build_app(settings), settings)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
