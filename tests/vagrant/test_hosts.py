"""The VMs are hosts the way fleet expects real hosts to be: reachable over SSH as a
non-root user with a verified host key, Docker usable by that user, HAProxy run by
systemd (master-worker), and sudo for exactly HAProxy's config, check and reload."""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fleet.lab import vagrant as vl
from fleet.spec.inventory import Inventory

from .conftest import Ssh

pytestmark = pytest.mark.vagrant

CFG = "/etc/haproxy/haproxy.cfg"


def test_inventory_describes_the_vms(inventory: Inventory, vagrant_lab: vl.VagrantLab) -> None:
    names = [host.name for host in inventory]
    assert names == vagrant_lab.node_names()
    assert [h.name for h in inventory.lb_hosts] == ["node1"]
    for host in inventory:
        assert host.user == "fleet"
        assert host.haproxy.sudo and host.haproxy.reload == "systemd"
        assert host.known_hosts is not None and host.identity is not None
        lines = [
            ln
            for ln in host.known_hosts.read_text().splitlines()
            if ln.startswith(f"{host.address} ")
        ]
        assert {ln.split()[1] for ln in lines} >= {"ssh-ed25519"}, f"{host.name}: no ed25519 key"


def test_each_vm_answers_as_fleet_with_its_own_name(ssh: Ssh, vm: dict[str, str]) -> None:
    for node in vm:
        done = ssh(node, "id", "-un", ";", "hostname")
        assert done.stdout.split() == ["fleet", node]


def test_a_wrong_host_key_is_refused(
    vagrant_lab: vl.VagrantLab, vm: dict[str, str], tmp_path: Path
) -> None:
    # node2's keys filed under node1's address: OpenSSH must refuse node1 (checking is on)
    nodes = list(vm)
    real = vagrant_lab.known_hosts.read_text().splitlines()
    other = [ln for ln in real if ln.startswith(f"{vm[nodes[1]]} ")]
    forged = tmp_path / "known_hosts"
    forged.write_text("".join(f"{vm[nodes[0]]} {ln.split(' ', 1)[1]}\n" for ln in other))
    argv = vl.ssh_argv(vagrant_lab, vm[nodes[0]], "true")
    argv[argv.index(f"UserKnownHostsFile={vagrant_lab.known_hosts}")] = (
        f"UserKnownHostsFile={forged}"
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 255
    assert "host key" in done.stderr.lower(), done.stderr


def test_the_private_network_joins_the_vms(ssh: Ssh, vm: dict[str, str]) -> None:
    first, *others = list(vm)
    for node in others:
        ssh(first, "ping", "-c", "1", "-W", "5", vm[node])


def test_docker_runs_containers_for_the_fleet_user(ssh: Ssh, vm: dict[str, str]) -> None:
    # no registry: an image made inside each VM from its own dash binary
    script = (
        "set -e; d=$(mktemp -d); "
        "tar -C / -chf $d/mini.tar usr/bin/dash lib/x86_64-linux-gnu/libc.so.6 "
        "lib64/ld-linux-x86-64.so.2 2>/dev/null; "
        "docker import $d/mini.tar fleet-test/mini:1 >/dev/null; rm -rf $d; "
        "docker run --rm fleet-test/mini:1 "
        "/usr/bin/dash -c 'read h < /proc/sys/kernel/hostname; echo hello from $h'; "
        "docker rmi fleet-test/mini:1 >/dev/null"
    )
    with ThreadPoolExecutor(len(vm)) as pool:
        results = dict(zip(vm, pool.map(lambda n: ssh(n, script, timeout=300), vm), strict=True))
    for node, done in results.items():
        # the container's hostname is its own id, not the VM's
        assert re.fullmatch(r"hello from [0-9a-f]{12}\n", done.stdout), f"{node}: {done.stdout!r}"
        server = ssh(node, "docker", "version", "--format", "{{.Server.Version}}").stdout.strip()
        assert server, f"{node}: no docker server version"


def test_haproxy_runs_master_worker_under_systemd(ssh: Ssh, vm: dict[str, str]) -> None:
    for node in vm:
        assert ssh(node, "systemctl", "is-active", "haproxy").stdout.strip() == "active"
        main = ssh(
            node, "systemctl", "show", "--property=MainPID", "--value", "haproxy"
        ).stdout.strip()
        argv = ssh(node, "cat", f"/proc/{int(main)}/cmdline").stdout.split("\0")
        assert argv[0] == "/usr/sbin/haproxy" and "-Ws" in argv, f"{node}: {argv}"


def test_sudo_allows_haproxy_check_and_reload_and_nothing_else(ssh: Ssh) -> None:
    assert "valid" in ssh("node1", "sudo", "-n", "haproxy", "-c", "-f", CFG).stdout
    main = ssh("node1", "systemctl", "show", "--property=MainPID", "--value", "haproxy").stdout
    ssh("node1", "sudo", "-n", "systemctl", "reload", "haproxy")
    after = ssh("node1", "systemctl", "show", "--property=MainPID", "--value", "haproxy").stdout
    assert after == main, "a reload must keep the master process (seamless reload)"
    for words in (
        ("sudo", "-n", "cat", "/etc/shadow"),
        ("sudo", "-n", "haproxy", "-c", "-f", "/etc/shadow"),
        ("sudo", "-n", "tee", "/etc/motd"),
        ("sudo", "-n", "mv", "-f", "/tmp/x", CFG),
        ("sudo", "-n", "systemctl", "stop", "haproxy"),
        ("sudo", "-n", "-s"),
    ):
        done = ssh("node1", *words, check=False, input="")
        assert done.returncode != 0, f"sudo allowed {' '.join(words)}"
        assert "password is required" in done.stderr, done.stderr


def test_a_config_written_through_sudo_serves_traffic(ssh: Ssh, vm: dict[str, str]) -> None:
    # the write path fleet's HAProxy management uses as a non-root user: stage, check, keep the
    # previous version, move into place, reload through systemd
    frontend = (
        "\nfrontend fleet_vm_test\n"
        "    bind :18404\n"
        "    mode http\n"
        '    http-request return status 200 content-type text/plain string "served by node1"\n'
    )
    current = ssh("node1", "cat", CFG).stdout
    try:
        ssh("node1", "sudo", "-n", "tee", f"{CFG}.fleet-test", input=current + frontend)
        ssh("node1", "sudo", "-n", "haproxy", "-c", "-f", f"{CFG}.fleet-test")
        ssh("node1", "sudo", "-n", "cp", "-p", CFG, f"{CFG}.prev")
        ssh("node1", "sudo", "-n", "mv", "-f", f"{CFG}.fleet-test", CFG)
        ssh("node1", "sudo", "-n", "systemctl", "reload", "haproxy")
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(
                ["curl", "-sS", "--max-time", "5", f"http://{vm['node1']}:18404/"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the reload finishes asynchronously; wait for the listener
        assert done.stdout == "served by node1", done.stderr
    finally:
        ssh("node1", "sudo", "-n", "tee", CFG, input=current, check=False)
        ssh("node1", "sudo", "-n", "rm", "-f", f"{CFG}.fleet-test", check=False)
        ssh("node1", "sudo", "-n", "systemctl", "reload", "haproxy", check=False)
