"""The lab's network: a bridge, one network namespace + veth per host, one iptables rule.

Every function is idempotent: making something that exists, or removing
something that is gone, does nothing. The namespaces get no default route, so
nothing inside a lab can reach beyond the lab's own /24.
"""

from __future__ import annotations

from pathlib import Path

from fleet.lab.system import ok, run, tool

NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")


def link_exists(name: str) -> bool:
    return (SYS_NET / name).exists()


def netns_path(netns: str) -> Path:
    return NETNS_DIR / netns


def netns_exists(netns: str) -> bool:
    return netns_path(netns).exists()


def forward_rule(bridge: str) -> list[str]:
    """The FORWARD rule letting lab hosts talk to each other across the bridge (with
    br_netfilter loaded, bridged traffic passes the host's FORWARD chain)."""
    return ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def ensure_bridge(bridge: str, address: str) -> None:
    """The bridge, up, with the lab's gateway-less address (so the machine reaches hosts)."""
    ip = tool("ip")
    if not link_exists(bridge):
        run([ip, "link", "add", bridge, "type", "bridge"])
    run([ip, "addr", "replace", f"{address}/24", "dev", bridge])
    run([ip, "link", "set", bridge, "up"])


def delete_link(name: str) -> None:
    if link_exists(name):
        run([tool("ip"), "link", "del", name], check=False)


def ensure_rule(rule: list[str]) -> None:
    iptables = tool("iptables")
    if not ok([iptables, "-w", "-C", *rule]):
        run([iptables, "-w", "-I", rule[0], "1", *rule[1:]])


def delete_rule(rule: list[str]) -> None:
    """Remove every copy of the rule (an interrupted run may have added it twice)."""
    iptables = tool("iptables")
    for _ in range(16):
        if not ok([iptables, "-w", "-C", *rule]):
            return
        run([iptables, "-w", "-D", *rule], check=False)


def ensure_netns(netns: str) -> None:
    if not netns_exists(netns):
        run([tool("ip"), "netns", "add", netns])


def delete_netns(netns: str) -> None:
    if netns_exists(netns):
        run([tool("ip"), "netns", "del", netns], check=False)
    # a stale file without a mount (machine rebooted) is removed by hand
    netns_path(netns).unlink(missing_ok=True)


def ensure_veth(veth: str, netns: str, bridge: str, address: str) -> None:
    """veth pair: `veth` on the bridge, `eth0` with `address`/24 inside the namespace."""
    ip = tool("ip")
    if not link_exists(veth):
        run([ip, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run([ip, "link", "set", veth, "master", bridge, "up"])
    run([ip, "-n", netns, "link", "set", "lo", "up"])
    run([ip, "-n", netns, "addr", "replace", f"{address}/24", "dev", "eth0"])
    run([ip, "-n", netns, "link", "set", "eth0", "up"])


def set_link(veth: str, up: bool) -> None:
    """Take a host off the bridge (down) or put it back (up)."""
    run([tool("ip"), "link", "set", veth, "up" if up else "down"])


def link_is_up(veth: str) -> bool:
    try:
        flags = int((SYS_NET / veth / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return False
    return bool(flags & 0x1)  # IFF_UP


def interface_addresses() -> list[str]:
    """Every IPv4 address on the machine's interfaces, as `a.b.c.d/len`."""
    out = run([tool("ip"), "-4", "-o", "addr", "show"], check=False).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            found.append(parts[parts.index("inet") + 1])
    return found
