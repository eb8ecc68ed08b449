"""docker-compose.yml checked without a Docker engine: the Compose CLI parses and interpolates
it (`config --quiet`), the Compose specification's JSON Schema accepts it, and it runs every
service in its production shape beside the same topics as the cluster."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from contracts.topics import Topic
from tests.deploy.manifests import (
    COMPOSE,
    DEPLOY,
    MIN_PARTITIONS,
    REPO,
    compose,
    of_kind,
    overlay,
    run,
    tool,
    topologies,
)

PORTAL = "portal"


@cache
def rendered() -> dict[str, Any]:
    config = compose("config", "--format", "json")
    assert config.returncode == 0, config.stderr
    services: dict[str, Any] = json.loads(config.stdout)["services"]
    return services


def test_the_compose_cli_and_the_compose_schema_accept_it() -> None:
    checked = compose("config", "--quiet")
    assert checked.returncode == 0, checked.stderr
    schema = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("depends_on:", "depend_on:", 1))
    assert compose("config", "--quiet", file=broken).returncode != 0
    schema = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", broken)
    assert schema.returncode != 0


def test_every_service_runs_from_the_one_image_with_its_database_and_a_health_check() -> None:
    services = rendered()
    init_sql = (DEPLOY / "postgres-init.sql").read_text()
    databases = set(re.findall(r"CREATE DATABASE (\w+);", init_sql))
    for name in [*topologies(), PORTAL]:
        service = services[name]
        assert service["image"] == "mcvt:latest", name
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
        env = service["environment"]
        if name == PORTAL:
            continue
        assert env["DATABASE_URL"].endswith(f"/mcvt_{name}"), name
        assert f"mcvt_{name}" in databases, name
        assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true", name
        assert int(env["KAFKA_TOPIC_PARTITIONS"]) >= MIN_PARTITIONS, name
        # The topics exist, with their partitions, before any consumer joins.
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_matching_runs_two_replicas() -> None:
    matching = rendered()["matching"]
    assert matching["deploy"]["replicas"] == 2
    assert not matching.get("ports"), "two replicas cannot share one host port"


def test_the_topics_job_creates_the_clusters_topics() -> None:
    job = rendered()["topics"]
    env = job["environment"]
    assert int(env["PARTITIONS"]) >= MIN_PARTITIONS
    kinds = ("KEPT_TOPICS", "COMPACTED_TOPICS", "TOPICS")
    created = set().union(*(env[kind].split() for kind in kinds))
    assert created == set(of_kind(overlay(), "KafkaTopic"))
    assert env["COMPACTED_TOPICS"].split() == [Topic.CONTACTS]
    assert job["restart"] == "no"


def test_kafka_keeps_its_data_on_a_volume_in_kraft_mode() -> None:
    kafka = rendered()["kafka"]
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert any(v["target"] == kafka["environment"]["KAFKA_LOG_DIRS"] for v in kafka["volumes"])
    assert all(v["type"] == "volume" for v in kafka["volumes"])


def test_monitoring_is_an_optional_profile() -> None:
    services = rendered()
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    prometheus = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    for name in [*topologies(), PORTAL]:
        assert f"names: [{name}]" in prometheus, f"Prometheus does not scrape {name}"


def test_the_image_runs_as_a_numeric_non_root_user_with_a_health_check() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)$", final_stage, re.MULTILINE)
    assert users and users[-1].isdigit() and users[-1] != "0"
    assert "HEALTHCHECK" in final_stage and "/readyz" in final_stage
    # Build tools stay in their stages: the image carries the environment, not uv or npm.
    assert "/uv" not in final_stage and "npm" not in final_stage
