"""How fast HAProxy stops sending to a replica that stops being ready (lab benchmark).

    .venv/bin/python bench/lb_reaction.py --lab lb [--samples 7] [--inter 1] [--fall 2]

Starts 3 lab/web replicas (one per lab host, app `lbbench`), renders and pushes
fleet's HAProxy config with the given check interval/fall (what a readiness
probe with periodSeconds=inter, failureThreshold=fall gives), and runs a load
generator through the lb host. Each sample switches one replica's readiness
off (`/cgi-bin/fail?ready`) and measures the time until the last request it
answered, then switches it back and measures the time until it answers again.
Prints the median, min and max beside the configured bound (inter x fall).
Needs a lab (`fleet lab up --name lb`); removes its containers afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet import lab as fleet_lab  # noqa: E402
from fleet.lb.haproxy import apply_lb  # noqa: E402
from fleet.lb.model import HealthCheck, LbBackend, LbService  # noqa: E402
from fleet.lb.render import render_hosts  # noqa: E402
from fleet.model import ActualPod, PodHealth  # noqa: E402
from fleet.probe import health_key  # noqa: E402
from fleet.remote.ssh import SSHPool  # noqa: E402
from fleet.spec.loader import load_inventory  # noqa: E402
from tests.lab.labtools import lb_host  # noqa: E402
from tests.lab.webpods import Load, observe, remove_app, start_web, switch  # noqa: E402

APP = "lbbench"
PORT = 18090


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting")
        time.sleep(0.02)


def last_answer(load: Load, replica: str) -> float:
    """When `replica` last answered (0: never); the timeline is in time order."""
    for at, who in reversed(load.timeline):
        if who == replica:
            return at
    return 0.0


def measure(
    load: Load, host: fleet_lab.LabHost, pod: ActualPod, bound: float
) -> tuple[float, float]:
    """(seconds from failing readiness to its last answer, from recovering to its next)."""
    switch(host, pod, "fail?ready")
    failed_at = time.monotonic()
    quiet = 3 * bound + 1  # out: no answer from it for this long
    wait_for(lambda: time.monotonic() - max(last_answer(load, pod.replica), failed_at) > quiet,
             2 * quiet + 10)
    out = max(last_answer(load, pod.replica) - failed_at, 0.0)
    switch(host, pod, "recover?ready")
    recovered_at = time.monotonic()
    wait_for(lambda: last_answer(load, pod.replica) > recovered_at, bound + 10)
    return out, last_answer(load, pod.replica) - recovered_at


async def main(lab_name: str, samples: int, inter: float, fall: int) -> int:
    lab = fleet_lab.load(lab_name)
    inventory = load_inventory(lab.inventory_path)
    lb = lb_host(lab)
    remove_app(lab, APP)
    for slot, host in enumerate(lab.hosts[:3]):
        start_web(lab, host, APP, slot)
    try:
        async with SSHPool(inventory) as pool:
            cluster = await observe(lab, pool, APP)
            pods = sorted(cluster.pods(), key=lambda p: p.slot)
            check = HealthCheck("http", "/readyz", interval=inter, timeout=1.0, rise=1, fall=fall)
            service = LbService(APP, "web", PORT, (LbBackend(APP, "web", 8080, check),), "http")
            healths = {health_key(p): PodHealth(ready=True) for p in pods}
            configs = render_hosts(inventory.lb_hosts, [service], cluster, healths)
            before = lb.haproxy_config.read_text() if lb.haproxy_config else None
            report = await apply_lb(pool, inventory, {h: r.text for h, r in configs.items()})
            report.raise_for_errors()
            leave: list[float] = []
            back: list[float] = []
            with Load(lb.address, PORT, threads=4, pause=0.01) as load:
                wait_for(lambda: len(load.replicas) == 3, 10)
                for i in range(samples):
                    victim = pods[i % len(pods)]
                    out, again = measure(load, lab.host(victim.host), victim, inter * fall)
                    leave.append(out)
                    back.append(again)
                    print(f"sample {i + 1}: {victim.replica} out after {out:.2f} s, "
                          f"back after {again:.2f} s", file=sys.stderr)
            if before is not None:
                await apply_lb(pool, inventory, {lb.name: before})
    finally:
        remove_app(lab, APP)
    bound = inter * fall
    print(f"HAProxy check: inter {inter:g} s, fall {fall}, rise 1 "
          f"(readiness periodSeconds={inter:g}, failureThreshold={fall}) -> bound {bound:g} s")
    print(f"replica stops being ready -> HAProxy stops sending to it ({samples} samples): "
          f"median {statistics.median(leave):.2f} s, min {min(leave):.2f} s, "
          f"max {max(leave):.2f} s")
    print(f"replica ready again -> HAProxy sends to it again: "
          f"median {statistics.median(back):.2f} s, min {min(back):.2f} s, max {max(back):.2f} s")
    print(f"load: {load.ok} requests at {load.rate:.0f}/s, {len(load.failures)} failed")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="lb")
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--inter", type=float, default=1.0)
    parser.add_argument("--fall", type=int, default=2)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.lab, args.samples, args.inter, args.fall)))
