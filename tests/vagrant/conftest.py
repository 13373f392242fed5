"""The VM tier: fleet against real Debian VMs (Vagrant), brought up ONCE per session.

Which VMs:
- $FLEET_TEST_VAGRANT_INVENTORY set: the VMs of that inventory, already running
  (scripts/test-vagrant.sh brings them up and down around pytest); nothing is
  started or destroyed here.
- $FLEET_TEST_VAGRANT=1: this session brings 3 VMs up (`fleet lab vagrant up`)
  and destroys them at its end, also when tests fail.
- neither: every test here is skipped (the tier takes minutes and a lot of CPU).
On a machine that cannot run VMs at all the tests skip with "skipped: <reason>".

Fixtures for tests (add new tiers of tests on top of these):
    vagrant_lab        VagrantLab (state dir, env, node names)
    vagrant_inventory  Path of the generated inventory.yaml (pass it to `fleet -i`)
    inventory          the loaded fleet Inventory
    vm                 {name: address}
    ssh(node, *words)  OpenSSH as user fleet, host key checked (StrictHostKeyChecking yes)
    vagrant(*args)     `vagrant ARGS` against these VMs (CompletedProcess)
    vm_power           .halt(node) / .up(node): a node halted in a test is booted again
                       at the test's end even when the test fails
    fleet              the real `fleet` CLI with the VMs' inventory and a private local store
                       (FLEET_STATE_DIR) for the whole session; fleet containers and volumes
                       left on the VMs by an earlier session are removed first
    containers(...)    fleet's containers on the VMs, from docker itself (not from fleet)
    note(text)         a line for the tier's summary at the end of the run (rates, timings)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fleet.lab import vagrant as vl
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory

INVENTORY_ENV = "FLEET_TEST_VAGRANT_INVENTORY"
OPT_IN_ENV = "FLEET_TEST_VAGRANT"

Ssh = Callable[..., subprocess.CompletedProcess[str]]


def _loud_skip(reason: str) -> None:
    # visible with or without -rs: the CI log must say why the tier did not run
    print(f"\nvagrant tier skipped: {reason}", flush=True)
    pytest.skip(f"skipped: {reason}")


@pytest.fixture(scope="session")
def vagrant_lab() -> Iterator[vl.VagrantLab]:
    given = os.environ.get(INVENTORY_ENV)
    if given:
        # the inventory lives in the lab's state folder; its settings.json names the VM count
        os.environ.setdefault(vl.STATE_ENV, str(Path(given).resolve().parent))
        lab = vl.lab_from_env()
        if not lab.inventory.exists():
            pytest.fail(f"${INVENTORY_ENV}={given}: no inventory there")
        yield lab
        return
    if os.environ.get(OPT_IN_ENV) != "1":
        _loud_skip(
            f"the VM tier is opt-in: run scripts/test-vagrant.sh, or set {OPT_IN_ENV}=1 "
            f"(VMs up for this session) or {INVENTORY_ENV}=PATH (VMs already up)"
        )
    lab = vl.lab_from_env(vms=int(os.environ.get("VMS", "3")))
    reason = vl.cannot_run_vms(lab)
    if reason is not None:
        _loud_skip(reason)
    try:
        # an infrastructure failure errors every test: on a VM-capable machine it must work
        vl.up(lab)
        yield lab
    finally:
        vl.down(lab)


@pytest.fixture(scope="session")
def vagrant_inventory(vagrant_lab: vl.VagrantLab) -> Path:
    return vagrant_lab.inventory


@pytest.fixture(scope="session")
def inventory(vagrant_inventory: Path) -> Inventory:
    return load_inventory(vagrant_inventory)


@pytest.fixture(scope="session")
def vm(inventory: Inventory) -> dict[str, str]:
    return {host.name: host.address for host in inventory}


@pytest.fixture(scope="session")
def ssh(vagrant_lab: vl.VagrantLab, vm: dict[str, str]) -> Ssh:
    """ssh(node, *words, check=True, timeout=120, user="fleet", input=None)."""

    def run(
        node: str,
        *words: str,
        check: bool = True,
        timeout: float = 120,
        user: str = "fleet",
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            vl.ssh_argv(vagrant_lab, vm[node], *words, user=user),
            capture_output=True, text=True, timeout=timeout, input=input,
            stdin=None if input is not None else subprocess.DEVNULL, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(
                f"{node}: `{' '.join(words)}` exited {done.returncode}\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )
        return done

    return run


@pytest.fixture(scope="session")
def vagrant(vagrant_lab: vl.VagrantLab) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return vl.vagrant(vagrant_lab, *args, timeout=timeout)

    return run


class VmPower:
    """Halt and boot VMs in a test; whatever is still halted at the end is booted again."""

    def __init__(self, lab: vl.VagrantLab) -> None:
        self.lab = lab
        self.halted: set[str] = set()

    def halt(self, node: str) -> None:
        self.halted.add(node)
        vl.halt(self.lab, node)

    def up(self, node: str) -> None:
        vl.start(self.lab, node)
        self.halted.discard(node)

    def restore(self) -> None:
        for node in sorted(self.halted):
            self.up(node)


@pytest.fixture
def vm_power(vagrant_lab: vl.VagrantLab) -> Iterator[VmPower]:
    power = VmPower(vagrant_lab)
    try:
        yield power
    finally:
        power.restore()


# ------------------------------------------------------------------ fleet against the VMs

NOTES: list[str] = []


def note(text: str) -> None:
    """A line for the summary at the end of the run (measured rates and durations)."""
    NOTES.append(text)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if NOTES:
        terminalreporter.section("vagrant tier: measured")
        for line in NOTES:
            terminalreporter.write_line(line)


@dataclass
class VmFleet:
    """`fleet ...` as a subprocess: the VMs' inventory, one local store for the session."""

    inventory: Path
    state: Path
    log: list[tuple[str, float, int]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLEET_INVENTORY": str(self.inventory),
            "FLEET_STATE_DIR": str(self.state),
            "COLUMNS": "160",
        }

    def run(self, *args: str, timeout: float = 900.0) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            capture_output=True, text=True, env=self.env(), timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        self.log.append((" ".join(args[:2]), time.monotonic() - started, done.returncode))
        return done

    def json(self, *args: str, timeout: float = 900.0) -> dict[str, Any]:
        done = self.run(*args, "--output", "json", timeout=timeout)
        assert done.stdout, (
            f"no JSON from fleet {' '.join(args)} (exit {done.returncode}): {done.stderr[-3000:]}"
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]


Containers = Callable[..., list[dict[str, str]]]


def _clean_vm(ssh: Ssh, node: str) -> None:
    script = (
        "ids=$(docker ps -aq --filter label=fleet.managed=true); "
        '[ -z "$ids" ] || docker rm -f $ids >/dev/null; '
        "vols=$(docker volume ls -q | grep -E '^fleet(-tmp)?\\.' || true); "
        '[ -z "$vols" ] || docker volume rm -f $vols >/dev/null; '
        "rm -rf ~/.fleet/cordon ~/.fleet/lock"
    )
    ssh(node, script, timeout=300)


@pytest.fixture(scope="session")
def fleet(
    vagrant_inventory: Path, ssh: Ssh, vm: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> VmFleet:
    # VMs kept from an earlier run (KEEP_VMS=1) may still carry its containers: start clean
    with ThreadPoolExecutor(len(vm)) as pool:
        list(pool.map(lambda node: _clean_vm(ssh, node), vm))
    return VmFleet(vagrant_inventory, tmp_path_factory.mktemp("fleet-state"))


@pytest.fixture(scope="session")
def containers(ssh: Ssh, vm: dict[str, str]) -> Containers:
    """containers(nodes=None, **labels) -> [{host, name, state, fleet.* labels...}] of fleet's
    containers on the VMs (all, or `nodes`), straight from each VM's docker."""

    def listing(node: str, labels: dict[str, str]) -> list[dict[str, str]]:
        filters = ["--filter", "label=fleet.managed=true"]
        for key, value in labels.items():
            filters += ["--filter", f"label=fleet.{key}={value}"]
        done = ssh(node, "docker", "ps", "-a", *filters, "--format", "'{{json .}}'")
        out = []
        for line in done.stdout.splitlines():
            row = json.loads(line)
            pairs = dict(
                item.split("=", 1) for item in row.get("Labels", "").split(",") if "=" in item
            )
            out.append({"host": node, "name": row["Names"], "state": row["State"], **pairs})
        return out

    def run(nodes: list[str] | None = None, **labels: str) -> list[dict[str, str]]:
        chosen = nodes if nodes is not None else list(vm)
        with ThreadPoolExecutor(len(chosen)) as pool:
            found = pool.map(lambda node: listing(node, labels), chosen)
        return [row for rows in found for row in rows]

    return run
