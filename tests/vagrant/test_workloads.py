"""fleet against real VMs, through its own CLI: status, image push, apply of the demo,
traffic through the lb VM's systemd-managed HAProxy, a rolling update under load with no
failed request, and heal after a VM is shut down (`vagrant halt`) and booted again.

One deployment of the demo serves the whole session: session fixtures push the images
and apply it once, so the tests build on each other in file order and each one can still
run alone (`-k`), bringing its prerequisites. The blueprint is tests/vagrant/blueprints/
demo.yaml: blueprints/demo.yaml with timings for software-emulated VMs (see its header).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from fleet.spec.inventory import Inventory

from .conftest import Containers, Ssh, VmFleet, VmPower, note
from .traffic import Load, get

pytestmark = pytest.mark.vagrant

VM_BLUEPRINT = Path(__file__).parent / "blueprints" / "demo.yaml"
IMAGES = ("lab/web:1", "lab/web:2", "lab/worker:1", "lab/kv:1")
REPLICAS = {"web": 3, "worker": 2, "kv": 1, "api": 1}
LB = "node1"
VICTIM = "node3"  # never the lb host: traffic keeps going through node1
# longer than the inventory's connect timeout (30 s): the first pass after the halt waits that
# long for the VM, and must still fall inside the grace period (the grace counts from asking)
LOST_AFTER = 45
_BODY = re.compile(r"^web v(?P<version>\S+) replica=(?P<replica>\S+) host=(?P<host>\S+)$")


@dataclass(frozen=True)
class Replica:
    service: str
    replica: str
    host: str
    pod: str
    revision: str


def running(rows: list[dict[str, str]]) -> list[Replica]:
    """The running main containers of the demo: one per running replica."""
    return sorted(
        (
            Replica(r["fleet.service"], r["fleet.replica"], r["host"], r["fleet.pod"],
                    r["fleet.revision"])
            for r in rows
            if r["state"] == "running" and r.get("fleet.role") == "main"
            and r.get("fleet.app") == "demo"
        ),
        key=lambda r: (r.service, r.replica, r.host),
    )  # fmt: skip


def counts(replicas: list[Replica]) -> dict[str, int]:
    return dict(Counter(r.service for r in replicas))


def exact(replicas: list[Replica]) -> bool:
    """Every service at its replica count, each replica (slot) running exactly once."""
    slots = Counter((r.service, r.replica) for r in replicas)
    return counts(replicas) == REPLICAS and all(n == 1 for n in slots.values())


def lb_url(vm: dict[str, str]) -> str:
    return f"http://{vm[LB]}:8080/"


def parse_body(body: str) -> dict[str, str]:
    m = _BODY.match(body.strip())
    assert m is not None, f"not an answer of lab/web: {body!r}"
    return m.groupdict()


# ------------------------------------------------------------------ session state


@dataclass(frozen=True)
class LabImages:
    ids: dict[str, str]  # ref -> "sha256:..."
    bundle: Path  # one docker-save archive holding all of IMAGES (one `docker load` per VM)


@pytest.fixture(scope="session")
def lab_images(tmp_path_factory: pytest.TempPathFactory) -> LabImages:
    """The lab images, built offline (fleet.lab.images: busybox + scripts, deterministic)."""
    from fleet.lab.images import build

    built = build(tmp_path_factory.mktemp("images"), list(IMAGES))
    return LabImages({b.ref: b.image_id for b in built.images}, built.bundle)


@dataclass
class Pushed:
    first: dict[str, Any]  # the first push's fleet.images.push/v1 document
    seconds: float


def push(fleet: VmFleet, archive: Path) -> dict[str, Any]:
    done = fleet.run("images", "push", "--from-archive", str(archive), "--output", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["schema"] == "fleet.images.push/v1"
    return document  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def pushed(fleet: VmFleet, lab_images: LabImages, ssh: Ssh, vm: dict[str, str]) -> Pushed:
    # VMs kept from an earlier run may have them: the first push must really load
    for node in vm:
        ssh(node, "docker", "rmi", "-f", *IMAGES, check=False)
    started = time.monotonic()
    first = push(fleet, lab_images.bundle)
    took = time.monotonic() - started
    size = lab_images.bundle.stat().st_size / 2**20
    note(f"images push: {len(IMAGES)} images ({size:.1f} MiB) to {len(vm)} VMs in {took:.1f} s")
    return Pushed(first, took)


@dataclass
class Applied:
    blueprint: Path  # the app's file (its stem names the app: demo); tests edit it in place
    plan: dict[str, Any]
    done: CompletedProcess[str]
    seconds: float


@pytest.fixture(scope="session")
def applied(fleet: VmFleet, pushed: Pushed, tmp_path_factory: pytest.TempPathFactory) -> Applied:
    blueprint = tmp_path_factory.mktemp("bp") / "demo.yaml"
    shutil.copyfile(VM_BLUEPRINT, blueprint)
    plan = fleet.json("plan", str(blueprint))
    assert plan["schema"] == "fleet.plan/v1"
    started = time.monotonic()
    done = fleet.run("apply", "--yes", str(blueprint), timeout=1500)
    took = time.monotonic() - started
    note(f"apply of the demo (7 pods, 8 containers): {took:.1f} s, exit {done.returncode}")
    return Applied(blueprint, plan, done, took)


# ------------------------------------------------------------------ 1. status


def test_status_shows_the_vms_with_engine_version_cpu_and_memory(
    fleet: VmFleet, inventory: Inventory, ssh: Ssh
) -> None:
    done = fleet.run("status", "--output", "json", "--timeout", "60")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "fleet.status/v1"
    hosts = {h["name"]: h for h in document["hosts"]}
    assert sorted(hosts) == sorted(h.name for h in inventory)
    for host in inventory:
        row = hosts[host.name]
        assert row["reachable"] is True and row["reason"] is None, row
        assert row["address"] == host.address and row["hostname"] == host.name
        engine = ssh(host.name, "docker", "version", "--format", "'{{.Server.Version}}'")
        assert row["engine"] == "docker" and row["engine_version"] == engine.stdout.strip()
        # what the Vagrantfile gives each VM: 1 CPU, 1 GiB (the kernel keeps some)
        assert row["cpus"] == 1, row
        assert 700 * 2**20 < row["memory_bytes"] <= 2**30, row

    text = fleet.run("status", "--timeout", "60")
    assert text.returncode == 0, text.stderr
    for host in inventory:
        line = next(ln for ln in text.stdout.splitlines() if ln.startswith(host.name + " "))
        version = hosts[host.name]["engine_version"].split("+")[0]
        assert " ok " in line and version in line, line
    assert f"{len(hosts)}/{len(hosts)} hosts reachable" in text.stdout


# ------------------------------------------------------------------ 2. images push


def test_images_push_gives_every_vm_the_same_ids_and_a_second_push_skips_all(
    fleet: VmFleet, pushed: Pushed, lab_images: LabImages, ssh: Ssh, vm: dict[str, str]
) -> None:
    assert pushed.first["images"] == lab_images.ids
    assert {h["host"]: h["status"] for h in pushed.first["hosts"]} == dict.fromkeys(vm, "loaded")
    assert all(h["bytes"] > 0 for h in pushed.first["hosts"])
    for node in vm:
        listed = ssh(node, "docker", "image", "inspect", "--format", "'{{.Id}}'", *IMAGES)
        assert listed.stdout.split() == [lab_images.ids[ref] for ref in IMAGES], node

    started = time.monotonic()
    again = push(fleet, lab_images.bundle)
    note(f"images push again (every VM skipped): {time.monotonic() - started:.1f} s")
    assert {h["host"]: h["status"] for h in again["hosts"]} == dict.fromkeys(vm, "skipped")
    assert all(h["bytes"] == 0 for h in again["hosts"])


# ------------------------------------------------------------------ 3. apply


def test_apply_of_the_demo_converges_with_every_replica_where_the_plan_said(
    fleet: VmFleet, applied: Applied, containers: Containers
) -> None:
    assert applied.done.returncode == 0, applied.done.stderr[-4000:]
    creates = {
        (a["service"], a["replica"]): a["host"]
        for a in applied.plan["actions"]
        if a["kind"] == "create"
    }
    assert creates, applied.plan
    now = running(containers())
    assert exact(now), now
    where = {(r.service, r.replica): r.host for r in now}
    for slot, host in creates.items():
        assert where[slot] == host, f"{slot} runs on {where[slot]}, the plan said {host}"
    assert where[("kv", "kv-0")] == LB  # the VM blueprint pins it (nodeSelector)
    again = fleet.run("plan", "--detailed-exitcode", str(applied.blueprint))
    assert again.returncode == 0, f"not converged:\n{again.stdout}\n{again.stderr[-2000:]}"


# ------------------------------------------------------------------ 4. traffic


def test_traffic_through_the_lb_vms_haproxy_reaches_every_web_replica(
    applied: Applied, containers: Containers, ssh: Ssh, vm: dict[str, str]
) -> None:
    assert applied.done.returncode == 0, applied.done.stderr[-4000:]
    # the HAProxy that answers is the VM's own, under systemd, with the config fleet wrote
    assert ssh(LB, "systemctl", "is-active", "haproxy").stdout.strip() == "active"
    config = ssh(LB, "cat", "/etc/haproxy/haproxy.cfg").stdout
    assert "written by fleet" in config and "listen demo.web.8080" in config
    web = {r.replica: r.host for r in running(containers(service="web"))}
    seen: Counter[tuple[str, str]] = Counter()
    for _ in range(12):  # roundrobin: 3 servers, each answers 4 times
        status, body = get(lb_url(vm))
        assert status == 200, body
        answer = parse_body(body)
        seen[(answer["replica"], answer["host"])] += 1
    assert sorted(seen) == sorted(web.items()), (seen, web)


# ------------------------------------------------------------------ 5. rolling update


def test_rolling_update_through_haproxy_under_load_fails_no_request(
    fleet: VmFleet, applied: Applied, containers: Containers, vm: dict[str, str]
) -> None:
    assert applied.done.returncode == 0, applied.done.stderr[-4000:]
    before = running(containers(service="web"))
    text = applied.blueprint.read_text()
    # the web Deployment comes first; api also runs lab/web:1 and must stay as it is
    applied.blueprint.write_text(text.replace("image: lab/web:1", "image: lab/web:2", 1))
    assert applied.blueprint.read_text().count("image: lab/web:1") == 1

    with Load(lb_url(vm), rate=25) as load:
        started = time.monotonic()
        done = fleet.run("apply", "--yes", str(applied.blueprint), timeout=1500)
        took = time.monotonic() - started
        time.sleep(3)  # the load goes on a little through the final config
    note(f"rolling update web:1 -> web:2 (3 replicas, maxSurge 1): {took:.1f} s; load: "
         f"{load.summary()}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert load.failures == [], load.summary()
    assert load.achieved_rate >= 20, load.summary()
    versions = [parse_body(b)["version"] for b in load.bodies()]
    assert versions[0] == "1" and set(versions) == {"1", "2"}, Counter(versions)
    assert set(versions[-10:]) == {"2"}, versions[-10:]
    after = running(containers(service="web"))
    assert len(after) == 3 and not {r.pod for r in after} & {r.pod for r in before}
    assert len({r.revision for r in after}) == 1


# ------------------------------------------------------------------ 6. heal


def lb_servers(ssh: Ssh, section: str = "listen demo.web.8080") -> set[str]:
    """The server names (pod names) of one section of node1's haproxy.cfg."""
    config = ssh(LB, "cat", "/etc/haproxy/haproxy.cfg").stdout
    block = config.split(section + "\n", 1)[1].split("\n\n", 1)[0] if section in config else ""
    return {ln.split()[1] for ln in block.splitlines() if ln.strip().startswith("server ")}


def heal(fleet: VmFleet, blueprint: Path) -> CompletedProcess[str]:
    return fleet.run(
        "heal", "--lost-after", str(LOST_AFTER), "--timeout", "400", str(blueprint), timeout=600
    )


def test_heal_moves_replicas_off_a_halted_vm_and_the_count_is_exact_when_it_returns(
    fleet: VmFleet,
    applied: Applied,
    containers: Containers,
    vm_power: VmPower,
    vm: dict[str, str],
    ssh: Ssh,
) -> None:
    assert applied.done.returncode == 0, applied.done.stderr[-4000:]
    before = running(containers())
    assert exact(before), before
    victims = [r for r in before if r.host == VICTIM]
    assert victims, f"nothing runs on {VICTIM}: the test would prove nothing ({before})"
    others = [n for n in vm if n != VICTIM]
    kept = [r for r in before if r.host != VICTIM]

    vm_power.halt(VICTIM)
    halted = time.monotonic()
    first = heal(fleet, applied.blueprint)
    assert first.returncode == 3, first.stderr[-3000:]
    assert VICTIM in first.stdout + first.stderr
    # the grace period has only begun: nothing moves yet
    assert running(containers(others)) == kept

    # heal passes, as cron would run them, until the replicas run elsewhere and HAProxy routes
    # to them (a pass adds a replica that became ready after it ended to HAProxy the next time)
    def healed_and_routed(healed: list[Replica]) -> bool:
        web = {r.pod for r in healed if r.service == "web"}
        return exact(healed) and lb_servers(ssh) == web

    passes, deadline = 1, halted + 600
    while not healed_and_routed(healed := running(containers(others))):
        assert time.monotonic() < deadline, f"not healed after {passes} passes: {healed}"
        heal(fleet, applied.blueprint)
        passes += 1
    took = time.monotonic() - halted
    note(f"heal after `vagrant halt {VICTIM}`: {len(victims)} replicas moved in {took:.0f} s, "
         f"{passes} heal passes (--lost-after {LOST_AFTER})")  # fmt: skip
    assert {(r.service, r.replica) for r in victims} <= {(r.service, r.replica) for r in healed}
    assert all(r in healed for r in kept)  # the survivors were left alone
    # and HAProxy on node1 follows: every web replica answers, none from the halted VM
    web = {r.replica: r.host for r in healed if r.service == "web"}
    answers = [parse_body(get(lb_url(vm))[1]) for _ in range(9)]
    assert sorted({(a["replica"], a["host"]) for a in answers}) == sorted(web.items()), answers

    booted = time.monotonic()
    vm_power.up(VICTIM)  # waits until sshd (its known host key) and docker answer again
    back = heal(fleet, applied.blueprint)
    note(f"`vagrant up {VICTIM}` until docker answers: {time.monotonic() - booted:.0f} s "
         "(with one heal pass)")  # fmt: skip
    assert back.returncode == 0, back.stderr[-3000:]
    final = running(containers())
    assert exact(final), final
    assert final == healed  # the moved replicas stay; nothing new on the returned VM
    # the pods the halted VM still had (exited at boot: fleet runs no restart policy) are gone
    leftovers = [c for c in containers([VICTIM]) if c.get("fleet.app") == "demo"]
    assert leftovers == [], leftovers
