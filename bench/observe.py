#!/usr/bin/env python3
"""Observing hosts: fleet beside OpenSSH, measured side by side in one run (not a test).

    .venv/bin/python bench/observe.py [--lab NAME] [--reps N] [--fan-hosts 30] [--no-fan]

(a) warm: `Engine.observe` on every host over already-open connections, beside
    OpenSSH `docker ps` on every host in parallel over ControlMaster connections
    (target <= 1.5x);
(b) cold: the whole `fleet status` process, beside parallel fresh
    `ssh host docker ps` (target <= 2x);
(c) fan-out: one `fleet status` of a 30-host lab end to end (target < 2 s), and the
    memory the lab needs per host (PSS of each host's sshd + dockerd + containerd).

Each pair is measured interleaved (fleet, peer, fleet, peer, ...) and reported
as medians. Uses lab NAME (default `bench`, brought up for 3 hosts if missing and
removed afterwards if this script made it); the fan-out lab `fan` is always made
and removed here. Root only, like the lab.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import FLEET, lab_exists, sh, ssh_base, timed  # noqa: E402


def lab_up(name: str, hosts: int) -> Path:
    started = time.monotonic()
    done = sh(FLEET, "lab", "up", "--name", name, "--hosts", str(hosts))
    print(f"  lab {name}: {hosts} hosts up in {time.monotonic() - started:.1f} s", flush=True)
    return Path(done.stdout.strip().splitlines()[-1])


async def parallel(argvs: list[list[str]]) -> None:
    procs = [
        await asyncio.create_subprocess_exec(*a, stdout=asyncio.subprocess.DEVNULL,
                                             stderr=asyncio.subprocess.PIPE)
        for a in argvs
    ]
    for proc, argv in zip(procs, argvs, strict=True):
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[-3:])}: {err.decode().strip()}")


async def interleaved(reps: int, a: Callable[[], Awaitable[object]],
                      b: Callable[[], Awaitable[object]]) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i in range(reps):
        if i % 2 == 0:
            xs.append(await timed(a))
            ys.append(await timed(b))
        else:
            ys.append(await timed(b))
            xs.append(await timed(a))
    return xs, ys


def line(what: str, fleet_ms: list[float], peer_ms: list[float], target: float) -> float:
    f, p = statistics.median(fleet_ms), statistics.median(peer_ms)
    ratio = f / p
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(f"  {what}: fleet {f:.0f} ms, peer {p:.0f} ms (medians of {len(fleet_ms)}), "
          f"ratio {ratio:.2f}x (target <= {target}x: {verdict})")
    print(f"    fleet runs: {' '.join(f'{x:.0f}' for x in fleet_ms)}")
    print(f"    peer runs:  {' '.join(f'{x:.0f}' for x in peer_ms)}")
    return ratio


async def warm_and_cold(lab_name: str, reps: int, containers: int) -> dict[str, float]:
    from fleet import lab as fleet_lab
    from fleet.remote.engine import Engine
    from fleet.remote.model import ContainerRunSpec
    from fleet.remote.ssh import SSHPool
    from fleet.spec.loader import load_inventory

    lab = fleet_lab.load(lab_name)
    inventory = load_inventory(lab.inventory_path)
    base = ssh_base(lab)
    results: dict[str, float] = {}
    control = Path(tempfile.mkdtemp(prefix="fleet-bench-cm-"))
    try:
        for h in lab.hosts:
            sh(*base, "-o", "ControlMaster=yes", "-o", "ControlPersist=600",
               "-S", str(control / h.name), "-fN", f"root@{h.address}")
        async with SSHPool(inventory) as pool:
            engine = Engine(pool)
            names = list(inventory.hosts)
            # a few fleet-managed containers per host, so both sides list something
            made = [(n, f"bench-{i}") for n in names for i in range(containers)]
            await asyncio.gather(*(
                engine.run(n, ContainerRunSpec(name=c, image="lab/worker:1",
                                               labels={"fleet.app": "bench"}))
                for n, c in made
            ))
            await asyncio.gather(*(engine.observe(n) for n in names))  # open + warm up

            async def fleet_warm() -> None:
                await asyncio.gather(*(engine.observe(n) for n in names))

            async def fleet_warm_status() -> None:  # what `fleet status` asks: no volume list
                await asyncio.gather(*(engine.observe(n, volumes=False) for n in names))

            async def ssh_warm() -> None:
                await parallel([[*base, "-S", str(control / h.name), f"root@{h.address}",
                                 "docker", "ps"] for h in lab.hosts])

            await ssh_warm()
            print("(a) warm: observe all hosts over open connections vs OpenSSH `docker ps` "
                  f"over ControlMaster, all hosts in parallel ({containers} managed "
                  "containers per host)")
            xs, ys = await interleaved(reps, fleet_warm, ssh_warm)
            results["warm_ratio"] = line("warm, full observe (facts, containers, volumes, "
                                         "cordon)", xs, ys, 1.5)
            results["warm_fleet_ms"] = statistics.median(xs)
            results["warm_ssh_ms"] = statistics.median(ys)
            xs, ys = await interleaved(reps, fleet_warm_status, ssh_warm)
            results["warm_status_ratio"] = line("warm, observe as `fleet status` does (no "
                                                "volume list)", xs, ys, 1.5)
            await asyncio.gather(*(engine.remove(n, [c], force=True) for n, c in made))
    finally:
        for h in lab.hosts:
            sh(*base, "-S", str(control / h.name), "-O", "exit", f"root@{h.address}", check=False)
        shutil.rmtree(control, ignore_errors=True)

    async def fleet_cold() -> None:
        await parallel([[FLEET, "status", "-i", str(lab.inventory_path), "-o", "json"]])

    async def ssh_cold() -> None:
        await parallel([[*base, "-o", "ControlPath=none", f"root@{h.address}", "docker", "ps"]
                        for h in lab.hosts])

    await fleet_cold()
    await ssh_cold()
    print("(b) cold: the whole `fleet status` process vs parallel fresh `ssh host docker ps` "
          "(no containers)")
    xs, ys = await interleaved(reps, fleet_cold, ssh_cold)
    results["cold_ratio"] = line("cold", xs, ys, 2.0)
    results["cold_fleet_ms"] = statistics.median(xs)
    results["cold_ssh_ms"] = statistics.median(ys)
    return results


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if row.startswith("Pss:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def lab_memory_per_host(lab_name: str) -> tuple[float, float]:
    """(MiB PSS per host of sshd + dockerd and their children, MiB of the busiest host)."""
    from fleet import lab as fleet_lab

    lab = fleet_lab.load(lab_name)
    tree = _children()
    per_host = []
    for host in lab.hosts:
        total = 0
        for pidfile in (host.sshd_pidfile, host.dockerd_pidfile):
            try:
                todo = [int(pidfile.read_text().split()[0])]
            except (OSError, ValueError, IndexError):
                continue
            while todo:
                pid = todo.pop()
                total += _pss_kib(pid)
                todo.extend(tree.get(pid, []))
        per_host.append(total / 1024)
    return statistics.mean(per_host), max(per_host)


def mem_available_mib() -> float:
    for row in Path("/proc/meminfo").read_text().splitlines():
        if row.startswith("MemAvailable:"):
            return int(row.split()[1]) / 1024
    return 0.0


def fan_out(hosts: int, reps: int) -> dict[str, float]:
    name = "fan"
    print(f"(c) fan-out: one `fleet status` of a {hosts}-host lab, end to end")
    before = mem_available_mib()
    inventory = lab_up(name, hosts)
    results: dict[str, float] = {}
    try:
        time.sleep(2)  # let the engines settle before reading memory
        used = before - mem_available_mib()
        pss, busiest = lab_memory_per_host(name)
        runs = []
        reachable = 0
        for _ in range(reps):
            started = time.perf_counter()
            done = sh(FLEET, "status", "-i", str(inventory), "-o", "json", check=False)
            runs.append((time.perf_counter() - started) * 1000)
            reachable = sum(h["reachable"] for h in json.loads(done.stdout)["hosts"])
        median = statistics.median(runs)
        verdict = "ok" if median < 2000 else "OVER TARGET"
        print(f"  {reachable}/{hosts} hosts reachable; fleet status {median:.0f} ms "
              f"(median of {reps}; target < 2000 ms: {verdict})")
        print(f"    runs: {' '.join(f'{x:.0f}' for x in runs)}")
        print(f"  memory per lab host: {pss:.0f} MiB PSS (sshd + dockerd + containerd; busiest "
              f"{busiest:.0f} MiB); MemAvailable dropped {used / hosts:.0f} MiB per host "
              "(machine shared, indicative)")
        results.update(fan_status_ms=median, fan_pss_mib_per_host=pss,
                       fan_memavailable_mib_per_host=used / hosts)
    finally:
        started = time.monotonic()
        sh(FLEET, "lab", "down", "--name", name, check=False)
        print(f"  lab {name} removed in {time.monotonic() - started:.1f} s")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="bench", help="3-host lab to use (made if missing)")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--fan-hosts", type=int, default=30)
    parser.add_argument("--no-fan", action="store_true")
    parser.add_argument("--containers", type=int, default=3,
                        help="fleet-managed containers per host during (a)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/observe.py needs root (it brings up labs)")
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (lab hosts share them); "
          f"{sh('ssh', '-V', check=False).stderr.strip()}")
    made = not lab_exists(args.lab)
    lab_up(args.lab, 3)
    try:
        results = asyncio.run(warm_and_cold(args.lab, args.reps, args.containers))
        if not args.no_fan:
            results.update(fan_out(args.fan_hosts, max(5, args.reps // 3)))
    finally:
        if made:
            sh(FLEET, "lab", "down", "--name", args.lab, check=False)
    print(f"load {os.getloadavg()[0]:.2f}")
    print(json.dumps({k: round(v, 2) for k, v in results.items()}))


if __name__ == "__main__":
    main()
