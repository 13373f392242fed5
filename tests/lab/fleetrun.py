"""Running the real `fleet` command against the lab, and small blueprints for lab tests.

Each test gets its own local store (FLEET_STATE_DIR) and its own application name, and
`clean` removes every fleet container and volume from the lab hosts before it starts,
so tests never see each other's leftovers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.lab import LabInfo
from tests.lab.labtools import docker


@dataclass
class Fleet:
    """`fleet ...` as a subprocess with the lab's inventory and a private state dir."""

    lab: LabInfo
    state: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLEET_INVENTORY": str(self.lab.inventory_path),
            "FLEET_STATE_DIR": str(self.state),
            "COLUMNS": "160",
        }

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "fleet", *args]

    def run(self, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env(), timeout=timeout
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def json(self, *args: str) -> dict[str, Any]:
        done = self.run(*args, "--output", "json")
        assert done.stdout, f"no JSON from fleet {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)  # type: ignore[no-any-return]


def managed(lab: LabInfo, **labels: str) -> list[dict[str, str]]:
    """Every fleet container on every lab host (name, host, state, labels), via docker."""
    out = []
    filters = ["--filter", "label=fleet.managed=true"]
    for key, value in labels.items():
        filters += ["--filter", f"label=fleet.{key}={value}"]
    for host in lab.hosts:
        listed = docker(host, "ps", "-a", *filters, "--format", "{{json .}}").stdout
        for line in listed.splitlines():
            row = json.loads(line)
            pairs = dict(
                item.split("=", 1) for item in row.get("Labels", "").split(",") if "=" in item
            )
            out.append({"host": host.name, "name": row["Names"], "state": row["State"], **pairs})
    return out


def running_pods(lab: LabInfo, service: str) -> list[tuple[str, str]]:
    """(host, pod) of the service's running main containers."""
    return sorted(
        (c["host"], c["fleet.pod"])
        for c in managed(lab, service=service)
        if c["state"] == "running" and c.get("fleet.role") == "main"
    )


def clean(lab: LabInfo) -> None:
    """Remove every fleet container, fleet volume and cordon mark from the lab hosts."""
    for host in lab.hosts:
        ids = docker(host, "ps", "-aq", "--filter", "label=fleet.managed=true").stdout.split()
        if ids:
            docker(host, "rm", "-f", *ids)
        volumes = [
            v
            for v in docker(host, "volume", "ls", "-q").stdout.split()
            if v.startswith(("fleet.", "fleet-tmp."))
        ]
        if volumes:
            docker(host, "volume", "rm", "-f", *volumes)
        home = lab.root / host.name / "home" / ".fleet"
        for marker in (home / "cordon", home / "lock"):
            if marker.is_dir():
                import shutil

                shutil.rmtree(marker)
            else:
                marker.unlink(missing_ok=True)


def write(tmp_path: Path, app: str, text: str) -> Path:
    """`text` as tmp_path/bp/<app>.yaml (the application is the file's stem)."""
    folder = tmp_path / "bp"
    folder.mkdir(exist_ok=True)
    path = folder / f"{app}.yaml"
    path.write_text(text)
    return path


def app_yaml(
    *,
    name: str = "web",
    image: str = "lab/web:1",
    replicas: int = 3,
    surge: int | str = 1,
    unavailable: int | str = 0,
    deadline: int = 120,
    memory: str = "64Mi",
    min_ready: int = 0,
    port: int | None = None,
    probes: bool = False,
    extra_spec: str = "",
    strategy: str = "RollingUpdate",
) -> str:
    """A one-Deployment blueprint (plus a Service on `port` when given)."""
    if strategy == "RollingUpdate":
        strategy_yaml = (
            f"    type: RollingUpdate\n    rollingUpdate: {{maxSurge: {surge}, "
            f"maxUnavailable: {unavailable}}}\n"
        )
    else:
        strategy_yaml = f"    type: {strategy}\n"
    probe_yaml = (
        "          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1,"
        " failureThreshold: 2}\n"
        "          livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1,"
        " failureThreshold: 3}\n"
        if probes
        else ""
    )
    text = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  minReadySeconds: {min_ready}
  progressDeadlineSeconds: {deadline}
  strategy:
{strategy_yaml}{extra_spec}  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: {name}
          image: {image}
          ports: [{{containerPort: 8080}}]
          resources: {{requests: {{cpu: 50m, memory: {memory}}}}}
{probe_yaml}"""
    if port is not None:
        text += f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: LoadBalancer
  selector: {{app: {name}}}
  ports: [{{port: {port}, targetPort: 8080}}]
"""
    return text
