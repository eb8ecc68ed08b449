"""`python -m services.actors` serves the API; `bootstrap` creates a territory and facilitator."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from services.actors.settings import ActorsSettings


def _bootstrap(args: argparse.Namespace, settings: ActorsSettings) -> None:
    import uuid

    from contracts.actors import ActorKind
    from services.actors.app import spec
    from services.actors.domain import ActorRegistration
    from services.actors.handlers import bootstrap_territory
    from services.runtime.context import Context
    from services.runtime.db import create_pool, migrate

    async def run() -> dict[str, str | None]:
        service = spec(settings)
        await migrate(settings.database_url, service.name, service.migrations)
        pool = await create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            facilitator = None
            if args.facilitator_name:
                facilitator = ActorRegistration(
                    territory_id=uuid.uuid4(),  # replaced by the territory's id
                    kind=ActorKind(args.kind),
                    name=args.facilitator_name,
                    email=args.email,
                )
            territory_id, actor, key = await bootstrap_territory(
                pool, args.territory, facilitator, Context(settings.source)
            )
        finally:
            await pool.close()
        return {
            "territory_id": str(territory_id),
            "facilitator_id": str(actor.id) if actor else None,
            "api_key": key.api_key if key else None,
        }

    print(json.dumps(asyncio.run(run()), indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.actors",
        description="MCVT actors service. Settings come from the environment (DATABASE_URL, "
        "KAFKA_BOOTSTRAP_SERVERS, PORT, ...; see the README).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the HTTP API and consume events (the default)")
    boot = commands.add_parser(
        "bootstrap",
        help="create a territory (if new) and an active facilitator; prints its API key once",
    )
    boot.add_argument(
        "--territory", required=True, help="territory name, e.g. 'Vallée de la Drôme'"
    )
    boot.add_argument("--facilitator-name", help="name of the facilitator actor to create")
    boot.add_argument(
        "--email", default="facilitation@example.org", help="facilitator's contact email"
    )
    boot.add_argument("--kind", default="association", help="facilitator's actor kind")
    args = parser.parse_args(argv)
    settings = ActorsSettings()
    if args.command == "bootstrap":
        _bootstrap(args, settings)
        return
    from services.actors.app import spec
    from services.runtime.service import serve

    serve(spec(settings), settings)


if __name__ == "__main__":
    main(sys.argv[1:])
