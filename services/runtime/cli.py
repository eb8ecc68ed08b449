"""The command line every service shares: `python -m services.<name> [serve]`, plus its own
commands. Settings come from the environment; the parser says so in `--help`."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence


def service_parser(
    service: str, summary: str, settings_hint: str
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    """The parser of `python -m services.<service>` with its `serve` command; add others to
    the returned sub-parsers."""
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}",
        description=f"{summary} Settings come from the environment ({settings_hint}, ...; "
        "see the README).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "serve", help="serve the HTTP API, consume events and run timed jobs (the default)"
    )
    return parser, commands


def serve_service(service: str) -> None:
    """Serve `services.<service>` with the settings the environment gives."""
    from services.runtime.service import serve

    app = importlib.import_module(f"services.{service}.app")
    settings = app.Settings()
    serve(app.spec(settings), settings)


def run(
    service: str,
    summary: str,
    settings_hint: str,
    argv: Sequence[str] | None = None,
    *,
    extra: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] | None = None,
) -> argparse.Namespace | None:
    """Parse `argv`; serve unless a command of the service's own was named (its parsed
    arguments are returned for the service to act on)."""
    parser, commands = service_parser(service, summary, settings_hint)
    if extra is not None:
        extra(commands)
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        serve_service(service)
        return None
    return args
