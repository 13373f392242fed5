"""`fleet convert k8s`: manifests Kubernetes accepts, checked against its JSON schemas.

kubernetes-validate ships the API server's OpenAPI schemas as JSON schema; in
strict mode an unknown or misspelt field fails, which is what `kubectl apply
--dry-run=client` (client-side validation) rejects too, without a cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from fleet.spec.k8s import convert_k8s, to_manifests
from fleet.spec.loader import load_blueprints
from tests.unit.spec.helpers import ROOT, WEB, load_text

VERSION = kubernetes_validate.latest_version()
FLEET_ONLY = {"dependsOn", "maxPerHost", "placement", "persistent", "canary", "sources", "file"}


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in keys(v)}
    return set()


@pytest.mark.parametrize("name", ["demo.yaml", "zwitscher.yaml", "shop-compose.yaml"])
def test_examples_convert_to_valid_kubernetes(name: str) -> None:
    text = convert_k8s(load_blueprints([ROOT / "blueprints" / name]))
    docs = documents(text)
    for doc in docs:
        kubernetes_validate.validate(doc, VERSION, strict=True)
    assert not keys(docs) & FLEET_ONLY


def test_demo_manifests() -> None:
    text = convert_k8s(load_blueprints([ROOT / "blueprints" / "demo.yaml"]))
    docs = {(d["kind"], d["metadata"]["name"]): d for d in documents(text)}
    assert set(docs) == {
        ("Namespace", "demo"),
        ("PersistentVolumeClaim", "data"),
        ("Deployment", "web"),
        ("Deployment", "worker"),
        ("Deployment", "kv"),
        ("Deployment", "api"),
        ("Service", "web"),
        ("Service", "kv"),
        ("Service", "api"),
    }
    web = docs[("Deployment", "web")]
    assert web["apiVersion"] == "apps/v1" and web["metadata"]["namespace"] == "demo"
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert web["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    kv = docs[("Deployment", "kv")]["spec"]["template"]["spec"]
    assert kv["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    assert docs[("Service", "web")]["spec"]["type"] == "LoadBalancer"
    assert docs[("Service", "kv")]["spec"]["ports"] == [
        {"port": 7070, "targetPort": 8080, "protocol": "TCP"}
    ]
    assert "# fleet: dependsOn kv: Kubernetes has no start order" in text
    assert "StatefulSet with volumeClaimTemplates" in text


def test_the_seed_gets_a_selector_and_apps_v1() -> None:
    manifests, _ = to_manifests(load_blueprints([ROOT / "blueprints" / "zwitscher.yaml"]))
    (dep,) = [m.data for m in manifests if m.data["kind"] == "Deployment"]
    assert dep["apiVersion"] == "apps/v1"
    assert dep["spec"]["selector"] == {"matchLabels": {"zwitscher": "service"}}
    limits = dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "500m", "memory": "192M"}


def test_extensions_are_translated_or_noted(tmp_path: Path) -> None:
    text = WEB.replace(
        "replicas: 3\n",
        "replicas: 3\n  maxPerHost: 1\n  placement: binpack\n"
        "  strategy: {type: Canary, canary: {replicas: 1, weight: 10}}\n",
    )
    text += (
        "          env:\n            - {name: A, valueFrom: {file: a.txt}}\n"
        "            - {name: B, valueFrom: {env: B_VAR}}\n"
        "            - {name: C, valueFrom: {secretKeyRef: {name: db, key: c}}}\n"
    )
    text += "---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\nsources:\n  c: {file: c}\n"
    text += (
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
        "  type: NodePort\n  selector: {app: web}\n  ports:\n"
        "    - {name: a, port: 80, targetPort: http, nodePort: 30080}\n"
        "    - {name: b, port: 81, targetPort: http, nodePort: 8081}\n"
    )
    text += (
        "---\napiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\n"
        "metadata: {name: web}\nspec:\n  scaleTargetRef: {kind: Deployment, name: web}\n"
        "  maxReplicas: 4\n"
    )
    text = text.replace(
        "          image: lab/web:1\n",
        "          image: lab/web:1\n          resources: {requests: {cpu: 100m}}\n",
    )
    out = convert_k8s(load_text(tmp_path, text))
    docs = documents(out)
    for doc in docs:
        kubernetes_validate.validate(doc, VERSION, strict=True)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    spread = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["valueFrom"] == {"secretKeyRef": {"name": "web-env", "key": "A"}}
    assert env[2]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "c"}}
    assert "kubectl create secret generic web-env -n app --from-file=A=a.txt" in out
    assert '--from-literal=B="$B_VAR"' in out
    assert "kubectl create secret generic db -n app --from-file=c=c" in out
    assert "Canary strategy (1 replica(s), 10% of traffic first)" in out
    assert "placement binpack" in out
    service = next(d for d in docs if d["kind"] == "Service")
    assert [p.get("nodePort") for p in service["spec"]["ports"]] == [30080, None]
    assert "listens on port 8081 of the load-balancer hosts" in out
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["targetCPUUtilizationPercentage"] == 80
