"""Removing lab hosts, or a whole lab, and everything they made.

Order matters: containers first (through each engine), then the daemons (by
the pids in their pidfiles and in lab.json, each checked against /proc), then
any process still living in a host's namespace or with its root inside the
lab directory, then mounts left under the host directory, then the namespace,
veth, files. A whole lab also loses its iptables rule and bridge.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fleet.errors import LabError
from fleet.lab import daemons, layout, netns, procs
from fleet.lab.dockerapi import DockerSocket
from fleet.lab.layout import LabPaths
from fleet.lab.record import Record
from fleet.lab.system import run, tool

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def host_indexes(paths: LabPaths, record: Record | None) -> set[int]:
    """Every host index the lab may have made: recorded, or found as netns or directory."""
    found: set[int] = set()
    if record is not None:
        found.update(range(1, record.params.hosts + 1))
        for entry in record.made("netns"):
            found.add(layout.host_index(str(entry["name"]).rsplit("-", 1)[-1]))
    prefix = f"fleet-{paths.name}-node"
    if netns.NETNS_DIR.is_dir():
        for path in netns.NETNS_DIR.iterdir():
            rest = path.name[len(prefix):]
            if path.name.startswith(prefix) and rest.isdigit():
                found.add(int(rest))
    if paths.dir.is_dir():
        for path in paths.dir.iterdir():
            if path.name.startswith("node") and path.name[4:].isdigit():
                found.add(int(path.name[4:]))
    return found


def _remove_containers(socket: Path) -> None:
    """`docker rm -f` every container; best effort (stopping dockerd stops them anyway)."""
    engine = DockerSocket(socket, timeout=30.0)
    if not engine.ping():
        return
    try:
        for container in engine.container_ids():
            engine.remove_container(container)
    except (LabError, OSError, ValueError):
        pass


def unmount_under(directory: Path) -> None:
    """Lazily unmount every mount point inside `directory`, deepest first."""
    prefix = str(directory).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # \040 etc.
        if point.startswith(prefix):
            points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        run([tool("umount"), "-l", point], check=False)


def remove_hosts(paths: LabPaths, record: Record | None, indexes: Iterable[int],
                 log: Log = _quiet) -> None:
    """Take down hosts `indexes` of the lab completely (idempotent, best effort, in parallel)."""
    indexes = sorted(set(indexes))
    if not indexes:
        return
    specs = {
        i: daemons.HostSpec(
            name=layout.host_name(i),
            address="",
            netns=layout.netns_name(paths.name, i),
            paths=paths.host(i),
            authorized_keys=paths.authorized_keys,
        )
        for i in indexes
    }
    workers = max(1, min(16, len(indexes)))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda s: _remove_containers(s.paths.docker_socket), specs.values()))

    # every daemon of every host at once: dockerd takes a moment to stop
    recorded = record.pids() if record is not None else {}
    pids: set[int] = set()
    for spec in specs.values():
        for pidfile in (spec.paths.sshd_pidfile, spec.paths.dockerd_pidfile,
                        spec.paths.haproxy_pidfile, spec.paths.containerd_pidfile):
            pid = procs.owned_pid(pidfile, spec.marker)
            if pid is not None:
                pids.add(pid)
        for key, pid in recorded.items():
            if key.split("/", 1)[0] == spec.name and procs.owned(pid, spec.marker):
                pids.add(pid)
    if pids:
        log(f"stopping {len(pids)} daemons")
        procs.terminate(pids, timeout=20.0)

    inodes = {
        ino for s in specs.values() if (ino := procs.netns_inode(netns.netns_path(s.netns)))
    }
    # A daemon an interrupted `up` was still starting (haproxy -D forks, dockerd's launcher)
    # can appear after a scan: scan again until one finds nothing.
    deadline = time.monotonic() + 10.0
    while True:
        running = procs.scan()
        leftovers: set[int] = set()
        for spec in specs.values():
            leftovers.update(procs.lab_processes(running, inodes, str(spec.paths.dir)))
            # also daemons whose namespace is already gone (an earlier teardown cut short):
            # their command line still names the host's directory
            leftovers.update(p.pid for p in running if procs.owned(p.pid, spec.marker))
        if not leftovers or time.monotonic() > deadline:
            break
        log(f"stopping {len(leftovers)} leftover processes")
        procs.terminate(leftovers, timeout=10.0)
        time.sleep(0.2)

    for i, spec in specs.items():
        unmount_under(spec.paths.dir)
        netns.delete_netns(spec.netns)
        veth = layout.veth_name(paths.name, i)
        netns.delete_link(veth)
        if record is not None:
            record.forget("netns", name=spec.netns)
            record.forget("veth", name=veth)
            for key in list(recorded):
                if key.split("/", 1)[0] == spec.name:
                    record.set_pid(key, None)
        shutil.rmtree(spec.paths.dir, ignore_errors=True)
        if spec.paths.dir.exists():
            raise LabError(f"could not remove {spec.paths.dir} (something still mounted there?)")


def remove_lab(paths: LabPaths, record: Record | None, log: Log = _quiet) -> None:
    """Take the whole lab down: hosts, iptables rule, bridge, directory."""
    indexes = host_indexes(paths, record)
    if indexes:
        log(f"lab {paths.name}: removing {len(indexes)} hosts")
    remove_hosts(paths, record, indexes, log)
    bridge = record.bridge if record is not None else layout.bridge_name(paths.name)
    rules = [list(e["rule"]) for e in record.made("iptables")] if record is not None else []
    default_rule = netns.forward_rule(bridge)
    if default_rule not in rules and (record is not None or netns.link_exists(bridge)):
        rules.append(default_rule)
    for rule in rules:
        netns.delete_rule(rule)
    # names with the lab's name in them are the lab's, recorded or not
    netns.delete_link(bridge)
    unmount_under(paths.dir)
    shutil.rmtree(paths.dir, ignore_errors=True)
    if paths.dir.exists():
        raise LabError(f"could not remove {paths.dir} (something still mounted there?)")
