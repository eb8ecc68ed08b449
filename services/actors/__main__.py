"""`python -m services.actors` serves the API; `bootstrap` creates a territory and facilitator."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from services.actors.settings import ActorsSettings
from services.runtime import cli


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


def _commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def main(argv: list[str] | None = None) -> None:
    args = cli.run(
        "actors",
        "MCVT actors service.",
        "DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, PORT, TOKEN_TTL_S",
        argv,
        extra=_commands,
    )
    if args is not None and args.command == "bootstrap":
        _bootstrap(args, ActorsSettings())


if __name__ == "__main__":
    main(sys.argv[1:])
