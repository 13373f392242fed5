"""The VM tier's inventory from serial-console host keys (fleet.lab.vagrant_inventory)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fleet.lab import vagrant_inventory as vi
from fleet.spec.inventory import Inventory, InventoryDocument

# real keys printed by a VM (public keys: nothing secret)
ED = "AAAAC3NzaC1lZDI1NTE5AAAAIN8rqpBcqi6zG3b0i/XbfUj5UBSEvHWRBuTPCRYs0ped"
EC = (
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLzCDPqU51ofpo4nFG1VBECntMgWqGfk1Wz6"
    "GFhl9uebLif37pwOWEhKtxI9+Iml4U+kdtSnkjyYLaUJkSwdxYE="
)
ED2 = "AAAAC3NzaC1lZDI1NTE5AAAAIGj9CJs/ZL5XehPVGzzgJVGPz01NefpRaI/5Uijft4BL"


def block(name: str, keys: list[tuple[str, str]], count: int | None = None) -> str:
    lines = [f"fleet-hostkeys-begin {name}"]
    lines += [f"fleet-hostkey {name} {t} {b}" for t, b in keys]
    lines.append(f"fleet-hostkeys-end {name} {len(keys) if count is None else count}")
    return "\r\n".join(lines) + "\r\n"


def test_keys_come_from_a_complete_block_amid_console_noise() -> None:
    console = (
        "[    1.2] Linux version 6.1.0\r\nSELinux: nothing\r\n"
        + block("node1", [("ssh-ed25519", ED), ("ecdsa-sha2-nistp256", EC)])
        + "\r\nDebian GNU/Linux 12 node1 ttyS0\r\n\r\nnode1 login: "
    )
    assert vi.parse_host_keys(console, "node1") == [
        vi.HostKey("ssh-ed25519", ED),
        vi.HostKey("ecdsa-sha2-nistp256", EC),
    ]


def test_another_hosts_block_does_not_count() -> None:
    assert vi.parse_host_keys(block("node2", [("ssh-ed25519", ED)]), "node1") == []
    # a key line naming another host inside node1's block spoils the block
    mixed = block("node1", [("ssh-ed25519", ED)]).replace("hostkey node1", "hostkey node2")
    assert vi.parse_host_keys(mixed, "node1") == []


def test_an_incomplete_or_miscounted_block_does_not_count() -> None:
    whole = block("node1", [("ssh-ed25519", ED), ("ecdsa-sha2-nistp256", EC)])
    cut = whole[: whole.index("fleet-hostkeys-end")]
    assert vi.parse_host_keys(cut, "node1") == []
    assert vi.parse_host_keys(block("node1", [("ssh-ed25519", ED)], count=2), "node1") == []
    assert vi.parse_host_keys(block("node1", [], count=0), "node1") == []


def test_a_garbled_or_mistyped_key_spoils_the_block() -> None:
    garbled = ED[:8] + "b" + ED[9:]  # still base64, but no longer starts with its type
    assert vi.parse_host_keys(block("node1", [("ssh-ed25519", garbled)]), "node1") == []
    assert vi.parse_host_keys(block("node1", [("ecdsa-sha2-nistp256", ED)]), "node1") == []
    assert vi.parse_host_keys(block("node1", [("ssh-dss", ED)]), "node1") == []


def test_the_last_complete_block_wins() -> None:
    console = (
        block("node1", [("ssh-ed25519", ED)])
        + "reboot\r\n"
        + block("node1", [("ssh-ed25519", ED2)])
    )
    assert vi.parse_host_keys(console, "node1") == [vi.HostKey("ssh-ed25519", ED2)]
    # a later, cut-off block leaves the last complete one in force
    partial = console + "fleet-hostkeys-begin node1\r\nfleet-hostkey node1 ssh-ed25519 AAAA"
    assert vi.parse_host_keys(partial, "node1") == [vi.HostKey("ssh-ed25519", ED2)]


NODES_JSON = json.dumps(
    {
        "box": "fleet/bookworm-a04e479dc265",
        "provider": "libvirt",
        "nodes": [
            {"name": "node1", "address": "192.168.122.11", "roles": ["lb"],
             "labels": {"lab": "vagrant"}, "zone": "a", "serial_log": "/s/node1.log"},
            {"name": "node2", "address": "192.168.122.12", "roles": [],
             "labels": {"lab": "vagrant"}, "zone": "b", "serial_log": "/s/node2.log"},
        ],
    }
)  # fmt: skip


def test_known_hosts_lists_every_key_under_the_nodes_address() -> None:
    nodes = vi.parse_nodes(NODES_JSON)
    keys = {
        "node1": (
            nodes.nodes[0],
            [vi.HostKey("ssh-ed25519", ED), vi.HostKey("ecdsa-sha2-nistp256", EC)],
        ),
        "node2": (nodes.nodes[1], [vi.HostKey("ssh-ed25519", ED2)]),
    }
    assert vi.known_hosts(keys).splitlines() == [
        f"192.168.122.11 ssh-ed25519 {ED}",
        f"192.168.122.11 ecdsa-sha2-nistp256 {EC}",
        f"192.168.122.12 ssh-ed25519 {ED2}",
    ]


def test_the_inventory_is_valid_and_uses_the_non_root_user(tmp_path: Path) -> None:
    nodes = vi.parse_nodes(NODES_JSON)
    document = vi.inventory_document(nodes, "/state/id_ed25519", "/state/known_hosts")
    text = vi.render_inventory(document, "/state")
    assert text.startswith("# Inventory of fleet's VM tier")
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    inventory = Inventory(InventoryDocument.model_validate(yaml.safe_load(text)), path)
    node1, node2 = inventory.host("node1"), inventory.host("node2")
    assert node1.is_lb and not node2.is_lb
    assert (node1.user, node1.address, node1.zone) == ("fleet", "192.168.122.11", "a")
    assert node1.known_hosts == Path("/state/known_hosts")
    assert node1.haproxy.sudo and node1.haproxy.reload == "systemd"
    assert node1.haproxy.config == "/etc/haproxy/haproxy.cfg"
    assert node2.labels == {"lab": "vagrant"}


def test_vagrant_status_machine_readable() -> None:
    output = (
        "1700000000,node1,metadata,provider,libvirt\n"
        "1700000000,node1,provider-name,libvirt\n"
        "1700000000,node1,state,running\n"
        "1700000000,node2,state,shutoff\n"
        "1700000000,node3,state,not_created\n"
        "1700000000,,ui,info,Current machine states:\n"
    )
    assert vi.parse_status(output) == {
        "node1": "running",
        "node2": "shutoff",
        "node3": "not_created",
    }
