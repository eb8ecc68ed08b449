"""`make contracts`: export every event's JSON Schema and every service's AsyncAPI document.

The exported files are committed under contracts/; a test regenerates them and fails when they
differ, and another checks every change against the committed schemas for compatibility.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

import services
from contracts.envelope import CloudEvent
from contracts.registry import EVENT_TYPES
from services.runtime.service import ServiceSpec, build_broker
from services.runtime.settings import ServiceSettings

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SCHEMAS = CONTRACTS / "schemas"
ASYNCAPI = CONTRACTS / "asyncapi"


def event_schemas() -> dict[str, dict[str, Any]]:
    """Event type → JSON Schema of its whole envelope."""
    schemas = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = CloudEvent[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = event_type
        schema["$id"] = f"https://mcvt.example/contracts/{event_type}.json"
        schemas[event_type] = schema
    return schemas


def service_specs() -> list[ServiceSpec]:
    specs = []
    for module in sorted(pkgutil.iter_modules(services.__path__), key=lambda m: m.name):
        try:
            app = importlib.import_module(f"services.{module.name}.app")
        except ModuleNotFoundError:
            continue
        make_spec, settings = getattr(app, "spec", None), getattr(app, "Settings", None)
        if make_spec is not None and settings is not None:
            specs.append(make_spec(settings()))
    return specs


def asyncapi_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for spec in service_specs():
        broker = build_broker(
            spec, ServiceSettings(service_name=spec.name), consumers=None, document=True
        )
        doc = AsyncAPI(broker, title=spec.title, version="1.0.0", schema_version="3.0.0")
        documents[spec.name] = json.loads(doc.to_specification().to_json())
    return documents


def rendered() -> dict[Path, str]:
    """Every exported file and its content."""
    files = {SCHEMAS / f"{name}.json": _dump(schema) for name, schema in event_schemas().items()}
    files.update(
        {ASYNCAPI / f"{name}.json": _dump(doc) for name, doc in asyncapi_documents().items()}
    )
    return files


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.runtime.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = parser.parse_args()
    files = rendered()
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(CONTRACTS.parent)}")
        raise SystemExit(1 if stale else 0)
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path.relative_to(CONTRACTS.parent)}")
    print(f"{len(files)} contract files, {len(stale)} updated")


if __name__ == "__main__":
    main()
