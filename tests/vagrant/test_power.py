"""A VM shut down with `vagrant halt` is gone from the network, and after `vagrant up` it is
back as the same host: same address, same host key (the generated known_hosts still
verifies it), Docker answering. The heal tests rely on exactly this."""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

import pytest

from fleet.lab import vagrant_inventory as vi

from .conftest import Ssh, VmPower

pytestmark = pytest.mark.vagrant


def test_a_halted_vm_leaves_and_returns_as_the_same_host(
    vm_power: VmPower,
    ssh: Ssh,
    vm: dict[str, str],
    vagrant: Callable[..., CompletedProcess[str]],
) -> None:
    node = list(vm)[-1]  # never the lb host: traffic tests keep going through node1
    key_before = ssh(node, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2]

    vm_power.halt(node)
    states = vi.parse_status(vagrant("status", node, "--machine-readable").stdout)
    assert states[node] in ("shutoff", "poweroff"), states
    gone = ssh(node, "true", check=False, timeout=60)
    assert gone.returncode == 255, f"{node} still answers after halt"

    vm_power.up(node)  # waits until sshd (host key checked) and docker answer again
    assert ssh(node, "hostname").stdout.strip() == node
    assert ssh(node, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2] == key_before
    assert ssh(node, "systemctl", "is-active", "docker", "haproxy").stdout.split() == [
        "active",
        "active",
    ]
