"""The files a lab writes for fleet and OpenSSH: inventory.yaml and known_hosts (pure)."""

from __future__ import annotations

from typing import Any

import yaml

from fleet.lab import layout
from fleet.lab.model import Shape

ZONES = ("a", "b", "c")


def inventory_document(shape: Shape) -> dict[str, Any]:
    """The lab's inventory (fleet/v1) as plain data, in the order it is written."""
    paths = shape.paths
    hosts: list[dict[str, Any]] = []
    for index in shape.indexes:
        host = shape.lab_host(index)
        entry: dict[str, Any] = {
            "name": host.name,
            "address": host.address,
            "zone": ZONES[(index - 1) % len(ZONES)],
            "labels": {"lab": shape.name},
        }
        if host.is_lb:
            entry["roles"] = ["lb"]
        entry["capacity"] = {"cpu": shape.params.cpu, "memory": shape.params.memory}
        if host.is_lb:
            entry["haproxy"] = {
                "config": str(host.haproxy_config),
                "reload": "master-socket",
                "master_socket": str(host.haproxy_master_socket),
            }
        hosts.append(entry)
    return {
        "apiVersion": "fleet/v1",
        "kind": "Inventory",
        "name": shape.name,
        "defaults": {
            "user": "root",
            "identity": str(paths.key),
            "known_hosts": str(paths.known_hosts),
        },
        "hosts": hosts,
    }


def render_inventory(shape: Shape) -> str:
    """inventory.yaml of the lab; the same shape always gives the same bytes."""
    header = (
        f"# Inventory of the local lab {shape.name} ({shape.params.hosts} hosts on "
        f"{layout.subnet(shape.octet)}).\n"
        f"# Written by `fleet lab up --name {shape.name}` and rewritten on every `up`; "
        "the key and\n# known_hosts it names are the lab's own.\n"
    )
    body = yaml.safe_dump(
        inventory_document(shape), sort_keys=False, default_flow_style=False, width=200
    )
    return header + body


def render_known_hosts(shape: Shape, public_keys: dict[str, str]) -> str:
    """known_hosts with each host's key under its address and under its name.

    `public_keys` maps host name to the `type base64` part of its public host key.
    """
    lines = []
    for index in shape.indexes:
        host = shape.lab_host(index)
        key = public_keys[host.name]
        lines.append(f"{host.address} {key}")
        lines.append(f"{host.name} {key}")
    return "\n".join(lines) + "\n"
