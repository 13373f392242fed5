"""Cross-object checks that are not already cases of the bad/ corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import SpecErrors
from fleet.spec.loader import load_inventory
from tests.unit.spec.helpers import WEB, WEB_SERVICE, load_text, write

INVENTORY = """\
name: test
hosts:
  - {name: n1, address: 10.0.0.1, roles: [lb], zone: a, labels: {disk: ssd},
     capacity: {cpu: "1", memory: 1Gi}}
  - {name: n2, address: 10.0.0.2, zone: b, capacity: {cpu: "1", memory: 1Gi}}
"""


def dep(name: str, depends: list[str], port: int) -> str:
    text = WEB.replace("name: web", f"name: {name}").replace("app: web", f"app: {name}")
    text = text.replace("replicas: 3\n", f"replicas: 1\n  dependsOn: {depends}\n")
    text = text.replace("containerPort: 8080", f"containerPort: {port}")
    svc = WEB_SERVICE.replace("name: web", f"name: {name}").replace("app: web", f"app: {name}")
    return (
        text
        + "---\n"
        + svc.replace("port: 8080", f"port: {port}").replace("type: NodePort", "type: ClusterIP")
    )


def test_a_longer_cycle_is_named_once(tmp_path: Path) -> None:
    text = "---\n".join([dep("a", ["b"], 8001), dep("b", ["c"], 8002), dep("c", ["a"], 8003)])
    with pytest.raises(SpecErrors) as caught:
        load_text(tmp_path, text)
    (error,) = caught.value.errors
    assert "dependency cycle: a (dependsOn b) -> b (dependsOn c) -> c (dependsOn a) -> a" in str(
        error
    )


def test_a_dependency_chain_is_fine(tmp_path: Path) -> None:
    text = "---\n".join([dep("a", ["b"], 8001), dep("b", ["c"], 8002), dep("c", [], 8003)])
    bp = load_text(tmp_path, text)
    assert bp.deployments["a"].spec.depends_on == ["b"]


def test_a_service_over_several_deployments_warns(tmp_path: Path) -> None:
    canary = WEB.replace("name: web", "name: web-canary").replace(
        "labels: {app: web}", "labels: {app: web, track: canary}"
    )
    bp = load_text(tmp_path, WEB + "---\n" + canary + "---\n" + WEB_SERVICE)
    assert "selects several Deployments (web, web-canary)" in bp.warnings[0]
    assert [d.name for d in bp.deployments_for(bp.services["web"])] == ["web", "web-canary"]


def test_inventory_checks(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "inv.yaml", INVENTORY))
    selected = WEB.replace(
        "      containers:\n", "      nodeSelector: {disk: ssd}\n      containers:\n"
    )
    assert load_text(tmp_path, selected, inventory=inventory).warnings == []
    hungry = WEB.replace(
        "          image: lab/web:1\n",
        "          image: lab/web:1\n          resources: {requests: {cpu: '2'}}\n",
    )
    bp = load_text(tmp_path, hungry, inventory=inventory)
    assert "no host has room for one replica (requests cpu 2" in bp.warnings[0]
    capped = WEB.replace("replicas: 3\n", "replicas: 3\n  maxPerHost: 1\n")
    bp = load_text(tmp_path, capped, inventory=inventory)
    assert "places at most 2 of 3 replicas" in bp.warnings[0]
    zone = selected.replace("{disk: ssd}", "{topology.kubernetes.io/zone: b}")
    assert load_text(tmp_path, zone, inventory=inventory).warnings == []


def test_two_autoscalers_for_one_deployment(tmp_path: Path) -> None:
    web = WEB.replace(
        "          image: lab/web:1\n",
        "          image: lab/web:1\n          resources: {requests: {cpu: 100m}}\n",
    )
    hpa = (
        "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: NAME}\n"
        "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
        "  maxReplicas: 5\n"
    )
    bp = load_text(tmp_path, web + "---\n" + hpa.replace("NAME", "web"))
    assert bp.autoscaler_for(bp.deployments["web"]) is bp.autoscalers["web"]
    assert bp.autoscalers["web"].spec.target_cpu_utilization_percentage == 80
    with pytest.raises(SpecErrors, match="already scaled by autoscaler 'a'"):
        load_text(
            tmp_path, web + "---\n" + hpa.replace("NAME", "a") + "---\n" + hpa.replace("NAME", "b")
        )


def test_services_on_different_ports_are_fine(tmp_path: Path) -> None:
    api = WEB_SERVICE.replace("name: web", "name: api").replace("port: 8080", "port: 8081")
    bp = load_text(tmp_path, WEB + "---\n" + WEB_SERVICE + "---\n" + api)
    assert sorted(p for s in bp.services.values() for _, p in s.listen_ports()) == [8080, 8081]


def test_optional_secret_refs_may_be_missing(tmp_path: Path) -> None:
    text = WEB + (
        "          env:\n            - name: A\n              valueFrom:\n"
        "                secretKeyRef: {name: db, key: a, optional: true}\n"
    )
    assert load_text(tmp_path, text).warnings == []


def test_long_chains_and_many_objects(tmp_path: Path) -> None:
    # 1,200 deployments in one dependsOn chain whose end points back at the start: no
    # recursion limit, no quadratic selector matching, and the cycle is still found
    n = 1200
    docs = []
    for i in range(n):
        nxt = f"d{(i + 1) % n}"
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}}}\nspec:\n"
            f"  dependsOn: [{nxt}]\n  template:\n    metadata: {{labels: {{app: d{i}}}}}\n"
            f"    spec:\n      containers:\n        - {{name: c, image: lab/web:1, "
            f"ports: [{{containerPort: 8080}}]}}\n---\n"
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: d{i}}}\nspec:\n"
            f"  selector: {{app: d{i}}}\n  ports: [{{port: {10000 + i}, targetPort: 8080}}]\n"
        )
    with pytest.raises(SpecErrors) as caught:
        load_text(tmp_path, "---\n".join(docs))
    (error,) = caught.value.errors
    assert "dependency cycle: d0 (dependsOn d1) -> d1" in str(error)
    assert str(error).endswith("-> d1199 (dependsOn d0) -> d0")
