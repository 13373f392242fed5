"""Bringing a lab up, taking it down, and finding it again.

`up` is idempotent: it makes what is missing and restarts daemons that died.
Every resource is noted in lab.json before it is made, so `down` cleans up
after any interrupted `up`. One lab at a time per name (a lock file), and the
choice of a lab's /24 is serialised across labs.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fleet.errors import LabError
from fleet.lab import daemons, images, layout, netns, teardown
from fleet.lab.inventory import render_inventory, render_known_hosts
from fleet.lab.model import LabInfo, Shape
from fleet.lab.push import push_bundle
from fleet.lab.record import Params, Record
from fleet.lab.system import preflight, require_root, run, tool
from fleet.spec.quantity import QuantityError, parse_cpu, parse_memory

Log = Callable[[str], None]
T = TypeVar("T")


def _quiet(_: str) -> None:
    pass


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock held for the block (waits for other fleet processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def parallel(items: list[int], work: Callable[[int], T], limit: int = 16) -> list[T]:
    """Run `work` for every host index in threads; once all ended, one LabError naming
    every host that failed."""
    if not items:
        return []
    results: list[T] = []
    errors: list[str] = []
    with ThreadPoolExecutor(max(1, min(limit, len(items)))) as pool:
        futures = [(i, pool.submit(work, i)) for i in items]
        for i, future in futures:
            try:
                results.append(future.result())
            except (LabError, OSError) as exc:
                errors.append(f"{layout.host_name(i)}: {exc}")
    if errors:
        raise LabError("; ".join(errors))
    return results


def check_params(name: str, hosts: int, lb: int, cpu: str, memory: str) -> Params:
    """Validate what `up` was asked for (before anything is made)."""
    layout.validate_name(name)
    if not 1 <= hosts <= layout.MAX_HOSTS:
        raise LabError(f"--hosts must be between 1 and {layout.MAX_HOSTS}, not {hosts}")
    if not 0 <= lb <= hosts:
        raise LabError(f"--lb must be between 0 and the number of hosts ({hosts}), not {lb}")
    try:
        parse_cpu(cpu)
        parse_memory(memory)
    except QuantityError as exc:
        raise LabError(str(exc)) from None
    return Params(hosts=hosts, lb=lb, cpu=str(cpu), memory=str(memory))


def _taken_octets(root: Path, name: str) -> set[int]:
    taken = layout.octets_in_use(netns.interface_addresses())
    if root.is_dir():
        for other in root.iterdir():
            if other.name == name or not (other / "lab.json").is_file():
                continue
            try:
                record = Record.read(other / "lab.json")
            except LabError:
                continue
            if record is not None:
                taken.add(record.octet)
    return taken


def _open_record(paths: layout.LabPaths, params: Params) -> Record:
    record = Record.read(paths.record)
    if record is not None:
        return record
    bridge = layout.bridge_name(paths.name)
    if netns.link_exists(bridge):
        raise LabError(
            f"interface {bridge} exists but lab {paths.name!r} has no record in {paths.dir}: "
            f"another lab of that name under another {layout.ROOT_ENV}? "
            f"Remove it with `fleet lab down --name {paths.name}`"
        )
    with locked(paths.root / ".locks" / "subnets.lock"):
        octet = layout.choose_octet(paths.name, _taken_octets(paths.root, paths.name))
        record = Record.new(paths.record, paths.name, octet, bridge, params)
        record.save()
    return record


def _ensure_client_key(paths: layout.LabPaths) -> None:
    if not paths.key.exists() or not paths.key.with_suffix(".pub").exists():
        paths.key.unlink(missing_ok=True)
        paths.key.with_suffix(".pub").unlink(missing_ok=True)
        run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C",
             f"fleet-lab-{paths.name}", "-f", str(paths.key)])
    paths.authorized_keys.write_text(paths.key.with_suffix(".pub").read_text())
    paths.authorized_keys.chmod(0o600)


def _start_host(shape: Shape, record: Record, index: int) -> int:
    """Network, sshd, dockerd (launched, not awaited) and HAProxy of one host."""
    spec = shape.spec(index)
    record.note("netns", name=spec.netns)
    netns.ensure_netns(spec.netns)
    veth = layout.veth_name(shape.name, index)
    record.note("veth", name=veth)
    netns.ensure_veth(veth, spec.netns, shape.bridge, spec.address)
    spec.paths.dir.mkdir(parents=True, exist_ok=True)
    record.set_pid(f"{spec.name}/sshd", daemons.start_sshd(spec))
    pid = daemons.launch_dockerd(spec, record.pids().get(f"{spec.name}/dockerd"))
    record.set_pid(f"{spec.name}/dockerd", pid)
    if shape.is_lb(index):
        record.set_pid(f"{spec.name}/haproxy", daemons.start_haproxy(spec))
    else:
        daemons.stop_haproxy(spec)
        record.set_pid(f"{spec.name}/haproxy", None)
    return pid


def _write_client_files(shape: Shape) -> None:
    keys = {}
    for index in shape.indexes:
        spec = shape.spec(index)
        fields = spec.paths.host_key.with_suffix(".pub").read_text().split()
        keys[spec.name] = f"{fields[0]} {fields[1]}"
    _write(shape.paths.known_hosts, render_known_hosts(shape, keys))
    _write(shape.paths.inventory, render_inventory(shape))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def up(name: str = layout.DEFAULT_NAME, hosts: int = 3, lb: int = 1, cpu: str = "2",
       memory: str = "2Gi", *, with_images: bool = True, log: Log = _quiet) -> LabInfo:
    """Bring lab `name` up (or complete and repair it) and return it.

    Not root or a missing binary: LabError naming the fix, and nothing is made.
    """
    params = check_params(name, hosts, lb, cpu, memory)
    preflight()
    paths = layout.LabPaths(layout.lab_root(), name)
    layout.check_socket_paths(paths, hosts)
    started = time.monotonic()
    with locked(paths.lock):
        record = _open_record(paths, params)
        try:
            return _up(paths, record, params, with_images, log, started)
        except LabError as exc:
            raise LabError(
                f"{exc} (lab {name} is partly up: `fleet lab up --name {name}` tries again, "
                f"`fleet lab down --name {name}` removes what was made)"
            ) from None


def _up(paths: layout.LabPaths, record: Record, params: Params, with_images: bool, log: Log,
        started: float) -> LabInfo:
    """The body of `up`, under the lab's lock, with its record open."""
    name, hosts = paths.name, params.hosts
    old = record.params
    if old.hosts > hosts:
        log(f"lab {name}: removing hosts {hosts + 1}..{old.hosts}")
        teardown.remove_hosts(paths, record, range(hosts + 1, old.hosts + 1), log)
    record.set_params(params)
    shape = Shape(paths, record.octet, params)
    _ensure_client_key(paths)
    record.note("bridge", name=shape.bridge)
    netns.ensure_bridge(shape.bridge, layout.bridge_address(shape.octet))
    rule = netns.forward_rule(shape.bridge)
    record.note("iptables", rule=rule)
    netns.ensure_rule(rule)

    log(f"lab {name}: starting {hosts} hosts on {layout.subnet(shape.octet)}")
    indexes = list(shape.indexes)
    pids = dict(zip(indexes, parallel(indexes, lambda i: _start_host(shape, record, i)),
                    strict=True))
    timeout = 60.0 + 3.0 * hosts  # a machine with few cores starts dockerds slowly
    parallel(indexes, lambda i: daemons.wait_dockerd(shape.spec(i), pids[i], timeout),
             limit=64)
    log(f"lab {name}: daemons up after {time.monotonic() - started:.1f} s")
    _write_client_files(shape)
    if with_images:
        built = images.build(paths.root / "images")
        loaded = push_bundle(shape.info().inventory_path, built.bundle)
        log(f"lab {name}: {len(built.images)} images ready (pushed to {len(loaded)} hosts "
            f"over SSH) after {time.monotonic() - started:.1f} s")
    return shape.info()


def down(name: str = layout.DEFAULT_NAME, log: Log = _quiet) -> bool:
    """Remove lab `name` and everything it made; False if there was nothing to remove."""
    layout.validate_name(name)
    require_root()
    paths = layout.LabPaths(layout.lab_root(), name)
    with locked(paths.lock):
        try:
            record = Record.read(paths.record)
        except LabError:
            record = None  # unreadable: clean up by the names the lab would have used
        existed = record is not None or paths.dir.exists() or bool(
            teardown.host_indexes(paths, None)
        ) or netns.link_exists(layout.bridge_name(name))
        teardown.remove_lab(paths, record, log)
    return existed


def shape_of(name: str) -> Shape:
    """What lab `name` is made of, from its lab.json (LabError if there is none)."""
    layout.validate_name(name)
    paths = layout.LabPaths(layout.lab_root(), name)
    record = Record.read(paths.record)
    if record is None:
        raise LabError(
            f"there is no lab {name!r} in {paths.root}: run `fleet lab up --name {name}`"
        )
    return Shape(paths, record.octet, record.params)


def load(name: str = layout.DEFAULT_NAME) -> LabInfo:
    """The lab `name` as recorded by `up` (LabError if there is none)."""
    return shape_of(name).info()


def labs() -> list[str]:
    """Names of the labs under the lab root."""
    root = layout.lab_root()
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if (d / "lab.json").is_file())


# ---- per-host control (failure tests) --------------------------------------------------


def _host(name: str, host: str) -> tuple[Shape, int]:
    shape = shape_of(name)
    index = layout.host_index(host)
    if index not in shape.indexes:
        raise LabError(f"lab {name!r} has no host {host!r}")
    return shape, index


def stop_sshd(name: str, host: str) -> None:
    """Stop the host's sshd: new SSH connections are refused."""
    shape, index = _host(name, host)
    daemons.stop_sshd(shape.spec(index))


def kill_sshd(name: str, host: str) -> None:
    """Kill the host's sshd with its open sessions: established connections break too."""
    shape, index = _host(name, host)
    daemons.kill_sshd(shape.spec(index))


def start_sshd(name: str, host: str) -> None:
    shape, index = _host(name, host)
    daemons.start_sshd(shape.spec(index))


def stop_dockerd(name: str, host: str) -> None:
    """Stop the host's dockerd (its containers stop with it)."""
    shape, index = _host(name, host)
    daemons.stop_dockerd(shape.spec(index))


def start_dockerd(name: str, host: str) -> None:
    """Start the host's dockerd and wait until it answers."""
    shape, index = _host(name, host)
    spec = shape.spec(index)
    daemons.wait_dockerd(spec, daemons.launch_dockerd(spec))


def stop_haproxy(name: str, host: str) -> None:
    shape, index = _host(name, host)
    daemons.stop_haproxy(shape.spec(index))


def start_haproxy(name: str, host: str) -> None:
    shape, index = _host(name, host)
    if not shape.is_lb(index):
        raise LabError(f"{host} of lab {name!r} is not a load-balancer host")
    daemons.start_haproxy(shape.spec(index))


def link_down(name: str, host: str) -> None:
    """Take the host off the lab's bridge: it becomes unreachable, its daemons keep running."""
    shape, index = _host(name, host)
    netns.set_link(layout.veth_name(shape.name, index), up=False)


def link_up(name: str, host: str) -> None:
    shape, index = _host(name, host)
    netns.set_link(layout.veth_name(shape.name, index), up=True)
