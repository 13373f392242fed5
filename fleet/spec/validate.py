"""Checks across objects of a loaded blueprint set (and against the inventory).

Each check adds every problem it finds (validate reports all, not the first):
errors for what cannot work, warnings for what probably is not meant. The
rules fleet applies, in one place:

- A Service must select at least one Deployment of its application; its
  targetPort must be a port the selected Deployments declare.
- Every Service listens on every load-balancer host (inventory role `lb`; with
  none, every host) on `nodePort or port`, ClusterIP ones included (service
  discovery maps names to lb addresses). So no two Services may claim one port,
  and none may take the SSH port of an lb host.
- dependsOn names known Services and forms no cycle (the cycle is named).
- An autoscaler targets a known Deployment whose containers request CPU.
- secretKeyRef names a Secret of the set and one of its keys.
- With an inventory: a nodeSelector no host matches, and a pod no host has room
  for, are warnings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.errors import Location, SpecError
from fleet.spec.quantity import format_cpu, format_memory
from fleet.spec.schema import did_you_mean

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint, Deployment, Service
    from fleet.spec.inventory import Inventory


def labels_text(labels: dict[str, str]) -> str:
    """{"app": "web"} as app=web (how selectors read on a command line)."""
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(none)"


class Checker:
    """Runs the cross-object checks, collecting errors and warnings."""

    def __init__(
        self,
        blueprint: Blueprint,
        inventory: Inventory | None,
        incomplete: set[tuple[str, str]] | None = None,
    ) -> None:
        self.bp = blueprint
        self.inventory = inventory
        # (kind, app) with objects that failed to load: "X matches nothing" would only echo that
        self.incomplete = incomplete or set()
        self.errors: list[SpecError] = []
        self.warnings: list[str] = []

    def error(self, message: str, where: Location) -> None:
        self.errors.append(SpecError(message, where))

    def warn(self, message: str, where: Location) -> None:
        self.warnings.append(f"{where}: {message}")

    def run(self) -> Checker:
        """Every check, in a stable order."""
        for service in self._services():
            self.check_service(service)
        self.check_listen_ports()
        for deployment in self._deployments():
            self.check_depends_on(deployment)
            self.check_secret_refs(deployment)
            self.check_placement(deployment)
        self.check_cycles()
        self.check_autoscalers()
        self.check_secret_sources()
        return self

    # in the order they were read, so a clash is reported at the second of two places
    def _services(self) -> list[Service]:
        return list(self.bp.services.values())

    def _deployments(self) -> list[Deployment]:
        return list(self.bp.deployments.values())

    # --- services ------------------------------------------------------------------------

    def check_service(self, service: Service) -> None:
        targets = self.bp.deployments_for(service)
        if not targets and ("Deployment", service.app) in self.incomplete:
            return
        if not targets:
            same_app = [d.name for d in self._deployments() if d.app == service.app]
            self.error(
                f"selector {labels_text(service.spec.selector)} matches no Deployment of "
                "application "
                f"{service.app!r}"
                + (f" (its Deployments: {', '.join(same_app)})" if same_app else ""),
                self.bp.locate(service, "spec", "selector"),
            )
            return
        if len(targets) > 1:
            self.warn(
                f"selects several Deployments ({', '.join(d.name for d in targets)}): "
                "traffic goes to the ready replicas of all of them",
                self.bp.locate(service, "spec", "selector"),
            )
        for i, port in enumerate(service.spec.ports):
            target = port.target_port if port.target_port is not None else port.port
            for deployment in targets:
                pod = deployment.spec.template.spec
                if pod.resolve_port(target) is not None:
                    continue
                declared = (
                    ", ".join(
                        f"{n}" + (f" ({name})" if name else "") for _, n, name in pod.all_ports()
                    )
                    or "none"
                )
                what = "no port named" if isinstance(target, str) else "no port"
                self.error(
                    f"Deployment {deployment.name!r} declares {what} {target!r} "
                    f"(its container ports: {declared}); fleet routes only to declared ports",
                    self.bp.locate(
                        service,
                        "spec",
                        "ports",
                        i,
                        "targetPort" if "targetPort" in _raw_keys(self.bp, service, i) else "port",
                    ),
                )

    def check_listen_ports(self) -> None:
        hosts = self._lb_host_text()
        claimed: dict[int, tuple[Service, int]] = {}
        for service in self._services():
            for i, (port, number) in enumerate(service.listen_ports()):
                field = "nodePort" if number != port.port else "port"
                where = self.bp.locate(service, "spec", "ports", i, field)
                if number in claimed:
                    other, j = claimed[number]
                    other_field = "nodePort" if other.spec.ports[j].node_port else "port"
                    first = self.bp.locate(other, "spec", "ports", j, other_field)
                    self.error(
                        f"port {number} on {hosts} is already claimed by Service "
                        f"{other.name!r} ({first})",
                        where,
                    )
                    continue
                claimed[number] = (service, i)
                if self.inventory is not None:
                    for host in self.inventory.lb_hosts:
                        if host.port == number:
                            self.error(
                                f"port {number} is the SSH port of load-balancer host "
                                f"{host.name!r}",
                                where,
                            )

    def _lb_host_text(self) -> str:
        if self.inventory is None:
            return "the load-balancer hosts"
        names = [h.name for h in self.inventory.lb_hosts]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"the load-balancer hosts ({shown})"

    # --- deployments ---------------------------------------------------------------------

    def check_depends_on(self, deployment: Deployment) -> None:
        known = sorted(self.bp.services)
        for i, name in enumerate(deployment.spec.depends_on):
            if name in self.bp.services or any(k == "Service" for k, _ in self.incomplete):
                continue
            guess = did_you_mean(name, known)
            self.error(
                f"unknown Service {name!r}"
                + (
                    f"; did you mean {guess!r}?"
                    if guess
                    else f" (known: {', '.join(known) or 'none'})"
                ),
                self.bp.locate(deployment, "spec", "dependsOn", i),
            )

    def check_cycles(self) -> None:
        edges: dict[str, list[tuple[str, str]]] = {}
        for deployment in self._deployments():
            out: list[tuple[str, str]] = []
            for name in deployment.spec.depends_on:
                service = self.bp.services.get(name)
                if service is not None:
                    out.extend((name, d.name) for d in self.bp.deployments_for(service))
            edges[deployment.name] = out
        reported: set[frozenset[str]] = set()
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[tuple[str, str]] = []  # (deployment, the service it depends on next)
        # depth-first without recursion (dependency chains can be long): a frame is a
        # deployment and the position in its edge list
        for root in sorted(edges):
            if root in state:
                continue
            state[root] = 1
            frames: list[tuple[str, int]] = [(root, 0)]
            while frames:
                node, index = frames[-1]
                if index == len(edges[node]):
                    frames.pop()
                    state[node] = 2
                    if path:
                        path.pop()
                    continue
                frames[-1] = (node, index + 1)
                via, target = edges[node][index]
                if state.get(target) == 1:
                    self._report_cycle([*path, (node, via)], target, reported)
                elif target not in state:
                    path.append((node, via))
                    state[target] = 1
                    frames.append((target, 0))

    def _report_cycle(
        self, walk: list[tuple[str, str]], target: str, reported: set[frozenset[str]]
    ) -> None:
        start = next(i for i, (d, _) in enumerate(walk) if d == target)
        cycle = walk[start:]
        key = frozenset(d for d, _ in cycle)
        if key in reported:
            return
        reported.add(key)
        text = " -> ".join(f"{d} (dependsOn {s})" for d, s in cycle)
        first, service_name = cycle[0]
        dep = self.bp.deployments[first]
        index = dep.spec.depends_on.index(service_name)
        self.error(
            f"dependency cycle: {text} -> {target}",
            self.bp.locate(dep, "spec", "dependsOn", index),
        )

    def check_secret_refs(self, deployment: Deployment) -> None:
        for c, container in enumerate(deployment.containers):
            for e, var in enumerate(container.env):
                ref = var.value_from.secret_key_ref if var.value_from else None
                if ref is None:
                    continue
                path = (
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    c,
                    "env",
                    e,
                    "valueFrom",
                    "secretKeyRef",
                )
                secret = self.bp.secrets.get(ref.name)
                if secret is None:
                    if not ref.optional and ("Secret", deployment.app) not in self.incomplete:
                        self.error(
                            f"no Secret named {ref.name!r} in the loaded blueprints "
                            f"(known: {', '.join(sorted(self.bp.secrets)) or 'none'})",
                            self.bp.locate(deployment, *path, "name"),
                        )
                elif ref.key not in secret.sources and not ref.optional:
                    self.error(
                        f"Secret {ref.name!r} has no key {ref.key!r} "
                        f"(keys: {', '.join(sorted(secret.sources))})",
                        self.bp.locate(deployment, *path, "key"),
                    )

    def check_placement(self, deployment: Deployment) -> None:
        if self.inventory is None or len(self.inventory) == 0:
            return
        pod = deployment.spec.template.spec
        hosts = list(self.inventory)
        if pod.node_selector:
            hosts = [h for h in hosts if h.matches(pod.node_selector)]
            if not hosts:
                self.warn(
                    f"no host of inventory {self.inventory.name!r} has the labels "
                    f"{labels_text(pod.node_selector)}: no replica can be placed",
                    self.bp.locate(deployment, "spec", "template", "spec", "nodeSelector"),
                )
                return
        cpu = sum(c.resources.requests.cpu or 0 for c in pod.containers)
        memory = sum(c.resources.requests.memory or 0 for c in pod.containers)
        sized = [h.capacity for h in hosts if h.capacity is not None]
        if sized and len(sized) == len(hosts):
            fits = [
                c
                for c in sized
                if (c.cpu is None or c.cpu >= cpu) and (c.memory is None or c.memory >= memory)
            ]
            if not fits:
                self.warn(
                    f"no host has room for one replica (requests cpu {format_cpu(cpu)}, "
                    f"memory {format_memory(memory)})",
                    self.bp.locate(deployment, "spec", "template", "spec", "containers"),
                )
        cap = deployment.spec.max_per_host
        if cap is not None and cap * len(hosts) < deployment.spec.replicas:
            self.warn(
                f"maxPerHost {cap} on {len(hosts)} eligible host(s) places at most "
                f"{cap * len(hosts)} of {deployment.spec.replicas} replicas",
                self.bp.locate(deployment, "spec", "maxPerHost"),
            )

    # --- autoscalers and secrets ---------------------------------------------------------

    def check_autoscalers(self) -> None:
        targets: dict[str, str] = {}
        for name in sorted(self.bp.autoscalers):
            hpa = self.bp.autoscalers[name]
            ref = hpa.spec.scale_target_ref
            where = self.bp.locate(hpa, "spec", "scaleTargetRef", "name")
            deployment = self.bp.deployments.get(ref.name)
            if deployment is None and ("Deployment", hpa.app) in self.incomplete:
                continue
            if deployment is None:
                guess = did_you_mean(ref.name, sorted(self.bp.deployments))
                self.error(
                    f"unknown Deployment {ref.name!r}"
                    + (f"; did you mean {guess!r}?" if guess else ""),
                    where,
                )
                continue
            if ref.name in targets:
                self.error(
                    f"Deployment {ref.name!r} is already scaled by autoscaler "
                    f"{targets[ref.name]!r}",
                    where,
                )
                continue
            targets[ref.name] = name
            missing = [c.name for c in deployment.containers if c.resources.requests.cpu is None]
            if missing:
                self.error(
                    f"Deployment {ref.name!r} has containers without resources.requests.cpu "
                    f"({', '.join(missing)}): CPU utilization is measured against the request",
                    where,
                )

    def check_secret_sources(self) -> None:
        # values are read at apply time; here only say what would be missing then
        for name in sorted(self.bp.secrets):
            secret = self.bp.secrets[name]
            base = Path(self.bp.source(secret).file).parent
            for key in sorted(secret.sources):
                source = secret.sources[key]
                problem = _source_problem(source.file, source.env, base)
                if problem:
                    self.warn(
                        f"{problem}; apply will fail until it is there",
                        self.bp.locate(secret, "sources", key),
                    )
        for deployment in self._deployments():
            base = Path(self.bp.source(deployment).file).parent
            for c, container in enumerate(deployment.containers):
                for e, var in enumerate(container.env):
                    from_env = var.value_from
                    if from_env is None or from_env.secret_key_ref is not None:
                        continue
                    problem = _source_problem(from_env.file, from_env.env, base)
                    if problem:
                        self.warn(
                            f"{problem}; apply will fail until it is there",
                            self.bp.locate(
                                deployment,
                                "spec",
                                "template",
                                "spec",
                                "containers",
                                c,
                                "env",
                                e,
                                "valueFrom",
                            ),
                        )


def _source_problem(file: str | None, env: str | None, base: Path) -> str | None:
    if file is not None:
        path = Path(file).expanduser()
        path = path if path.is_absolute() else base / path
        return None if path.is_file() else f"secret file {path} does not exist"
    if env is not None and env not in os.environ:
        return f"environment variable {env} is not set"
    return None


def _raw_keys(bp: Blueprint, service: Service, index: int) -> set[str]:
    document = bp._documents.get((service.kind, service.name))
    if document is None:
        return set()
    try:
        port = document.data["spec"]["ports"][index]
    except (KeyError, IndexError, TypeError):
        return set()
    return set(port) if isinstance(port, dict) else set()


def check(
    blueprint: Blueprint,
    inventory: Inventory | None,
    incomplete: set[tuple[str, str]] | None = None,
) -> tuple[list[SpecError], list[str]]:
    """All cross-object problems of a blueprint set: (errors, warnings)."""
    checker = Checker(blueprint, inventory, incomplete).run()
    return checker.errors, checker.warnings
