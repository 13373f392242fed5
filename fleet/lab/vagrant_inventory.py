"""The VM tier's inventory, made from what the VMs told the hypervisor (pure).

Each VM prints its SSH host public keys to its serial console at boot
(vagrant/guest/fleet-guest-boot); QEMU writes that console to a file on this
machine. Those lines never cross the network, so a key read from there can be
trusted for the VM's first SSH connection: known_hosts is built from them.

    fleet-hostkeys-begin node1
    fleet-hostkey node1 ssh-ed25519 AAAAC3Nz...
    fleet-hostkey node1 ecdsa-sha2-nistp256 AAAAE2Vj...
    fleet-hostkeys-end node1 2

Only a complete block (begin, keys, end with the right count) for the expected
host name counts, and the last one wins (a VM prints it again at every boot).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
_BEGIN = re.compile(r"fleet-hostkeys-begin (?P<name>[a-z0-9-]+)$")
_KEY = re.compile(
    r"fleet-hostkey (?P<name>[a-z0-9-]+) (?P<type>[a-z0-9-]+) (?P<blob>[A-Za-z0-9+/=]+)$"
)
_END = re.compile(r"fleet-hostkeys-end (?P<name>[a-z0-9-]+) (?P<count>[0-9]+)$")


@dataclass(frozen=True)
class HostKey:
    """One SSH host public key: its type and base64 blob."""

    type: str
    blob: str

    def known_hosts_line(self, address: str) -> str:
        return f"{address} {self.type} {self.blob}"


@dataclass(frozen=True)
class Node:
    """One VM as the Vagrantfile defines it (vagrant/Vagrantfile writes nodes.json)."""

    name: str
    address: str
    roles: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    zone: str | None = None
    serial_log: str = ""


@dataclass(frozen=True)
class Nodes:
    """nodes.json: the box, the provider and the VMs of the last `vagrant` run."""

    box: str
    provider: str
    nodes: tuple[Node, ...]


def parse_nodes(text: str) -> Nodes:
    """Decode nodes.json as the Vagrantfile writes it."""
    data = json.loads(text)
    nodes = tuple(
        Node(
            name=str(n["name"]),
            address=str(n["address"]),
            roles=tuple(str(r) for r in n.get("roles", [])),
            labels={str(k): str(v) for k, v in n.get("labels", {}).items()},
            zone=n.get("zone"),
            serial_log=str(n.get("serial_log", "")),
        )
        for n in data["nodes"]
    )
    return Nodes(box=str(data.get("box", "")), provider=str(data.get("provider", "")), nodes=nodes)


def _valid_blob(key_type: str, blob: str) -> bool:
    # the blob starts with its own type as an SSH string: a cut or garbled line fails here
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 4:
        return False
    length = int.from_bytes(raw[:4], "big")
    return raw[4 : 4 + length] == key_type.encode()


def parse_host_keys(console: str, name: str) -> list[HostKey]:
    """The host keys of `name` from its serial console text: the last complete block, or []."""
    found: list[HostKey] = []
    current: list[HostKey] | None = None
    for raw_line in console.splitlines():
        line = raw_line.strip("\r\n\x00 ")
        if (m := _BEGIN.search(line)) is not None:
            current = [] if m["name"] == name else None
            continue
        if current is None:
            continue
        if (m := _KEY.search(line)) is not None:
            if m["name"] == name and m["type"] in KEY_TYPES and _valid_blob(m["type"], m["blob"]):
                current.append(HostKey(m["type"], m["blob"]))
            else:
                current = None  # a key line that does not check out spoils the block
            continue
        if (m := _END.search(line)) is not None:
            if m["name"] == name and int(m["count"]) == len(current) and current:
                found = current
            current = None
    return found


def known_hosts(keys: dict[str, tuple[Node, list[HostKey]]]) -> str:
    """known_hosts text: every key of every node, under the node's address."""
    lines = [
        key.known_hosts_line(node.address) for node, host_keys in keys.values() for key in host_keys
    ]
    return "".join(line + "\n" for line in lines)


def inventory_document(
    nodes: Nodes, identity: str, known_hosts_path: str, name: str = "vagrant"
) -> dict[str, Any]:
    """The VMs as a fleet inventory (fleet/v1) in plain data, in the order it is written."""
    hosts: list[dict[str, Any]] = []
    for node in nodes.nodes:
        entry: dict[str, Any] = {"name": node.name, "address": node.address}
        if node.zone:
            entry["zone"] = node.zone
        if node.labels:
            entry["labels"] = dict(node.labels)
        if node.roles:
            entry["roles"] = list(node.roles)
        hosts.append(entry)
    return {
        "apiVersion": "fleet/v1",
        "kind": "Inventory",
        "name": name,
        "defaults": {
            "user": "fleet",
            "identity": identity,
            "known_hosts": known_hosts_path,
            "engine": "docker",
            # software-emulated VMs are slow: a `docker run` alone takes ~10 s under TCG, and
            # while another VM boots, observing one (fleet allows twice the connect timeout,
            # the round trip what is left after connecting) took more than 15 s
            "connect_timeout": "30s",
            "command_timeout": "300s",
            # Debian's systemd unit runs HAProxy master-worker; its master socket is root's,
            # so fleet reloads through systemd, with sudo (vagrant/guest/sudoers-fleet)
            "haproxy": {"config": "/etc/haproxy/haproxy.cfg", "reload": "systemd", "sudo": True},
        },
        "hosts": hosts,
    }


def render_inventory(document: dict[str, Any], vagrant_dir: str) -> str:
    """inventory.yaml text with a header saying where it came from."""
    header = (
        "# Inventory of fleet's VM tier: Vagrant VMs (vagrant/Vagrantfile).\n"
        "# Written by `fleet lab vagrant up`; known_hosts holds the keys each VM printed to its\n"
        f"# serial console at boot. State: {vagrant_dir}\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)


def parse_status(machine_readable: str) -> dict[str, str]:
    """`vagrant status --machine-readable` -> {machine: state} (running, shutoff, ...)."""
    states: dict[str, str] = {}
    for line in machine_readable.splitlines():
        parts = line.split(",", 3)
        if len(parts) == 4 and parts[2] == "state" and parts[1]:
            states[parts[1]] = parts[3].strip()
    return states
