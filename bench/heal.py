#!/usr/bin/env python3
"""Self-healing reaction times of `fleet heal --watch` on the lab (issue 6; not a test).

    .venv/bin/python bench/heal.py [--lab bench6] [--samples 5] [--interval 5] [--grace 10]
                                   [--cut link|daemons] [--only kill|cut]

One `fleet heal --watch --interval I --lost-after G` process (started and stopped by pid)
watches app `healbench`: 6 replicas of lab/web:1 (readiness and liveness probes,
periodSeconds 1) behind a LoadBalancer Service on port 18290 of the lb host.

kill   `docker kill` of one replica (on its host's socket), at a random phase of the watch
       loop; measured until the service is fully ready again: the killed container runs
       again and HAProxy (its runtime state, `show stat` on the master socket) has all 6
       servers UP. Target: <= interval + 3 s. A replica is killed again only after it ran
       for a minute since its last repair (fleet's crash-loop back-off resets then, as the
       kubelet's does), so no sample measures a back-off.
cut    one non-lb host cut off: `link` (its veth off the bridge; daemons keep running) or
       `daemons` (its sshd and dockerd stopped); measured until its replicas run on the
       other hosts and HAProxy has all 6 servers UP, none on the cut host. Target:
       <= grace + interval + 5 s. The host is then restored and the next sample waits
       until the watch loop removed the surplus (6 pods, one per slot).

Prints every sample, then the median, min and max of each beside its target. Uses lab
NAME (brought up if missing and taken down afterwards if this script made it). Root only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet import lab as fleet_lab  # noqa: E402
from fleet.lab import LabHost, LabInfo  # noqa: E402
from tests.lab.fleetrun import app_yaml, clean  # noqa: E402
from tests.lab.labtools import DOCKER, cut_off, lb_host  # noqa: E402

APP = "healbench"
PORT = 18290
REPLICAS = 6
SECTION = f"{APP}.web.{PORT}"
RECOVERED_AFTER = 62.0  # fleet forgets a replica's back-off once it ran for 60 s


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def wait_for(
    what: str, predicate: Callable[[], object], timeout: float, poll: float = 0.05
) -> float:
    """Poll until true; the monotonic time it first was. SystemExit at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        try:
            if predicate():
                return now
        except Exception:  # not there yet (a socket mid-reload, a host coming back)
            pass
        if now > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


# -- what the hosts say, independently of fleet ------------------------------------------------


def docker(host: LabHost, *args: str) -> str:
    done = subprocess.run(
        [DOCKER, "-H", f"unix://{host.docker_socket}", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} on {host.name}: {done.stderr.strip()}")
    return done.stdout


def pods(lab: LabInfo, hosts: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(host, container, state) of the app's main containers."""
    out = []
    for host in lab.hosts:
        if hosts is not None and host.name not in hosts:
            continue
        listed = docker(
            host, "ps", "-a", "--filter", f"label=fleet.app={APP}",
            "--filter", "label=fleet.role=main", "--format", "{{.Names}} {{.State}}",
        )  # fmt: skip
        out += [(host.name, *line.split()) for line in listed.splitlines()]
    return sorted(out)  # type: ignore[arg-type]


def started(host: LabHost, container: str) -> str:
    return docker(host, "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", container)


def haproxy_servers(lab: LabInfo) -> dict[str, tuple[str, str]]:
    """Server name -> (address:port, status) of the app's section, from HAProxy's runtime
    state (its master socket, `@1 show stat`: the current worker)."""
    lb = lb_host(lab)
    assert lb.haproxy_master_socket is not None
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(2)
        conn.connect(str(lb.haproxy_master_socket))
        conn.sendall(b"@1 show stat\n")
        conn.shutdown(socket.SHUT_WR)  # the master answers once the command is complete
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode().lstrip("# ")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("pxname") == SECTION and row["svname"] not in ("FRONTEND", "BACKEND"):
            out[row["svname"]] = (row.get("addr", ""), row["status"])
    return out


def all_up(lab: LabInfo, avoid: str | None = None) -> bool:
    servers = haproxy_servers(lab)
    bad = lab.host(avoid).address + ":" if avoid else None
    return len(servers) == REPLICAS and all(
        status.startswith("UP") and not (bad and addr.startswith(bad))
        for addr, status in servers.values()
    )


def steady(lab: LabInfo) -> bool:
    """Every slot once, all running, HAProxy has them all UP."""
    found = pods(lab)
    slots = sorted(name.split(".")[1] for _, name, _ in found)
    return (
        slots == [f"web-{k}" for k in range(REPLICAS)]
        and all(state == "running" for *_, state in found)
        and all_up(lab)
    )


# -- the watch process ---------------------------------------------------------------------------


@contextlib.contextmanager
def watching(
    env: dict[str, str], blueprint: Path, interval: float, grace: float, out: Path
) -> Iterator[subprocess.Popen[bytes]]:
    argv = [
        sys.executable,
        "-m",
        "fleet",
        "heal",
        "--watch",
        "--interval",
        str(interval),
        "--lost-after",
        str(grace),
        str(blueprint),
    ]
    with out.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
        log(f"fleet heal --watch: pid {process.pid} (output in {out})")
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- samples -------------------------------------------------------------------------------------


def kill_sample(
    lab: LabInfo, rng: random.Random, interval: float, repaired: dict[str, float]
) -> float:
    """docker kill one replica; seconds until it runs again and HAProxy has all UP."""
    wait_for("a steady service", lambda: steady(lab), 120)
    now = time.monotonic()
    fresh = [(h, c) for h, c, _ in pods(lab) if now - repaired.get(c, -1e9) >= RECOVERED_AFTER]
    if not fresh:
        soonest = min(repaired.values()) + RECOVERED_AFTER
        time.sleep(max(0.0, soonest - now))
        return kill_sample(lab, rng, interval, repaired)
    host, container = rng.choice(fresh)
    time.sleep(rng.uniform(0, interval))  # any phase of the watch loop
    before = started(lab.host(host), container)
    docker(lab.host(host), "kill", container)
    killed = time.monotonic()

    def back() -> bool:
        now_state = started(lab.host(host), container)
        return now_state.startswith("true") and now_state != before and all_up(lab)

    ready = wait_for(f"{container} back and HAProxy all UP", back, 120)
    repaired[container] = ready
    return ready - killed


def cut_sample(lab: LabInfo, how: str, rng: random.Random, interval: float) -> tuple[str, float]:
    """Cut the non-lb host with the most replicas; seconds until they run elsewhere and
    HAProxy has all UP without it. Restores the host, waits for the surplus to go."""
    wait_for("a steady service", lambda: steady(lab), 120)
    counts: dict[str, int] = {}
    for host, _, _ in pods(lab):
        counts[host] = counts.get(host, 0) + 1
    victim = max((h for h in counts if not lab.host(h).is_lb), key=lambda h: counts[h])
    others = [h.name for h in lab.hosts if h.name != victim]
    time.sleep(rng.uniform(0, interval))  # any phase of the watch loop
    cut = time.monotonic()  # before: stopping dockerd takes a while, sshd is gone at once
    with cut_off(lab, victim, how):

        def elsewhere() -> bool:
            running = [c for _, c, s in pods(lab, others) if s == "running"]
            slots = sorted({c.split(".")[1] for c in running})
            return slots == [f"web-{k}" for k in range(REPLICAS)] and all_up(lab, avoid=victim)

        ready = wait_for(f"{victim}'s replicas ready elsewhere", elsewhere, 180)
    wait_for("the surplus removed after the host's return", lambda: steady(lab), 180)
    return victim, ready - cut


# -- main ----------------------------------------------------------------------------------------


def summary(name: str, values: list[float], target: float, show: bool) -> dict[str, object]:
    median = statistics.median(values)
    verdict = "ok" if median <= target else "MISSED"
    if show:
        print(
            f"{name:<40} median {median:5.1f} s  min {min(values):5.1f} s  "
            f"max {max(values):5.1f} s   target <= {target:g} s: {verdict}"
        )
    return {"median": median, "min": min(values), "max": max(values), "target": target,
            "samples": len(values), "verdict": verdict}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="bench6")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--cut", choices=("link", "daemons"), default="link")
    parser.add_argument("--only", choices=("kill", "cut"))
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--output", choices=("text", "json"), default="text")
    args = parser.parse_args()

    made = args.lab not in fleet_lab.labs()
    lab = fleet_lab.up(args.lab, hosts=3, lb=1, log=log) if made else fleet_lab.load(args.lab)
    rng = random.Random(args.seed)
    results: dict[str, object] = {"interval": args.interval, "grace": args.grace}
    try:
        with tempfile.TemporaryDirectory(prefix="healbench.") as tmp:
            folder = Path(tmp)
            blueprint = folder / f"{APP}.yaml"
            blueprint.write_text(app_yaml(name="web", replicas=REPLICAS, port=PORT, probes=True))
            env = {**os.environ, "FLEET_INVENTORY": str(lab.inventory_path),
                   "FLEET_STATE_DIR": str(folder / "state")}  # fmt: skip
            clean(lab)
            applied = subprocess.run(
                [sys.executable, "-m", "fleet", "apply", "--yes", str(blueprint)],
                env=env,
                capture_output=True,
                text=True,
            )
            if applied.returncode != 0:
                raise SystemExit(f"apply failed: {applied.stderr}")
            with watching(env, blueprint, args.interval, args.grace, folder / "watch.log"):
                if args.only in (None, "kill"):
                    repaired: dict[str, float] = {}
                    kills = []
                    for i in range(args.samples):
                        kills.append(kill_sample(lab, rng, args.interval, repaired))
                        log(f"kill sample {i + 1}: ready again after {kills[-1]:.1f} s")
                    results["kill"] = kills
                if args.only in (None, "cut"):
                    cuts = []
                    for i in range(args.samples):
                        host, seconds = cut_sample(lab, args.cut, rng, args.interval)
                        cuts.append(seconds)
                        log(
                            f"cut sample {i + 1} ({args.cut} of {host}): replicas ready "
                            f"elsewhere after {seconds:.1f} s"
                        )
                    results["cut"] = cuts
            if args.output == "text":
                print(
                    f"fleet heal --watch --interval {args.interval:g} "
                    f"--lost-after {args.grace:g}, {REPLICAS} replicas, lab {args.lab}"
                )
            if "kill" in results:
                results["kill_summary"] = summary(
                    "docker kill -> service fully ready",
                    results["kill"],  # type: ignore[arg-type]
                    args.interval + 3,
                    args.output == "text",
                )
            if "cut" in results:
                results["cut_summary"] = summary(
                    f"host cut ({args.cut}) -> ready elsewhere",
                    results["cut"],  # type: ignore[arg-type]
                    args.grace + args.interval + 5,
                    args.output == "text",
                )
            if args.output == "json":
                print(json.dumps({"schema": "fleet.bench.heal/v1", **results}, indent=2))
            clean(lab)
    finally:
        if made:
            fleet_lab.down(args.lab, log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
