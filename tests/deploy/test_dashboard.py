"""The Grafana dashboard queries the metrics the runtime exposes, under their exposed names."""

from __future__ import annotations

import json
import re

from tests.deploy.manifests import DEPLOY, REPO

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mcvt.json"
# What prometheus_client appends to a counter's or histogram's name when it exposes it.
SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def test_every_metric_on_the_dashboard_is_one_the_runtime_registers() -> None:
    source = (REPO / "services" / "runtime" / "metrics.py").read_text()
    registered = set(re.findall(r'"(mcvt_[a-z_]+)"', source))
    used = {name for expr in queries() for name in re.findall(r"\bmcvt_[a-z_]+", expr)}
    assert used, "the dashboard queries none of the runtime's metrics"
    for name in used:
        base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
        assert base in registered, f"{name} is not a metric of services/runtime/metrics.py"
    # Every metric the runtime registers has a panel.
    assert registered - {n.removesuffix(s) for n in used for s in SUFFIXES} == set()


def test_the_dashboard_reads_the_provisioned_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = (provisioning / "datasources" / "prometheus.yml").read_text()
    assert "uid: prometheus" in datasource
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "prometheus", panel["title"]
