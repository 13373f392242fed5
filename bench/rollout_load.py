"""Rolling update under load (lab benchmark): failed requests and latency during a rollout
beside steady state, measured in the same run.

    .venv/bin/python bench/rollout_load.py [--lab bench5] [--rate 100] [--steady 15] [--keep]

Brings up the lab (`fleet lab up --name bench5`: 3 hosts, the first one the lb host), applies
3 replicas of lab/web:1 behind a Service on port 18190 with `fleet apply`, starts a load
generator through the lb host (fresh connection per request, tests/lab/loadgen.py), measures
`--steady` seconds of steady state, then runs `fleet apply` of lab/web:2 (a rolling update,
maxSurge 1, maxUnavailable 0, readiness-gated) and measures the rollout. Prints requests,
failed requests, rate and p50/p90/p99/max latency of both windows and the ratios, and takes
the lab down again (unless `--keep`, or the lab existed before).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet import lab as fleet_lab  # noqa: E402
from tests.lab.labtools import lb_host  # noqa: E402
from tests.lab.loadgen import LoadGen, Sample, latencies  # noqa: E402

PORT = 18190
APP = "rolloutbench"

BLUEPRINT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  minReadySeconds: 1
  progressDeadlineSeconds: 120
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: {image}
          ports: [{{name: http, containerPort: 8080}}]
          resources: {{requests: {{cpu: 50m, memory: 32Mi}}}}
          readinessProbe: {{httpGet: {{path: /readyz, port: http}}, periodSeconds: 2,
                            failureThreshold: 2}}
          livenessProbe: {{httpGet: {{path: /healthz, port: http}}, periodSeconds: 2,
                           failureThreshold: 3}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


def fleet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args], capture_output=True, text=True, env=env,
        timeout=300,
    )


def window(samples: list[Sample], seconds: float) -> dict[str, float]:
    lat = latencies(samples)
    return {
        "requests": len(samples),
        "failed": sum(1 for s in samples if not s.ok),
        "rate": len(samples) / max(seconds, 1e-9),
        "seconds": seconds,
        **{k: v * 1000 for k, v in lat.items()},  # ms
    }


def run(lab: fleet_lab.LabInfo, rate: float, steady: float, workdir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "FLEET_INVENTORY": str(lab.inventory_path),
        "FLEET_STATE_DIR": str(workdir / "state"),
    }
    path = workdir / f"{APP}.yaml"
    path.write_text(BLUEPRINT.format(image="lab/web:1", port=PORT))
    done = fleet(env, "apply", "--yes", str(path))
    if done.returncode != 0:
        raise SystemExit(f"fleet apply (web:1) failed: {done.stderr}")
    lb = lb_host(lab)
    with LoadGen(lb.address, PORT, rate=rate, workers=10) as load:
        load.wait_for(lambda g: len(g.replicas()) == 3, 30, "all replicas answering")
        steady_from = time.monotonic()
        time.sleep(steady)
        steady_to = rollout_from = time.monotonic()
        path.write_text(BLUEPRINT.format(image="lab/web:2", port=PORT))
        done = fleet(env, "apply", "--yes", str(path))
        rollout_to = time.monotonic()
        time.sleep(1.0)
    if done.returncode != 0:
        raise SystemExit(f"fleet apply (web:2) failed: {done.stderr}")
    before = window(load.snapshot(steady_from, steady_to), steady_to - steady_from)
    during = window(load.snapshot(rollout_from, rollout_to), rollout_to - rollout_from)
    failures = [s.describe() for s in load.failures()]
    fleet(env, "scale", "web=0", str(path))
    return {
        "steady": before,
        "rollout": during,
        "ratio": {
            k: during[k] / before[k] if before[k] else float("nan")
            for k in ("p50", "p90", "p99", "max", "rate")
        },
        "failures": failures[:20],
        "versions_after": dict(load.versions(rollout_to + 0.2)),
    }


def show(result: dict[str, Any]) -> None:
    steady, during, ratio = result["steady"], result["rollout"], result["ratio"]
    print(f"{'':10} {'seconds':>8} {'requests':>9} {'failed':>7} {'req/s':>7} "
          f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, w in (("steady", steady), ("rollout", during)):
        print(f"{name:10} {w['seconds']:8.1f} {w['requests']:9.0f} {w['failed']:7.0f} "
              f"{w['rate']:7.1f} {w['p50']:8.2f} {w['p90']:8.2f} {w['p99']:8.2f} "
              f"{w['max']:8.2f}")
    print(f"{'ratio':10} {'':8} {'':9} {'':7} {ratio['rate']:7.2f} {ratio['p50']:8.2f} "
          f"{ratio['p90']:8.2f} {ratio['p99']:8.2f} {ratio['max']:8.2f}")
    print(f"failed requests during the rollout: {during['failed']:.0f}"
          + (f" ({'; '.join(result['failures'])})" if result["failures"] else ""))
    print(f"serving after the rollout: {result['versions_after']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="bench5")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s (default 100)")
    parser.add_argument("--steady", type=float, default=15.0, help="steady-state seconds")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    existed = args.lab in fleet_lab.labs()
    lab = fleet_lab.up(args.lab, hosts=3, lb=1)
    try:
        with tempfile.TemporaryDirectory(prefix="rollout-bench-") as tmp:
            result = run(lab, args.rate, args.steady, Path(tmp))
    finally:
        if not (args.keep or existed):
            fleet_lab.down(args.lab)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
