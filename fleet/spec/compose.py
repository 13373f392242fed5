"""Compose files as blueprints: each Compose service becomes a Deployment (and a Service
when it has ports), with errors pointing at the Compose file's lines and fields.

Mapping (Compose -> blueprint):
    image                       container image (no image: error, fleet builds nothing)
    entrypoint / command        command / args (strings are split like a shell would)
    environment (list or map)   env; a variable without value reads the controller's env
    ports "P:T", expose         containerPort T; Service port P (NodePort) or T (ClusterIP)
    volumes name:/p, ./d:/p     persistent volume (per replica!), hostPath (made absolute)
    depends_on                  dependsOn (only services with ports have a Service to wait on)
    healthcheck                 livenessProbe exec (interval, timeout, retries, start_period)
    deploy.replicas / scale     replicas
    deploy.resources, cpus, mem_limit, mem_reservation   limits / requests (Compose units)
    deploy.update_config        parallelism + order -> maxSurge/maxUnavailable; monitor ->
                                minReadySeconds
    deploy.placement            constraints node.labels.X==Y -> nodeSelector;
                                max_replicas_per_node -> maxPerHost
    deploy.restart_policy, restart   Always is what Deployments do; others warn
    stop_grace_period           terminationGracePeriodSeconds
    labels                      annotations (label values in Compose may be free text)
Everything else (build, networks, container_name, ...) is named in a warning.
The application is the Compose `name:`, else the file's stem (for docker-compose.yml
/ compose.yaml the folder's name, as docker compose does).
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import names
from fleet.errors import Location, SpecError, UnsafeNameError
from fleet.spec.compose_values import (
    ComposeError,
    compose_bytes,
    compose_seconds,
    label_of,
    port_of,
    volume_of,
)
from fleet.spec.yamlsrc import Document, Path_, format_path

SUPPORTED = {
    "image", "command", "entrypoint", "environment", "ports", "expose", "volumes",
    "depends_on", "healthcheck", "deploy", "restart", "labels", "scale", "cpus",
    "mem_limit", "mem_reservation", "stop_grace_period",
}  # fmt: skip
TOP_LEVEL_IGNORED = {"version", "name", "services", "volumes"}


@dataclass
class Converted:
    """Blueprint documents made from a Compose file, and what was said on the way."""

    documents: list[Document]
    app: str
    errors: list[SpecError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Service:
    """Builds the Deployment (and Service) documents of one Compose service."""

    def __init__(self, conv: _Converter, key: str, name: str, data: dict[str, Any]) -> None:
        self.conv = conv
        self.key = key
        self.name = name
        self.data = data
        self.lines: dict[Path_, int] = {}
        self.display: dict[Path_, str] = {}
        self.service_ports: list[dict[str, Any]] = []

    def src(self, *path: str | int) -> Path_:
        return ("services", self.key, *path)

    def link(self, gen: Path_, *src: str | int) -> None:
        """Generated field `gen` comes from Compose field `src` (for messages)."""
        cpath = self.src(*src)
        self.lines[gen] = self.conv.source.line_of(cpath)
        self.display[gen] = format_path(cpath)

    def warn(self, message: str, *src: str | int) -> None:
        self.conv.warn(message, self.src(*src))

    def error(self, message: str, *src: str | int) -> None:
        self.conv.error(message, self.src(*src))

    def build(self) -> list[Document]:
        d = self.data
        for key in d:
            if key not in SUPPORTED and key != "build":
                self.warn(f"{key} is not supported by fleet; ignored", key)
        image = d.get("image")
        if image is None:
            if "build" in d:
                self.error(
                    "fleet does not build images: build it, make it available to the "
                    "hosts (a registry or a loaded image) and give image:",
                    "build",
                )
            else:
                self.error(
                    "image is required",
                )
            return []
        if "build" in d:
            self.warn("build is ignored: fleet runs the image given in image:", "build")
        container: dict[str, Any] = {"name": self.name, "image": image}
        c = ("spec", "template", "spec", "containers", 0)
        self.link(c, "image")
        self.link((*c, "image"), "image")
        self._command(container, c)
        self._env(container, c)
        self._ports(container, c)
        volumes = self._volumes(container, c)
        self._healthcheck(container, c)
        spec: dict[str, Any] = {
            "replicas": 1,
            "selector": {"matchLabels": {"app": self.name}},
            "template": {
                "metadata": {"labels": {"app": self.name}},
                "spec": {"containers": [container]},
            },
        }
        pod = spec["template"]["spec"]
        if volumes:
            pod["volumes"] = volumes
        if "scale" in d:
            spec["replicas"] = d["scale"]
            self.link(("spec", "replicas"), "scale")
        self._resources(
            container,
            c,
            [
                ("limits", "cpu", d.get("cpus"), ("cpus",)),
                ("limits", "memory", d.get("mem_limit"), ("mem_limit",)),
                ("requests", "memory", d.get("mem_reservation"), ("mem_reservation",)),
            ],
        )
        if "stop_grace_period" in d:
            self._seconds(
                pod,
                "terminationGracePeriodSeconds",
                d["stop_grace_period"],
                ("spec", "template", "spec", "terminationGracePeriodSeconds"),
                "stop_grace_period",
            )
        self._restart(d.get("restart"))
        self._deploy(spec, container, c)
        self._depends_on(spec)
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.conv.app}
        labels = d.get("labels")
        if labels:
            metadata["annotations"] = self._annotations(labels)
            self.link(("metadata", "annotations"), "labels")
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": spec,
        }
        self.link(
            (),
        )
        self.link(
            ("metadata", "name"),
        )
        docs = [self._document(deployment)]
        if self.service_ports:
            published = any([p.pop("_published") for p in self.service_ports])
            if len(self.service_ports) > 1:
                for p in self.service_ports:
                    p["name"] = f"p{p['port']}"
            service = {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": self.name, "namespace": self.conv.app},
                "spec": {"type": "NodePort" if published else "ClusterIP",
                         "selector": {"app": self.name}, "ports": self.service_ports},
            }  # fmt: skip
            lines, display = dict(self.lines), dict(self.display)
            self.lines, self.display = {}, {}
            self.link((), "ports" if "ports" in d else "expose")
            for i, port in enumerate(self.service_ports):
                self.link(("spec", "ports", i), *port.pop("_src"))
            docs.append(self._document(service))
            self.lines, self.display = lines, display
        return docs

    def _document(self, data: dict[str, Any]) -> Document:
        line = self.conv.source.line_of(self.src())
        return Document(data, self.conv.source.file, line, 0, dict(self.lines), dict(self.display))

    # --- pieces --------------------------------------------------------------------------

    def _argv(self, value: Any, key: str) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return shlex.split(value)
            except ValueError as exc:
                self.error(f"cannot split {key} into words: {exc}", key)
                return None
        if isinstance(value, list):
            return [str(v) for v in value]
        self.error(f"{key} must be a string or a list", key)
        return None

    def _command(self, container: dict[str, Any], c: Path_) -> None:
        # Compose entrypoint = image ENTRYPOINT = Kubernetes command; command = CMD = args
        for key, target in (("entrypoint", "command"), ("command", "args")):
            argv = self._argv(self.data.get(key), key)
            if argv is not None:
                container[target] = argv
                self.link((*c, target), key)

    def _env(self, container: dict[str, Any], c: Path_) -> None:
        raw = self.data.get("environment")
        if raw is None:
            return
        items: list[tuple[str, Any, str | int]] = []
        if isinstance(raw, dict):
            items = [(str(k), v, k) for k, v in raw.items()]
        elif isinstance(raw, list):
            for i, entry in enumerate(raw):
                key, sep, value = str(entry).partition("=")
                items.append((key, value if sep else None, i))
        else:
            self.error("environment must be a list or a mapping", "environment")
            return
        env = []
        for i, (key, value, where) in enumerate(items):
            self.link((*c, "env", i), "environment", where)
            if value is None:
                # Compose: a variable without a value is taken from the shell running compose
                env.append({"name": key, "valueFrom": {"env": key}})
            else:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                env.append({"name": key, "value": str(value)})
        container["env"] = env

    def _ports(self, container: dict[str, Any], c: Path_) -> None:
        declared: list[dict[str, Any]] = []

        def declare(target: int, protocol: str, src: Path_) -> None:
            if not any(
                p["containerPort"] == target and p.get("protocol", "TCP") == protocol
                for p in declared
            ):
                self.link((*c, "ports", len(declared)), *src)
                entry: dict[str, Any] = {"containerPort": target}
                if protocol != "TCP":
                    entry["protocol"] = protocol
                declared.append(entry)

        for i, raw in enumerate(self.data.get("ports") or []):
            try:
                target, published, protocol = port_of(raw)
            except ComposeError as exc:
                self.error(str(exc), "ports", i)
                continue
            declare(target, protocol, ("ports", i))
            if protocol != "TCP":
                self.warn(
                    f"{protocol} port {target} is not load-balanced (HAProxy carries TCP "
                    "only); it is declared on the container",
                    "ports",
                    i,
                )
                continue
            self.service_ports.append(
                {
                    "port": published or target,
                    "targetPort": target,
                    "_published": published is not None,
                    "_src": ("ports", i),
                }
            )
        for i, raw in enumerate(self.data.get("expose") or []):
            try:
                target, _, protocol = port_of(raw)
            except ComposeError as exc:
                self.error(str(exc), "expose", i)
                continue
            declare(target, protocol, ("expose", i))
            if protocol == "TCP" and not any(p["targetPort"] == target for p in self.service_ports):
                self.service_ports.append(
                    {
                        "port": target,
                        "targetPort": target,
                        "_published": False,
                        "_src": ("expose", i),
                    }
                )
        if declared:
            container["ports"] = declared

    def _volumes(self, container: dict[str, Any], c: Path_) -> list[dict[str, Any]]:
        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        for i, raw in enumerate(self.data.get("volumes") or []):
            try:
                kind, source, target, read_only = volume_of(raw)
            except ComposeError as exc:
                self.error(str(exc), "volumes", i)
                continue
            if kind == "volume" and source:
                name = label_of(source)
                volume: dict[str, Any] = {"name": name, "persistent": {}}
                self.conv.named_volume_users.setdefault(source, []).append(self.name)
            elif kind == "bind":
                path = Path(source).expanduser()
                if not path.is_absolute():
                    path = (self.conv.base / path).resolve()
                    self.warn(
                        f"bind mount {source} is relative to this machine; on each host "
                        f"fleet mounts {path}",
                        "volumes",
                        i,
                    )
                name = f"host-{i}"
                volume = {"name": name, "hostPath": {"path": str(path)}}
            else:  # anonymous volume or tmpfs: scratch space for the replica's life
                name = f"scratch-{i}"
                volume = {"name": name, "emptyDir": {"medium": "Memory"} if kind == "tmpfs" else {}}
            self.link(("spec", "template", "spec", "volumes", len(volumes)), "volumes", i)
            self.link((*c, "volumeMounts", len(mounts)), "volumes", i)
            volumes.append(volume)
            mount: dict[str, Any] = {"name": name, "mountPath": target}
            if read_only:
                mount["readOnly"] = True
            mounts.append(mount)
        if mounts:
            container["volumeMounts"] = mounts
        return volumes

    def _healthcheck(self, container: dict[str, Any], c: Path_) -> None:
        check = self.data.get("healthcheck")
        if not isinstance(check, dict) or check.get("disable"):
            return
        test = check.get("test")
        if isinstance(test, str):
            command = ["/bin/sh", "-c", test]
        elif isinstance(test, list) and test and test[0] == "CMD":
            command = [str(t) for t in test[1:]]
        elif isinstance(test, list) and len(test) == 2 and test[0] == "CMD-SHELL":
            command = ["/bin/sh", "-c", str(test[1])]
        elif isinstance(test, list) and test and test[0] == "NONE":
            return
        else:
            self.error(
                "healthcheck.test must be a string, [CMD, ...] or [CMD-SHELL, cmd]",
                "healthcheck",
                "test",
            )
            return
        probe: dict[str, Any] = {"exec": {"command": command}}
        p = (*c, "livenessProbe")
        self.link(p, "healthcheck")
        for key, target, minimum in (
            ("interval", "periodSeconds", 1),
            ("timeout", "timeoutSeconds", 1),
            ("start_period", "initialDelaySeconds", 0),
        ):
            if key in check:
                self._seconds(
                    probe, target, check[key], (*p, target), "healthcheck", key, minimum=minimum
                )
            elif key != "start_period":
                probe[target] = 30  # Compose's default interval and timeout
        if "retries" in check:
            probe["failureThreshold"] = check["retries"]
            self.link((*p, "failureThreshold"), "healthcheck", "retries")
        for key in check:
            if key not in ("test", "interval", "timeout", "start_period", "retries", "disable"):
                self.warn(
                    f"healthcheck.{key} is not supported by fleet; ignored", "healthcheck", key
                )
        container["livenessProbe"] = probe

    def _seconds(
        self,
        into: dict[str, Any],
        key: str,
        value: Any,
        gen: Path_,
        *src: str | int,
        minimum: int = 0,
    ) -> None:
        try:
            into[key] = max(minimum, math.ceil(compose_seconds(value)))
        except ComposeError as exc:
            self.error(str(exc), *src)
            return
        self.link(gen, *src)

    def _resources(
        self, container: dict[str, Any], c: Path_, items: list[tuple[str, str, Any, Path_]]
    ) -> None:
        """Set (section, cpu|memory, Compose value, Compose field) into resources."""
        resources = container.setdefault("resources", {})
        for section, key, value, where in items:
            if value is None:
                continue
            try:
                quantity = str(value) if key == "cpu" else str(compose_bytes(value))
            except ComposeError as exc:
                self.error(str(exc), *where)
                continue
            resources.setdefault(section, {})[key] = quantity
            self.link((*c, "resources", section, key), *where)
        if not resources:
            del container["resources"]

    def _restart(self, restart: Any) -> None:
        if restart is False:
            restart = "no"  # YAML 1.1 reads an unquoted `no` as false
        if restart is not None and restart not in ("always", "unless-stopped"):
            self.warn(f"restart {restart!r}: a Deployment always restarts its replicas", "restart")

    def _deploy(self, spec: dict[str, Any], container: dict[str, Any], c: Path_) -> None:
        deploy = self.data.get("deploy")
        if not isinstance(deploy, dict):
            return
        for key in deploy:
            if key not in (
                "replicas",
                "resources",
                "update_config",
                "placement",
                "restart_policy",
                "labels",
                "mode",
            ):
                self.warn(f"deploy.{key} is not supported by fleet; ignored", "deploy", key)
        if deploy.get("mode", "replicated") != "replicated":
            self.warn(
                f"deploy.mode {deploy['mode']} is not supported (use replicas and "
                "maxPerHost: 1 for one per host)",
                "deploy",
                "mode",
            )
        if "replicas" in deploy:
            spec["replicas"] = deploy["replicas"]
            self.link(("spec", "replicas"), "deploy", "replicas")
        resources = deploy.get("resources") or {}
        limits, reservations = resources.get("limits") or {}, resources.get("reservations") or {}
        base: Path_ = ("deploy", "resources")
        self._resources(
            container,
            c,
            [
                ("limits", "cpu", limits.get("cpus"), (*base, "limits", "cpus")),
                ("limits", "memory", limits.get("memory"), (*base, "limits", "memory")),
                ("requests", "cpu", reservations.get("cpus"), (*base, "reservations", "cpus")),
                (
                    "requests",
                    "memory",
                    reservations.get("memory"),
                    (*base, "reservations", "memory"),
                ),
            ],
        )
        for extra in ("devices", "pids", "generic_resources"):
            if extra in reservations or extra in limits:
                self.warn(
                    f"deploy.resources {extra} is not supported by fleet; ignored",
                    "deploy",
                    "resources",
                )
        self._update_config(spec, deploy.get("update_config"))
        self._placement(spec, deploy.get("placement"))
        policy = deploy.get("restart_policy")
        if isinstance(policy, dict):
            if policy.get("condition", "any") != "any":
                self.warn(
                    f"restart_policy condition {policy['condition']!r}: a Deployment "
                    "always restarts its replicas",
                    "deploy",
                    "restart_policy",
                    "condition",
                )
            for key in policy:
                if key != "condition":
                    self.warn(
                        f"restart_policy.{key} is not supported by fleet; ignored",
                        "deploy",
                        "restart_policy",
                        key,
                    )

    def _update_config(self, spec: dict[str, Any], update: Any) -> None:
        if not isinstance(update, dict):
            return
        src = ("deploy", "update_config")
        parallelism = update.get("parallelism", 1)
        step: int | str = parallelism if parallelism else "100%"
        if update.get("order", "stop-first") == "start-first":
            rolling = {"maxSurge": step, "maxUnavailable": 0}
        else:
            rolling = {"maxSurge": 0, "maxUnavailable": step}
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
        self.link(("spec", "strategy"), *src)
        if "monitor" in update:
            self._seconds(
                spec,
                "minReadySeconds",
                update["monitor"],
                ("spec", "minReadySeconds"),
                *src,
                "monitor",
            )
        for key in update:
            if key not in ("parallelism", "order", "monitor"):
                self.warn(f"update_config.{key} is not supported by fleet; ignored", *src, key)

    def _placement(self, spec: dict[str, Any], placement: Any) -> None:
        if not isinstance(placement, dict):
            return
        src = ("deploy", "placement")
        selector: dict[str, str] = {}
        for i, constraint in enumerate(placement.get("constraints") or []):
            match = re.fullmatch(r"\s*node\.labels\.([^=!\s]+)\s*==\s*(\S+)\s*", str(constraint))
            if match:
                selector[match[1]] = match[2]
                self.link(("spec", "template", "spec", "nodeSelector"), *src, "constraints", i)
            else:
                self.warn(
                    f"placement constraint {constraint!r} is not supported (only "
                    "node.labels.KEY==VALUE); ignored",
                    *src,
                    "constraints",
                    i,
                )
        if selector:
            spec["template"]["spec"]["nodeSelector"] = selector
        if "max_replicas_per_node" in placement:
            spec["maxPerHost"] = placement["max_replicas_per_node"]
            self.link(("spec", "maxPerHost"), *src, "max_replicas_per_node")
        if "preferences" in placement:
            self.warn(
                "placement.preferences is not supported (fleet spreads replicas by "
                "default); ignored",
                *src,
                "preferences",
            )

    def _depends_on(self, spec: dict[str, Any]) -> None:
        raw = self.data.get("depends_on")
        keys = list(raw) if isinstance(raw, dict | list) else []
        wanted: list[str] = []
        for i, key in enumerate(keys):
            where = ("depends_on", key) if isinstance(raw, dict) else ("depends_on", i)
            other = self.conv.services.get(str(key))
            if other is None:
                self.error(f"depends_on names {key!r}, which is not a service of this file", *where)
                continue
            if not other.get("ports") and not other.get("expose"):
                self.warn(
                    f"depends_on {key!r} dropped: it has no ports, so fleet has no "
                    "Service to wait for",
                    *where,
                )
                continue
            self.link(("spec", "dependsOn", len(wanted)), *where)
            wanted.append(label_of(str(key)))
        if wanted:
            spec["dependsOn"] = wanted

    def _annotations(self, labels: Any) -> dict[str, str]:
        if isinstance(labels, list):
            pairs = [str(item).partition("=") for item in labels]
            return {k: v for k, _, v in pairs}
        return {str(k): "" if v is None else str(v) for k, v in dict(labels).items()}


class _Converter:
    def __init__(self, source: Document, path: Path) -> None:
        self.source = source
        self.base = path.parent.resolve()
        data = source.data
        self.services: dict[str, dict[str, Any]] = {
            str(k): (v if isinstance(v, dict) else {}) for k, v in data["services"].items()
        }
        named = data.get("name")
        stem = path.stem
        if stem in ("docker-compose", "compose"):
            stem = self.base.name
        self.app = label_of(str(named)) if named else label_of(stem)
        self.errors: list[SpecError] = []
        self.warnings: list[str] = []
        self.named_volume_users: dict[str, list[str]] = {}

    def where(self, path: Path_) -> Location:
        return Location(self.source.file, self.source.line_of(path), format_path(path))

    def warn(self, message: str, path: Path_) -> None:
        self.warnings.append(f"{self.where(path)}: {message}")

    def error(self, message: str, path: Path_) -> None:
        self.errors.append(SpecError(message, self.where(path)))

    def convert(self) -> list[Document]:
        for key in self.source.data:
            if key not in TOP_LEVEL_IGNORED:
                self.warn(f"top-level {key} is not supported by fleet; ignored", (key,))
        try:
            names.dns_label(self.app, "application name")
        except UnsafeNameError:
            self.error(f"cannot make an application name from {self.app!r}: set name:", ())
            return []
        documents: list[Document] = []
        for key, data in self.services.items():
            name = label_of(key)
            if name != key:
                self.warn(
                    f"service {key!r} is called {name!r} in fleet (names are DNS labels)",
                    ("services", key),
                )
            try:
                names.dns_label(name, "service name")
            except UnsafeNameError as exc:
                self.error(str(exc), ("services", key))
                continue
            if not isinstance(self.source.data["services"][key], dict):
                self.error("a service must be a mapping", ("services", key))
                continue
            documents.extend(_Service(self, key, name, data).build())
        for volume, users in self.named_volume_users.items():
            if len(users) > 1:
                self.warn(
                    f"named volume {volume!r} is shared by {', '.join(users)}: in fleet "
                    "every replica has its own persistent volume",
                    ("volumes",),
                )
        return documents


def compose_documents(source: Document, path: Path) -> Converted:
    """Blueprint documents (Deployments, Services) for a Compose document."""
    converter = _Converter(source, path)
    documents = converter.convert()
    return Converted(documents, converter.app, converter.errors, converter.warnings)
