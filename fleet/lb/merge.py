"""Several applications share the lb hosts' HAProxy: keep the others' frontends (pure).

A run renders the `listen` sections of the applications it was given; the
sections of every other application are taken over verbatim from the config
live on the host, so applying one blueprint never takes another's services
off the load balancer. Two applications binding one port is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleet.errors import HAProxyConfigError

_LISTEN = re.compile(r"listen ([a-z0-9-]+)\.([a-z0-9-]+)\.([0-9]+)")
_BIND = re.compile(r"\s+bind \S*:([0-9]+)")


@dataclass(frozen=True)
class Block:
    app: str
    name: str
    port: int
    text: str


def listen_blocks(config: str) -> list[Block]:
    """Every fleet `listen <app>.<service>.<port>` section of a config, verbatim."""
    blocks: list[Block] = []
    lines = config.splitlines()
    i = 0
    while i < len(lines):
        match = _LISTEN.fullmatch(lines[i].strip()) if not lines[i][:1].isspace() else None
        if match is None:
            i += 1
            continue
        body = [lines[i]]
        i += 1
        while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
            body.append(lines[i])
            i += 1
        ports = [int(m.group(1)) for line in body if (m := _BIND.match(line))]
        blocks.append(
            Block(
                match.group(1),
                match.group(2),
                ports[0] if ports else int(match.group(3)),
                "\n".join(body),
            )
        )
    return blocks


def merge(rendered: str, live: str | None, apps: frozenset[str], host: str) -> str:
    """`rendered` (this run's apps) plus the other apps' sections from `live`."""
    if not live:
        return rendered
    ours = {b.port: b for b in listen_blocks(rendered)}
    foreign = sorted(
        (b for b in listen_blocks(live) if b.app not in apps), key=lambda b: (b.port, b.app)
    )
    for block in foreign:
        clash = ours.get(block.port)
        if clash is not None:
            raise HAProxyConfigError(
                f"{host}: port {block.port} is used by service {block.name} of application "
                f"{block.app}; {clash.name} of {clash.app} cannot listen there too"
            )
    if not foreign:
        return rendered
    return rendered.rstrip("\n") + "\n\n" + "\n\n".join(b.text for b in foreign) + "\n"
