"""Kubernetes manifests from blueprints: the growth path when a team outgrows fleet.

`fleet convert k8s` prints apps/v1 Deployments (always with a selector), v1
Services, autoscaling/v1 HPAs, a Namespace per application and a
PersistentVolumeClaim per persistent volume, as YAML `kubectl apply` accepts.
fleet extensions are translated where Kubernetes has something close and named
in a `# fleet:` comment where it does not:

    maxPerHost           topologySpreadConstraints over kubernetes.io/hostname
    dependsOn            comment (Kubernetes has no start order)
    placement: binpack   comment (a scheduler setting in Kubernetes)
    Canary strategy      RollingUpdate + comment (use Argo Rollouts or Flagger)
    persistent volumes   a PVC (shared by the replicas in Kubernetes: see the comment)
    valueFrom file/env   secretKeyRef to a Secret `<deployment>-env` + how to create it
    Secret (sources)     `kubectl create secret` commands, never the values
    nodePort outside 30000-32767, or none: Kubernetes picks one (comment)
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

import yaml

from fleet.spec.dump import _Dumper

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint, Deployment, HorizontalPodAutoscaler, Service

NODE_PORTS = range(30000, 32768)
HOSTNAME_KEY = "kubernetes.io/hostname"


class Manifest:
    """One Kubernetes object and the comments that go above it."""

    def __init__(self, data: dict[str, Any], comments: list[str] | None = None) -> None:
        self.data = data
        self.comments = comments or []


def _meta(obj: Any, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": obj.name, "namespace": obj.app}
    labels = {**obj.meta.labels, **(extra_labels or {})}
    if labels:
        meta["labels"] = labels
    if obj.meta.annotations:
        meta["annotations"] = dict(obj.meta.annotations)
    return meta


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def deployment_manifests(dep: Deployment, blueprint: Blueprint) -> list[Manifest]:
    """The Deployment (plus PVCs for its persistent volumes)."""
    comments: list[str] = []
    extra: list[Manifest] = []
    spec = dep.spec
    pod = spec.template.spec
    selector = _dump(spec.selector) if spec.selector else {"matchLabels": dict(dep.labels)}
    secret_name = f"{dep.name}-env"
    from_controller: list[str] = []
    containers = []
    for container in pod.containers:
        data = _dump(container)
        for var, raw in zip(container.env, data.get("env", []), strict=True):
            source = var.value_from
            if source is None or source.secret_key_ref is not None:
                continue
            raw["valueFrom"] = {"secretKeyRef": {"name": secret_name, "key": var.name}}
            if source.file is not None:
                from_controller.append(f"--from-file={var.name}={shlex.quote(source.file)}")
            else:
                from_controller.append(f'--from-literal={var.name}="${source.env}"')
        containers.append(data)
    if from_controller:
        comments.append(
            f"fleet: env read on the controller comes from Secret {secret_name}; create it with"
        )
        comments.append(
            f"  kubectl create secret generic {secret_name} -n {dep.app} "
            + " ".join(sorted(set(from_controller)))
        )
    volumes = []
    for volume in pod.volumes:
        if volume.kind == "persistent":
            claim = volume.claim_name
            volumes.append({"name": volume.name, "persistentVolumeClaim": {"claimName": claim}})
            extra.append(Manifest(
                {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": claim, "namespace": dep.app},
                 "spec": {"accessModes": ["ReadWriteOnce"],
                          "resources": {"requests": {"storage": "1Gi"}}}},
                [f"fleet: volume {volume.name} of {dep.name} gives each replica its own volume; "
                 "in Kubernetes all replicas share this claim",
                 "  (for one volume per replica use a StatefulSet with volumeClaimTemplates); "
                 "the size is a placeholder"],
            ))  # fmt: skip
        else:
            volumes.append(_dump(volume))
    template_spec: dict[str, Any] = {"containers": containers}
    if volumes:
        template_spec["volumes"] = volumes
    if pod.node_selector:
        template_spec["nodeSelector"] = dict(pod.node_selector)
    if pod.termination_grace_period_seconds != 30:
        template_spec["terminationGracePeriodSeconds"] = pod.termination_grace_period_seconds
    spread = []
    for constraint in spec.topology_spread_constraints:
        item = _dump(constraint)
        item.setdefault("whenUnsatisfiable", "DoNotSchedule")
        item.setdefault("labelSelector", selector)
        spread.append(item)
    if spec.max_per_host is not None:
        spread.append(
            {
                "maxSkew": 1,
                "topologyKey": HOSTNAME_KEY,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
            }
        )
        comments.append(
            f"fleet: maxPerHost {spec.max_per_host} caps replicas per host; the closest "
            "Kubernetes rule is an even spread over hosts (topologySpreadConstraints)"
        )
    if spread:
        template_spec["topologySpreadConstraints"] = spread
    template_meta: dict[str, Any] = {"labels": dict(dep.labels)}
    if spec.template.metadata.annotations:
        template_meta["annotations"] = dict(spec.template.metadata.annotations)
    out_spec: dict[str, Any] = {
        "replicas": spec.replicas,
        "selector": selector,
        "template": {"metadata": template_meta, "spec": template_spec},
    }
    strategy = spec.strategy
    if strategy.type == "Recreate":
        out_spec["strategy"] = {"type": "Recreate"}
    else:
        out_spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": _dump(strategy.rolling_update) or {},
        }
        if not out_spec["strategy"]["rollingUpdate"]:
            del out_spec["strategy"]["rollingUpdate"]
    if strategy.type == "Canary" and strategy.canary is not None:
        canary = strategy.canary
        weight = canary.effective_weight(spec.replicas)
        comments.append(
            f"fleet: Canary strategy ({canary.replicas} replica(s), {weight}% of traffic first) "
            "has no Kubernetes equivalent; this is a RollingUpdate (see Argo Rollouts, Flagger)"
        )
    for key, value, default in (
        ("minReadySeconds", spec.min_ready_seconds, 0),
        ("progressDeadlineSeconds", spec.progress_deadline_seconds, 600),
        ("revisionHistoryLimit", spec.revision_history_limit, 10),
        ("paused", spec.paused, False),
    ):
        if value != default:
            out_spec[key] = value
    if spec.depends_on:
        comments.append(
            f"fleet: dependsOn {', '.join(spec.depends_on)}: Kubernetes has no start order; "
            "rely on readiness probes and retries"
        )
    if spec.placement == "binpack":
        comments.append(
            "fleet: placement binpack is a scheduler setting in Kubernetes "
            "(MostAllocated scoring); dropped"
        )
    manifest = Manifest(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(dep), "spec": out_spec},
        comments,
    )
    return [*extra, manifest]


def service_manifest(service: Service) -> Manifest:
    """A v1 Service; fleet listens on lb hosts, Kubernetes on nodePorts."""
    comments: list[str] = []
    ports = []
    for port in service.spec.ports:
        item: dict[str, Any] = {
            "port": port.port,
            "targetPort": port.target_port,
            "protocol": port.protocol,
        }
        if port.name:
            item = {"name": port.name, **item}
        if service.spec.type != "ClusterIP":
            if port.node_port in NODE_PORTS:
                item["nodePort"] = port.node_port
            else:
                listen = port.node_port or port.port
                comments.append(
                    f"fleet: listens on port {listen} of the load-balancer hosts; Kubernetes "
                    "picks a nodePort in 30000-32767"
                )
        ports.append(item)
    spec: dict[str, Any] = {
        "type": service.spec.type,
        "selector": dict(service.spec.selector),
        "ports": ports,
    }
    return Manifest(
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(service), "spec": spec}, comments
    )


def autoscaler_manifest(hpa: HorizontalPodAutoscaler) -> Manifest:
    """An autoscaling/v1 HorizontalPodAutoscaler."""
    spec = hpa.spec
    ref = spec.scale_target_ref
    return Manifest({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": _meta(hpa),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": ref.kind, "name": ref.name},
            "minReplicas": spec.min_replicas, "maxReplicas": spec.max_replicas,
            "targetCPUUtilizationPercentage": spec.target_cpu_utilization_percentage,
        },
    })  # fmt: skip


def to_manifests(blueprint: Blueprint) -> tuple[list[Manifest], list[str]]:
    """(manifests, header comments) for a blueprint set."""
    header: list[str] = []
    for name in sorted(blueprint.secrets):
        secret = blueprint.secrets[name]
        args = []
        for key in sorted(secret.sources):
            source = secret.sources[key]
            if source.file is not None:
                args.append(f"--from-file={key}={shlex.quote(source.file)}")
            else:
                args.append(f'--from-literal={key}="${source.env}"')
        header.append(
            f"Secret {name}: kubectl create secret generic {name} -n {secret.app} " + " ".join(args)
        )
    manifests = [
        Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": app}})
        for app in sorted(blueprint.apps)
    ]
    for name in sorted(blueprint.deployments):
        manifests.extend(deployment_manifests(blueprint.deployments[name], blueprint))
    for name in sorted(blueprint.services):
        manifests.append(service_manifest(blueprint.services[name]))
    for name in sorted(blueprint.autoscalers):
        manifests.append(autoscaler_manifest(blueprint.autoscalers[name]))
    return manifests, header


def render(manifests: list[Manifest], header: list[str]) -> str:
    """Multi-document YAML with `# ` comments above each object."""
    out = ["# Kubernetes manifests generated by `fleet convert k8s`.\n"]
    out.extend(f"# {line}\n" for line in header)
    for manifest in manifests:
        out.append("---\n")
        out.extend(f"# {line}\n" for line in manifest.comments)
        out.append(
            yaml.dump(
                manifest.data,
                Dumper=_Dumper,
                sort_keys=False,
                allow_unicode=True,
                default_flow_style=False,
                width=100,
            )
        )
    return "".join(out)


def convert_k8s(blueprint: Blueprint) -> str:
    """The Kubernetes YAML for a blueprint set."""
    manifests, header = to_manifests(blueprint)
    return render(manifests, header)
