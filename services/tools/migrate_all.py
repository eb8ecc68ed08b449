"""`make migrate`: apply every service's migrations to its own database (created if missing).

Services also migrate themselves at start; this is for deploy pipelines and inspection.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from services.devstack.postgres import LOCAL_SERVER, create_database
from services.runtime.db import migrate
from services.tools.export import service_specs


async def migrate_all(server: str) -> None:
    for spec in service_specs():
        url = await create_database(server, f"mcvt_{spec.name}")
        applied = await migrate(url, spec.name, spec.migrations)
        print(
            f"{spec.name}: {len(applied)} migration(s) applied"
            + (f": {', '.join(applied)}" if applied else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.tools.migrate_all", description=__doc__
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("DATABASE_URL", LOCAL_SERVER),
        help="URL of the PostgreSQL server's maintenance database; each service gets mcvt_<name> "
        "(default: $DATABASE_URL or %(default)s)",
    )
    asyncio.run(migrate_all(parser.parse_args().server))


if __name__ == "__main__":
    main()
