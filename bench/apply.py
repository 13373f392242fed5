#!/usr/bin/env python3
"""`fleet apply` beside raw SSH + `docker run`, measured side by side in one run (not a test).

    .venv/bin/python bench/apply.py [--lab bench4] [--reps 5] [--noop-reps 15] [--only a|b]

(a) apply from scratch of 3 services x 3 replicas (lab/web:1, readiness probes with
    periodSeconds 1, no dependsOn) on the 3 lab hosts, as a whole `fleet apply --yes`
    process, beside the floor: raw `docker run -d -p ADDR::8080 lab/web:1` of the same
    9 containers over already-open OpenSSH ControlMaster connections, all hosts in
    parallel, one ssh command per host (target <= 1.3x). Measured variants explain the
    difference:
      fleet, full       probes + a LoadBalancer Service per Deployment (HAProxy on node1)
      fleet, no svc     probes, no Service (no HAProxy work)
      fleet, bare       no probes, no Service ("running" is ready)
      fleet, in-proc    full, but the Reconciler of an open session: no process start,
                        imports or SSH handshakes (what the floor does not pay either)
      floor, seq        the 3 `docker run` of a host one after the other
      floor, par        ... started together (`&` + `wait`), as fleet does
      floor, par+ready  ... then `curl` each one's /readyz until it answers (fleet's gate)
    Each repetition starts from hosts without containers and an empty journal.
(b) no-op: `fleet apply --yes` on the converged cluster as a whole process, beside
    parallel fresh `ssh host docker ps` (OpenSSH, no ControlMaster), target <= 2x; then
    where the no-op's time goes (imports, SSH handshake, observe, probes, plan).

Repetitions are interleaved (the order rotates) and reported as medians. Uses lab NAME
(default `bench4`, brought up if missing and removed afterwards if this script made it).
Root only, like the lab.
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.lab import LabInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import FLEET, lab_exists, load, sh, ssh_base, timed  # noqa: E402

SERVICES = ("alpha", "beta", "gamma")
REPLICAS = 3
APP = "bench"  # the blueprint file's stem
FLOOR = "floor"  # container name prefix of the floor's containers
LB_PORT = 18081  # Services listen on 18081.. of the lb host


# -- blueprints ------------------------------------------------------------------------------


def blueprint(probes: bool, services: bool) -> str:
    docs = []
    for i, name in enumerate(SERVICES):
        probe = (
            "          readinessProbe:\n"
            "            httpGet: {path: /readyz, port: http}\n"
            "            periodSeconds: 1\n"
            if probes else ""
        )
        docs.append(
            "apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: {name}}}\n"
            "spec:\n"
            f"  replicas: {REPLICAS}\n"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n"
            "  template:\n"
            f"    metadata: {{labels: {{app: {name}}}}}\n"
            "    spec:\n"
            "      terminationGracePeriodSeconds: 2\n"
            "      containers:\n"
            f"        - name: {name}\n"
            "          image: lab/web:1\n"
            "          ports:\n"
            "            - {name: http, containerPort: 8080}\n" + probe
        )
        if services:
            docs.append(
                "apiVersion: v1\nkind: Service\n"
                f"metadata: {{name: {name}}}\n"
                "spec:\n"
                "  type: LoadBalancer\n"
                f"  selector: {{app: {name}}}\n"
                f"  ports: [{{name: http, port: {LB_PORT + i}, targetPort: http}}]\n"
            )
    return "---\n".join(docs)


def write_blueprints(where: Path) -> dict[str, Path]:
    """One file per variant, each named bench.yaml (the app is the file's stem)."""
    out = {}
    for variant, probes, services in (("full", True, True), ("nosvc", True, False),
                                      ("bare", False, False)):
        path = where / variant / f"{APP}.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(blueprint(probes, services))
        out[variant] = path
    return out


# -- measuring -------------------------------------------------------------------------------


async def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])} exit {proc.returncode}: {err.decode()[-500:]}")


async def parallel(argvs: list[list[str]]) -> None:
    await asyncio.gather(*(run(a) for a in argvs))


def line(what: str, xs: list[float], ys: list[float], target: float | None) -> float:
    f, p = statistics.median(xs), statistics.median(ys)
    ratio = f / p
    verdict = "" if target is None else (
        f" (target <= {target}x: {'ok' if ratio <= target else 'OVER TARGET'})")
    print(f"  {what}: {f:.0f} ms vs {p:.0f} ms (medians of {len(xs)}), "
          f"ratio {ratio:.2f}x{verdict}")
    return ratio


def runs(name: str, xs: list[float]) -> None:
    print(f"    {name:22s} median {statistics.median(xs):6.0f} ms  runs "
          + " ".join(f"{x:.0f}" for x in xs))


class Bench:
    def __init__(self, lab: LabInfo, work: Path) -> None:
        self.lab = lab
        self.work = work
        self.base = ssh_base(lab)
        self.control = work / "cm"
        self.control.mkdir()
        self.blueprints = write_blueprints(work)
        self.state = work / "state"

    # -- the lab hosts' engines, read and cleaned locally (not measured)
    def docker(self, host: Any, *args: str) -> str:
        env = {**os.environ, "DOCKER_HOST": f"unix://{host.docker_socket}"}
        return sh("docker", *args, env=env).stdout

    def clean(self) -> None:
        """No containers on any host, an empty journal: the next apply starts from scratch."""
        for host in self.lab.hosts:
            ids = self.docker(host, "ps", "-aq").split()
            if ids:
                self.docker(host, "rm", "-f", *ids)
        shutil.rmtree(self.state, ignore_errors=True)

    def running(self) -> int:
        return sum(len(self.docker(h, "ps", "-q", "--filter", "status=running").split())
                   for h in self.lab.hosts)

    def check(self, what: str) -> None:
        count = self.running()
        if count != len(SERVICES) * REPLICAS:
            raise RuntimeError(f"{what}: {count} containers running, expected 9")

    # -- OpenSSH
    def open_masters(self) -> None:
        for h in self.lab.hosts:
            sh(*self.base, "-o", "ControlMaster=yes", "-o", "ControlPersist=600",
               "-S", str(self.control / h.name), "-fN", f"root@{h.address}")

    def close_masters(self) -> None:
        for h in self.lab.hosts:
            sh(*self.base, "-S", str(self.control / h.name), "-O", "exit", f"root@{h.address}",
               check=False)

    def floor_script(self, host: Any, mode: str) -> str:
        names = [f"{FLOOR}-{s}-{k}" for s in SERVICES for k in range(REPLICAS)
                 if (SERVICES.index(s) * REPLICAS + k) % len(self.lab.hosts)
                 == self.lab.hosts.index(host)]
        runs_ = [f"docker run -d --name {n} -p {host.address}::8080 lab/web:1 >/dev/null"
                 for n in names]
        if mode == "seq":
            return " && ".join(runs_)
        script = " & ".join(runs_) + " & wait"
        if mode == "ready":
            script += "; for c in " + " ".join(names) + "; do a=$(docker port $c 8080); " \
                "until curl -sf -o /dev/null http://$a/readyz; do sleep 0.02; done; done"
        return script

    async def floor(self, mode: str) -> float:
        argvs = [[*self.base, "-S", str(self.control / h.name), f"root@{h.address}",
                  self.floor_script(h, mode)] for h in self.lab.hosts]
        took = await timed(lambda: parallel(argvs))
        self.check(f"floor {mode}")
        return took

    def fleet_env(self) -> dict[str, str]:
        return {**os.environ, "FLEET_STATE_DIR": str(self.state)}

    def apply_argv(self, variant: str) -> list[str]:
        return [FLEET, "apply", "-i", str(self.lab.inventory_path),
                str(self.blueprints[variant]), "--yes"]

    async def fleet_process(self, variant: str) -> float:
        took = await timed(lambda: run(self.apply_argv(variant), self.fleet_env()))
        self.check(f"fleet {variant}")
        return took

    # -- (a) from scratch
    async def from_scratch(self, reps: int) -> dict[str, float]:
        from fleet.session import Sources, open_session

        self.open_masters()
        sources = Sources(self.lab.inventory_path, (self.blueprints["full"],))
        os.environ["FLEET_STATE_DIR"] = str(self.work / "inproc-state")
        results: dict[str, list[float]] = {}
        try:
            async with open_session(sources) as session:
                rc = session.reconciler

                async def in_process() -> float:
                    await rc.look()  # connections open and warm (like the floor's masters)
                    self.clean()
                    rc.journal.db.executescript(
                        "DELETE FROM facts; DELETE FROM revisions; DELETE FROM events;")
                    started = time.perf_counter()
                    outcome = await rc.converge(await rc.look())
                    took = (time.perf_counter() - started) * 1000
                    if not outcome.converged:
                        raise RuntimeError(f"in-process apply did not converge: {outcome.stuck}")
                    self.check("fleet in-process")
                    return took

                work: dict[str, Callable[[], Awaitable[float]]] = {
                    "fleet, full": lambda: self.fleet_process("full"),
                    "fleet, no svc": lambda: self.fleet_process("nosvc"),
                    "fleet, bare": lambda: self.fleet_process("bare"),
                    "fleet, in-proc": in_process,
                    "floor, seq": lambda: self.floor("seq"),
                    "floor, par": lambda: self.floor("par"),
                    "floor, par+ready": lambda: self.floor("ready"),
                }
                names = list(work)
                self.clean()
                await self.fleet_process("full")  # warm up: page cache, images, HAProxy
                for rep in range(reps):
                    shift = rep % len(names)
                    for name in names[shift:] + names[:shift]:
                        if name != "fleet, in-proc":
                            self.clean()
                        results.setdefault(name, []).append(await work[name]())
                    print(f"  rep {rep + 1}/{reps} done (load {load()})", flush=True)
        finally:
            self.close_masters()
            self.clean()
        print("(a) apply from scratch, 3 services x 3 replicas on 3 hosts:")
        for name, xs in results.items():
            runs(name, xs)
        floor = results["floor, par"]
        out = {f"scratch_{k.replace(', ', '_').replace(' ', '_').replace('+', '_')}_ms":
               statistics.median(v) for k, v in results.items()}
        out["scratch_ratio_full_vs_par"] = line(
            "fleet apply (process, probes + HAProxy) vs floor par",
            results["fleet, full"], floor, 1.3)
        out["scratch_ratio_full_vs_seq"] = line(
            "fleet apply (process, probes + HAProxy) vs floor seq",
            results["fleet, full"], results["floor, seq"], 1.3)
        out["scratch_ratio_bare_vs_par"] = line(
            "fleet apply (process, no probes, no Service) vs floor par",
            results["fleet, bare"], floor, 1.3)
        out["scratch_ratio_inproc_vs_par"] = line(
            "fleet converge in-process over open connections vs floor par",
            results["fleet, in-proc"], floor, 1.3)
        out["scratch_ratio_full_vs_ready"] = line(
            "fleet apply (process, probes + HAProxy) vs floor par+ready",
            results["fleet, full"], results["floor, par+ready"], None)
        return out

    # -- (b) no-op
    async def noop(self, reps: int, compare: Path | None = None) -> dict[str, float]:
        self.clean()
        await self.fleet_process("full")

        async def fleet_noop() -> None:
            await run(self.apply_argv("full"), self.fleet_env())

        async def other_noop() -> None:  # the same command from another checkout of fleet
            assert compare is not None
            argv = [sys.executable, "-m", "fleet", *self.apply_argv("full")[1:]]
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=compare, env=self.fleet_env(), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"{compare}: fleet apply exit {proc.returncode}: {err.decode()}")

        async def ssh_fresh() -> None:
            await parallel([[*self.base, "-o", "ControlPath=none", f"root@{h.address}",
                             "docker", "ps"] for h in self.lab.hosts])

        work: dict[str, Callable[[], Awaitable[None]]] = {
            "fleet apply --yes": fleet_noop, "ssh host docker ps": ssh_fresh}
        if compare is not None:
            work[f"fleet apply, {compare.name}"] = other_noop
        for job in work.values():
            await job()  # warm up
        times: dict[str, list[float]] = {name: [] for name in work}
        names = list(work)
        for i in range(reps):
            for name in names[i % len(names):] + names[:i % len(names)]:
                times[name].append(await timed(work[name]))
        print("(b) no-op apply (converged cluster, 9 pods with readiness probes, 3 Services):")
        for name, xs in times.items():
            runs(name, xs)
        xs, ys = times["fleet apply --yes"], times["ssh host docker ps"]
        out = {"noop_fleet_ms": statistics.median(xs), "noop_ssh_ms": statistics.median(ys)}
        out["noop_ratio"] = line("no-op fleet apply vs parallel fresh ssh docker ps", xs, ys, 2.0)
        if compare is not None:
            other = times[f"fleet apply, {compare.name}"]
            out["noop_compare_ms"] = statistics.median(other)
            out["noop_compare_ratio"] = line(
                f"no-op with {compare} vs parallel fresh ssh docker ps", other, ys, 2.0)
        out.update(await self.breakdown())
        self.clean()
        return out

    async def breakdown(self, reps: int = 5) -> dict[str, float]:
        """Where a no-op's time goes: imports in fresh interpreters, then each step of
        `fleet apply` in-process (medians of `reps` runs)."""
        from fleet.session import Sources, load, open_session

        code = (
            "import time; t = time.perf_counter(); import fleet.cli.main, fleet.cli.commands; "
            "a = time.perf_counter(); import fleet.session, fleet.health; "
            "b = time.perf_counter(); import asyncssh; c = time.perf_counter(); "
            "print(a - t, b - a, c - b)"
        )
        os.environ["FLEET_STATE_DIR"] = str(self.state)
        sources = Sources(self.lab.inventory_path, (self.blueprints["full"],))
        parts: dict[str, list[float]] = {}

        def note(what: str, ms: float) -> None:
            parts.setdefault(what, []).append(ms)

        for _ in range(reps):
            started = time.perf_counter()
            sh(sys.executable, "-c", "pass")
            note("python start", (time.perf_counter() - started) * 1000)
            cli, models, ssh = (float(x) * 1000 for x in
                                sh(sys.executable, "-c", code).stdout.split())
            note("import CLI (typer, fleet.cli)", cli)
            note("import session (pydantic models, planner, probes, lb ...)", models)
            note("import asyncssh", ssh)
            t0 = time.perf_counter()
            load(sources)
            t1 = time.perf_counter()
            async with open_session(sources, lock="apply") as session:
                t2 = time.perf_counter()
                rc = session.reconciler
                await asyncio.gather(*(session.pool.connect(h) for h in session.pool.hosts))
                t3 = time.perf_counter()
                cluster = await rc.observe_cluster()
                t4 = time.perf_counter()
                observed = await rc.assess(cluster)
                t5 = time.perf_counter()
                if not observed.plan.empty:
                    raise RuntimeError("the no-op breakdown found changes to make")
            t6 = time.perf_counter()
            note("load inventory + blueprint", (t1 - t0) * 1000)
            note("journal + lock (local; remote: 1 handshake + 1 round trip)",
                 (t2 - t1 - (t1 - t0)) * 1000)
            note("the other SSH handshakes (in parallel)", (t3 - t2) * 1000)
            note("observe (1 round trip per host)", (t4 - t3) * 1000)
            note("probes + targets + plan", (t5 - t4) * 1000)
            note("unlock (1 round trip) + close", (t6 - t5) * 1000)
        print(f"  where a no-op's time goes (medians of {reps}; imports in fresh interpreters, "
              "then the steps in-process):")
        total = 0.0
        for what, runs_ in parts.items():
            total += statistics.median(runs_)
            print(f"    {what:58s} {statistics.median(runs_):6.0f} ms")
        print(f"    {'sum':58s} {total:6.0f} ms")
        return {"noop_part_" + k.split(" (")[0].replace(" + ", "_").replace(" ", "_") + "_ms":
                statistics.median(v) for k, v in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="bench4", help="3-host lab to use (made if missing)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of (a)")
    parser.add_argument("--noop-reps", type=int, default=15, help="repetitions of (b)")
    parser.add_argument("--only", choices=("a", "b"), help="run only (a) or (b)")
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="(b) also times `python -m fleet apply` run in DIR (another "
                        "checkout's top directory, e.g. before a change)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/apply.py needs root (it brings up a lab)")
    print(f"load {load()} on {os.cpu_count()} cores (lab hosts share them); "
          f"{sh('ssh', '-V', check=False).stderr.strip()}", flush=True)
    made = not lab_exists(args.lab)
    sh(FLEET, "lab", "up", "--name", args.lab)
    from fleet import lab as fleet_lab

    work = Path(tempfile.mkdtemp(prefix="fleet-bench-apply-"))
    results: dict[str, float] = {}
    try:
        bench = Bench(fleet_lab.load(args.lab), work)
        if args.only in (None, "a"):
            results.update(asyncio.run(bench.from_scratch(args.reps)))
        if args.only in (None, "b"):
            results.update(asyncio.run(bench.noop(args.noop_reps, args.compare)))
    finally:
        if made:
            sh(FLEET, "lab", "down", "--name", args.lab, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"load {load()}")
    print(json.dumps({k: round(v, 2) for k, v in results.items()}))


if __name__ == "__main__":
    main()
