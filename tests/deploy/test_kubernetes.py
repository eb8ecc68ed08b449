"""The Kubernetes manifests as kustomize renders them, checked offline: the Kubernetes resources
against the Kubernetes schemas (kubernetes-validate --strict), the Strimzi ones against theirs
(check-jsonschema), and the shape every service needs in a cluster."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    BASE,
    SCHEMAS,
    SHARED_SCHEMAS,
    Resource,
    is_strimzi,
    of_kind,
    overlay,
    render,
    topologies,
    validate_kubernetes,
    validate_strimzi,
)

PORTAL = "portal"


def test_the_base_and_the_example_overlay_render_and_validate(tmp_path: Path) -> None:
    # Both in one run of each tool: the base must stand alone, the overlay is what is applied.
    resources = [*render(BASE), *overlay()]
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"} <= {
        r["kind"] for r in resources if is_strimzi(r)
    }
    assert validate_kubernetes(resources, tmp_path) == []
    assert validate_strimzi(resources, tmp_path) == []


def test_a_broken_manifest_is_refused(tmp_path: Path) -> None:
    """The checks above are not vacuous: a misspelt field and a wrong Strimzi value fail them."""
    deployment = copy.deepcopy(of_kind(overlay(), "Deployment")["offers"])
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    port["containerPorts"] = port.pop("containerPort")
    topic = copy.deepcopy(of_kind(overlay(), "KafkaTopic")["mcvt.offers"])
    topic["spec"]["replicas"] = "three"
    assert any("containerPort" in p for p in validate_kubernetes([deployment], tmp_path))
    assert any("three" in p for p in validate_strimzi([topic], tmp_path))


def test_an_unknown_kind_is_refused_not_warned_about(tmp_path: Path) -> None:
    typo: Resource = {"apiVersion": "v1", "kind": "Servce", "metadata": {"name": "x"}}
    assert validate_kubernetes([typo], tmp_path) != []


@pytest.mark.skipif(not SHARED_SCHEMAS.is_dir(), reason="no shared copy beside the repository")
def test_the_vendored_strimzi_schemas_are_the_shared_ones_unchanged() -> None:
    for vendored in [*sorted(SCHEMAS.glob("*.json")), SCHEMAS / "LICENSE"]:
        assert vendored.read_bytes() == (SHARED_SCHEMAS / vendored.name).read_bytes()


def test_every_service_and_the_portal_run_with_probes_resources_and_a_service() -> None:
    resources = overlay()
    deployments, services = of_kind(resources, "Deployment"), of_kind(resources, "Service")
    for name in [*topologies(), PORTAL]:
        assert name in deployments, f"{name} has no Deployment"
        assert name in services, f"{name} has no Service"
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        port = container["ports"][0]["containerPort"]
        env = {e["name"]: e for e in container["env"]}
        assert env["PORT"]["value"] == str(port)
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_each_service_has_its_database_and_its_kafka_user() -> None:
    resources = overlay()
    databases = of_kind(resources, "Secret")["mcvt-database"]["stringData"]
    deployments = of_kind(resources, "Deployment")
    for name in topologies():
        assert databases[name].endswith(f"/mcvt_{name}")
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "mcvt-database",
            "key": name,
        }
        # The Secret the User Operator creates for the KafkaUser of the same name.
        assert env["KAFKA_SASL_USERNAME"]["value"] == f"mcvt-{name}"
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"mcvt-{name}",
            "key": "password",
        }


def test_the_consumers_scale_within_their_partitions() -> None:
    resources = overlay()
    partitions = {n: t["spec"]["partitions"] for n, t in of_kind(resources, "KafkaTopic").items()}
    autoscalers = of_kind(resources, "HorizontalPodAutoscaler")
    deployments = of_kind(resources, "Deployment")
    for name, topology in topologies().items():
        if not topology.groups:
            continue
        scaler = autoscalers.get(name)
        assert scaler is not None, f"{name} consumes but has no HorizontalPodAutoscaler"
        assert scaler["spec"]["scaleTargetRef"]["name"] == name
        # More members than partitions would idle: the busiest topic bounds the replicas.
        fewest = min(partitions[t] for t in topology.consumes)
        assert 2 <= scaler["spec"]["minReplicas"] <= scaler["spec"]["maxReplicas"] <= fewest
        # The autoscaler owns the count; a fixed one would fight it on every apply.
        assert "replicas" not in deployments[name]["spec"]


def test_matching_runs_several_replicas_rolling() -> None:
    matching = of_kind(overlay(), "Deployment")["matching"]["spec"]
    assert matching.get("replicas", 2) != 1
    assert matching.get("strategy", {}).get("type", "RollingUpdate") != "Recreate"
    scaler = of_kind(overlay(), "HorizontalPodAutoscaler")["matching"]["spec"]
    territories = of_kind(overlay(), "KafkaTopic")["mcvt.matching.read-model.territories"]["spec"]
    assert scaler["maxReplicas"] <= territories["partitions"]
