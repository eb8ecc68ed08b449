"""What tests/deploy checks the manifests against: the manifests as the tools render them, and
each service's Kafka topology as its code declares it (consumer groups, topics consumed and
published, dead-letter topics).

The tools are the wheels of the dev group (kubectl, kubernetes-validate, check-jsonschema,
docker-compose), run from the virtual environment; no cluster and no Docker engine is needed.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.runtime.service import consumers_of
from services.tools.export import service_specs

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
COMPOSE = REPO / "docker-compose.yml"
SCHEMAS = DEPLOY / "schemas" / "strimzi"
# The shared copy the vendored schemas came from, beside the repository on the team's machines.
SHARED_SCHEMAS = REPO.parent / "shared" / "schemas" / "strimzi"
STRIMZI_API = "kafka.strimzi.io/"
# Every topic of the marketplace has at least this many partitions.
MIN_PARTITIONS = 12

Resource = dict[str, Any]


def tool(name: str) -> str:
    """A command installed in this virtual environment by a wheel of the dev group."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing: `uv sync` installs it with the dev group"
    return str(path)


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a tool; the caller reads its exit code and output."""
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def render(kustomization: Path) -> list[Resource]:
    """The resources `kubectl kustomize` builds from a folder; AssertionError with its message
    if it cannot."""
    built = run(tool("kubectl"), "kustomize", kustomization)
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@cache
def overlay() -> tuple[Resource, ...]:
    return tuple(render(OVERLAY))


def of_kind(resources: Iterable[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def is_strimzi(resource: Resource) -> bool:
    return str(resource["apiVersion"]).startswith(STRIMZI_API)


def validate_kubernetes(resources: Sequence[Resource], folder: Path) -> list[str]:
    """The problems `kubernetes-validate --strict` finds in the Kubernetes resources (the Strimzi
    ones have their own schemas); an unknown kind counts as a problem, not as a warning."""
    path = folder / "kubernetes.yaml"
    path.write_text(yaml.safe_dump_all([r for r in resources if not is_strimzi(r)]))
    checked = run(tool("kubernetes-validate"), "--strict", "--quiet", path)
    problems = [
        line
        for line in checked.stdout.splitlines() + checked.stderr.splitlines()
        if line.startswith(("ERROR", "WARN", "Couldn't"))
    ]
    if checked.returncode != 0 and not problems:
        problems.append(checked.stderr.strip() or f"exit code {checked.returncode}")
    return problems


def validate_strimzi(resources: Sequence[Resource], folder: Path) -> list[str]:
    """The problems `check-jsonschema` finds in the Strimzi resources, each kind against its
    schema (deploy/schemas/strimzi/<kind>_v1.json)."""
    problems = []
    by_kind: dict[str, list[Path]] = {}
    for index, resource in enumerate(r for r in resources if is_strimzi(r)):
        kind, version = resource["kind"].lower(), resource["apiVersion"].split("/")[1]
        path = folder / f"{kind}-{index}.yaml"
        path.write_text(yaml.safe_dump(resource))
        by_kind.setdefault(f"{kind}_{version}", []).append(path)
    for schema, paths in sorted(by_kind.items()):
        schemafile = SCHEMAS / f"{schema}.json"
        if not schemafile.exists():
            problems.append(f"no schema {schemafile.name} for {', '.join(p.name for p in paths)}")
            continue
        checked = run(tool("check-jsonschema"), "--schemafile", schemafile, *paths)
        if checked.returncode != 0:
            problems.append(checked.stdout + checked.stderr)
    return problems


def compose(*args: str, file: Path = COMPOSE) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f <file> <args>` with the monitoring profile (so it is checked too)."""
    return run(tool("docker-compose"), "-f", file, "--profile", "monitoring", *args)


@dataclass(frozen=True)
class Topology:
    """One service's use of Kafka, as its code declares it."""

    service: str
    groups: frozenset[str]
    consumes: frozenset[str]
    publishes: frozenset[str]
    dead_letters: frozenset[str]


@cache
def topologies() -> Mapping[str, Topology]:
    """Every service with an app (services/<name>/app.py exposing `spec` and `Settings`)."""
    found = {}
    for spec in service_specs():
        settings = importlib.import_module(f"services.{spec.name}.app").Settings()
        consumers = consumers_of(spec, settings)
        found[spec.name] = Topology(
            service=spec.name,
            groups=frozenset(c.group for c in consumers),
            consumes=frozenset(t for c in consumers for t in c.topics),
            publishes=frozenset(str(m.topic) for m in spec.publishes),
            dead_letters=frozenset(c.dead_letter_topic for c in consumers),
        )
    return found


def allows(user: Resource, kind: str, name: str, operation: str) -> bool:
    """Whether a KafkaUser's ACLs allow `operation` on the resource (Kafka's simple authoriser:
    literal or prefix names, `All` covering every operation, a deny winning over an allow)."""

    def matches(rule: Resource) -> bool:
        resource = rule["resource"]
        if resource["type"] != kind:
            return False
        if operation not in rule["operations"] and "All" not in rule["operations"]:
            return False
        pattern = resource.get("name", "*")
        if resource.get("patternType", "literal") == "prefix":
            return name.startswith(pattern)
        return pattern in ("*", name)

    rules = user["spec"]["authorization"]["acls"]
    denied = any(matches(r) for r in rules if r.get("type") == "deny")
    return not denied and any(matches(r) for r in rules if r.get("type", "allow") == "allow")
