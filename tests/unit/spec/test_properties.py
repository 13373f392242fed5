"""Property tests: any valid blueprint survives load -> dump -> load; Compose -> blueprint ->
Kubernetes keeps replicas, images, ports, env and resources."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.spec.compose_values import compose_bytes
from fleet.spec.dump import dump_blueprint, escape_parameters
from fleet.spec.k8s import to_manifests
from fleet.spec.loader import load_blueprints
from fleet.spec.quantity import parse_cpu, parse_memory

SETTINGS = settings(
    max_examples=int(os.environ.get("FLEET_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NAMES = ["web", "api", "kv", "worker", "a1", "b-2", "front-end"]
IMAGES = [
    "lab/web:1",
    "lab/web:2",
    "lab/kv:1",
    "registry.example:5000/team/app:1.2",
    "busybox",
    "lab/worker@sha256:" + "a" * 64,
]
LABEL_VALUES = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,6}[a-z0-9])?", fullmatch=True)
# any text a person might put in an env value or an argument: quotes, $, #, newlines, unicode
TEXT = st.lists(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\r")
    | st.sampled_from(["\n", "\t", "$", "${x}", "$$", "#", ": ", "- ", "'", '"', "*", "&"]),
    max_size=8,
).map("".join)
CPU = st.one_of(
    st.integers(1, 4000).map(lambda m: f"{m}m"),
    st.integers(1, 8),  # whole cores as a YAML number
    st.sampled_from(["0.5", "0.25", "1.5", "100m"]),
)
MEMORY = st.one_of(
    st.integers(1, 4096).map(lambda n: f"{n}Mi"),
    st.integers(1, 4000).map(lambda n: f"{n}M"),
    st.integers(1, 2**30),
    st.sampled_from(["1Gi", "1G", "512Ki", "1e6"]),
)


@st.composite
def resources(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    limits = draw(st.fixed_dictionaries({}, optional={"cpu": CPU, "memory": MEMORY}))
    requests = draw(st.fixed_dictionaries({}, optional={"cpu": CPU, "memory": MEMORY}))
    for key in ("cpu", "memory"):  # keep requests <= limits
        if key in limits and key in requests:
            parse = parse_cpu if key == "cpu" else parse_memory
            if parse(requests[key]) > parse(limits[key]):
                requests[key], limits[key] = limits[key], requests[key]
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


@st.composite
def probe(draw: Any, ports: list[tuple[int, str | None]]) -> dict[str, Any]:
    timing = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "initialDelaySeconds": st.integers(0, 100),
                "periodSeconds": st.integers(1, 60),
                "timeoutSeconds": st.integers(1, 10),
                "failureThreshold": st.integers(1, 10),
            },
        )
    )
    if ports and draw(st.booleans()):
        number, name = draw(st.sampled_from(ports))
        port: int | str = name if name and draw(st.booleans()) else number
        handler = draw(st.sampled_from(["httpGet", "tcpSocket"]))
        if handler == "httpGet":
            path = draw(st.from_regex(r"/[a-z0-9/._-]{0,12}", fullmatch=True))
            return {"httpGet": {"path": path, "port": port}, **timing}
        return {"tcpSocket": {"port": port}, **timing}
    return {"exec": {"command": draw(st.lists(TEXT, min_size=1, max_size=3))}, **timing}


@st.composite
def deployment(draw: Any, name: str, port_base: int) -> tuple[dict[str, Any], list[int]]:
    labels = {
        "app": name,
        **draw(st.dictionaries(st.sampled_from(["tier", "team"]), LABEL_VALUES, max_size=2)),
    }
    count = draw(st.integers(1, 3))
    names = [name] + [f"side{i}" for i in range(1, count)]
    volumes = draw(st.lists(st.sampled_from(["data", "scratch", "logs"]), unique=True, max_size=3))
    sources = {
        "data": {"persistent": {}},
        "scratch": {"emptyDir": {}},
        "logs": {"hostPath": {"path": "/var/log/app"}},
    }
    containers, all_ports = [], []
    for i, cname in enumerate(names):
        ports: list[tuple[int, str | None]] = []
        for j in range(draw(st.integers(0, 2))):
            number = port_base + 10 * i + j
            ports.append((number, draw(st.sampled_from([None, f"p{i}{j}"]))))
        all_ports.extend(p for p, _ in ports)
        container: dict[str, Any] = {"name": cname, "image": draw(st.sampled_from(IMAGES))}
        if ports:
            container["ports"] = [
                {"containerPort": p, **({"name": n} if n else {})} for p, n in ports
            ]
        for key in ("command", "args"):
            if draw(st.booleans()):
                container[key] = draw(st.lists(TEXT, max_size=3))
        env_names = draw(
            st.lists(
                st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True), unique=True, max_size=3
            )
        )
        if env_names:
            container["env"] = [{"name": n, "value": draw(TEXT)} for n in env_names]
        res = draw(resources())
        if res:
            container["resources"] = res
        if draw(st.booleans()):
            container["readinessProbe"] = draw(probe(ports))
        if draw(st.booleans()):
            container["livenessProbe"] = draw(probe(ports))
        mounts = draw(st.lists(st.sampled_from(volumes), unique=True)) if volumes else []
        if mounts:
            container["volumeMounts"] = [
                {"name": v, "mountPath": f"/mnt/{v}", **({"readOnly": True} if v == "logs" else {})}
                for v in mounts
            ]
        containers.append(container)
    replicas = draw(st.integers(0, 12))
    spec: dict[str, Any] = {
        "replicas": replicas,
        "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
    }
    if draw(st.booleans()):
        spec["selector"] = {"matchLabels": {"app": name}}
    if volumes:
        spec["template"]["spec"]["volumes"] = [{"name": v, **sources[v]} for v in volumes]
    kind = draw(st.sampled_from(["RollingUpdate", "Recreate", "Canary", None]))
    if kind == "Recreate":
        spec["strategy"] = {"type": "Recreate"}
    elif kind is not None:
        surge = draw(st.one_of(st.integers(0, 3), st.sampled_from(["0%", "25%", "50%"])))
        unavailable = draw(st.one_of(st.integers(1, 3), st.sampled_from(["10%", "100%"])))
        spec["strategy"] = {
            "type": kind,
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
        }
        if kind == "Canary" and replicas >= 1:
            spec["strategy"]["canary"] = {
                "replicas": draw(st.integers(1, replicas)),
                "weight": draw(st.integers(0, 100)),
            }
        elif kind == "Canary":
            spec["strategy"]["type"] = "RollingUpdate"
    extras = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "minReadySeconds": st.integers(0, 30),
                "maxPerHost": st.integers(1, 3),
                "placement": st.sampled_from(["spread", "binpack"]),
                "paused": st.booleans(),
                "revisionHistoryLimit": st.integers(0, 20),
            },
        )
    )
    spec.update(extras)
    doc = {
        "apiVersion": draw(st.sampled_from(["apps/v1", "extensions/v1beta1"])),
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": spec,
    }
    return doc, all_ports


@st.composite
def blueprint_docs(draw: Any) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    docs: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        doc, ports = draw(deployment(name, 8000 + 100 * index))
        docs.append(doc)
        if ports and draw(st.booleans()):
            kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {
                        "type": kind,
                        "selector": {"app": name},
                        "ports": [{"port": 9000 + index, "targetPort": ports[0]}],
                    },
                }
            )
    return docs


def load_yaml(text: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.yaml"
        path.write_text(text)
        return load_blueprints([path], environ={})


@SETTINGS
@given(blueprint_docs())
def test_load_dump_load_round_trips(docs: list[dict[str, Any]]) -> None:
    # the generated text is written the way a person must write it: `$${x}` for a literal ${x}
    first = load_yaml(yaml.safe_dump_all([escape_parameters(d) for d in docs], sort_keys=False))
    text = dump_blueprint(first)
    second = load_yaml(text)
    assert list(first.objects()) == list(second.objects())
    assert dump_blueprint(second) == text


COMPOSE_NAMES = st.lists(
    st.sampled_from(["web", "api", "db", "cache"]), min_size=1, max_size=3, unique=True
)


@st.composite
def compose_file(draw: Any) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for index, name in enumerate(draw(COMPOSE_NAMES)):
        target = 8000 + index
        service: dict[str, Any] = {"image": draw(st.sampled_from(IMAGES))}
        if draw(st.booleans()):
            service["ports"] = [f"{9000 + index}:{target}" if draw(st.booleans()) else str(target)]
        env = draw(
            st.dictionaries(
                st.from_regex(r"[A-Z][A-Z0-9_]{0,5}", fullmatch=True),
                st.text(alphabet="abc xyz-=:/1", max_size=8),
                max_size=3,
            )
        )
        if env:
            service["environment"] = (
                env if draw(st.booleans()) else [f"{k}={v}" for k, v in env.items()]
            )
        deploy: dict[str, Any] = {"replicas": draw(st.integers(0, 6))}
        cpus = draw(st.sampled_from(["0.5", "1", "0.25", "2"]))
        memory = draw(st.sampled_from(["64M", "128m", "1g", "512k", "1048576"]))
        deploy["resources"] = {"limits": {"cpus": cpus, "memory": memory}}
        service["deploy"] = deploy
        services[name] = service
    return {"services": services}


@SETTINGS
@given(compose_file())
def test_compose_to_kubernetes_keeps_what_matters(compose: dict[str, Any]) -> None:
    blueprint = load_yaml(yaml.safe_dump(compose, sort_keys=False))
    manifests, _ = to_manifests(blueprint)
    deployments = {
        m.data["metadata"]["name"]: m.data for m in manifests if m.data["kind"] == "Deployment"
    }
    services = {
        m.data["metadata"]["name"]: m.data for m in manifests if m.data["kind"] == "Service"
    }
    assert set(deployments) == set(compose["services"])
    for name, service in compose["services"].items():
        spec = deployments[name]["spec"]
        container = spec["template"]["spec"]["containers"][0]
        assert spec["replicas"] == service["deploy"]["replicas"]
        assert container["image"] == service["image"]
        limits = service["deploy"]["resources"]["limits"]
        assert parse_cpu(container["resources"]["limits"]["cpu"]) == parse_cpu(limits["cpus"])
        assert parse_memory(container["resources"]["limits"]["memory"]) == compose_bytes(
            limits["memory"]
        )
        raw_env = service.get("environment", {})
        env = raw_env if isinstance(raw_env, dict) else dict(item.split("=", 1) for item in raw_env)
        assert {e["name"]: e["value"] for e in container.get("env", [])} == env
        for port in service.get("ports", []):
            published, _, target = port.rpartition(":")
            assert {"containerPort": int(target)} in container["ports"]
            service_ports = services[name]["spec"]["ports"]
            assert any(
                p["port"] == int(published or target) and p["targetPort"] == int(target)
                for p in service_ports
            )
