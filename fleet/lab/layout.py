"""Where everything of a lab lives and what it is called (pure: no I/O).

A lab named NAME keeps its state in `$FLEET_LAB_ROOT/NAME/` (default root
/var/lib/fleet/labs); host i is `node<i>` with address 10.77.X.(10+i) on the
lab's own /24 10.77.X.0/24, network namespace `fleet-NAME-node<i>`, and a veth
whose host side sits on the lab's bridge. Interface names are limited to 15
characters, so long lab names are replaced by a hash in them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fleet import names
from fleet.errors import LabError

DEFAULT_ROOT = Path("/var/lib/fleet/labs")
ROOT_ENV = "FLEET_LAB_ROOT"
DEFAULT_NAME = "fleet"
MAX_NAME = 20
MAX_HOSTS = 240  # addresses .11 .. .250 of the /24
SUBNET_PREFIX = "10.77"
IFNAMSIZ = 15
# sun_path is 108 bytes including the terminating NUL
UNIX_PATH_MAX = 107
# the deepest socket a lab host gets: containerd's ttrpc socket under dockerd's exec-root
_DEEPEST_SOCKET = "x/containerd/containerd.sock.ttrpc"


def lab_root() -> Path:
    """The directory holding every lab: $FLEET_LAB_ROOT or /var/lib/fleet/labs."""
    value = os.environ.get(ROOT_ENV)
    return Path(value).absolute() if value else DEFAULT_ROOT


def validate_name(name: str) -> str:
    """A lab name: a DNS-1123 label of at most 20 characters (it ends up in paths and names)."""
    names.dns_label(name, "lab name")
    if len(name) > MAX_NAME:
        raise LabError(f"lab name {name!r} is longer than {MAX_NAME} characters")
    return name


def short_id(name: str) -> str:
    """Six hex digits standing for a lab name where the name itself does not fit."""
    return hashlib.sha256(name.encode()).hexdigest()[:6]


def bridge_name(name: str) -> str:
    """`flb-NAME`, or `flh-<hash>` when that exceeds the 15-character interface limit."""
    plain = f"flb-{name}"
    return plain if len(plain) <= IFNAMSIZ else f"flh-{short_id(name)}"


def veth_name(name: str, index: int) -> str:
    """Host side of node<index>'s veth: `fl-NAME-<i>` or `flv<hash>-<i>` when too long."""
    plain = f"fl-{name}-{index}"
    return plain if len(plain) <= IFNAMSIZ else f"flv{short_id(name)}-{index}"


def netns_name(name: str, index: int) -> str:
    return f"fleet-{name}-node{index}"


def host_name(index: int) -> str:
    return f"node{index}"


def host_index(host: str) -> int:
    """The i of `node<i>`; LabError for anything else."""
    digits = host[4:] if host.startswith("node") else ""
    if not digits.isdigit() or str(int(digits)) != digits or int(digits) < 1:
        raise LabError(f"{host!r} is not a lab host name (node1, node2, ...)")
    return int(digits)


def host_address(octet: int, index: int) -> str:
    return f"{SUBNET_PREFIX}.{octet}.{10 + index}"


def bridge_address(octet: int) -> str:
    return f"{SUBNET_PREFIX}.{octet}.1"


def subnet(octet: int) -> str:
    return f"{SUBNET_PREFIX}.{octet}.0/24"


def preferred_octet(name: str) -> int:
    """The third octet a lab tries first: derived from its name, so the default lab's
    addresses (and the committed inventories/lab.yaml) are the same on every machine."""
    return 1 + zlib.crc32(name.encode()) % 254


def choose_octet(name: str, taken: Iterable[int]) -> int:
    """The first free third octet at or after the name's preferred one (wrapping)."""
    used = set(taken)
    start = preferred_octet(name)
    for step in range(254):
        octet = 1 + (start - 1 + step) % 254
        if octet not in used:
            return octet
    raise LabError(f"no free /24 left in {SUBNET_PREFIX}.0.0/16 for lab {name!r}")


def octets_in_use(addresses: Iterable[str]) -> set[int]:
    """Third octets of 10.77.X.Y addresses (interface addresses found on the machine)."""
    net = ipaddress.ip_network(f"{SUBNET_PREFIX}.0.0/16")
    found: set[int] = set()
    for text in addresses:
        try:
            addr = ipaddress.ip_interface(text).ip
        except ValueError:
            continue
        if addr in net:
            found.add(int(str(addr).split(".")[2]))
    return found


@dataclass(frozen=True)
class HostPaths:
    """Files of one lab host, all under `<labdir>/node<i>/`."""

    dir: Path

    @property
    def sshd_config(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def sshd_pidfile(self) -> Path:
        return self.dir / "sshd.pid"

    @property
    def sshd_log(self) -> Path:
        return self.dir / "sshd.log"

    @property
    def home(self) -> Path:
        return self.dir / "home"

    @property
    def docker_data(self) -> Path:
        return self.dir / "docker"

    @property
    def docker_exec(self) -> Path:
        # kept short: containerd's sockets live below it (108-byte sun_path limit)
        return self.dir / "x"

    @property
    def docker_socket(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def dockerd_pidfile(self) -> Path:
        return self.dir / "dockerd.pid"

    @property
    def containerd_pidfile(self) -> Path:
        return self.docker_exec / "containerd" / "containerd.pid"

    @property
    def dockerd_config(self) -> Path:
        return self.dir / "daemon.json"

    @property
    def dockerd_log(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def haproxy_dir(self) -> Path:
        return self.dir / "haproxy"

    @property
    def haproxy_config(self) -> Path:
        return self.haproxy_dir / "haproxy.cfg"

    @property
    def haproxy_master_socket(self) -> Path:
        return self.haproxy_dir / "master.sock"

    @property
    def haproxy_pidfile(self) -> Path:
        return self.haproxy_dir / "haproxy.pid"

    @property
    def haproxy_log(self) -> Path:
        return self.haproxy_dir / "haproxy.log"


@dataclass(frozen=True)
class LabPaths:
    """Files of one lab, all under `<root>/<name>/`."""

    root: Path
    name: str

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def record(self) -> Path:
        return self.dir / "lab.json"

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.dir / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yaml"

    @property
    def marker(self) -> str:
        """A string found in the command line of every process the lab starts."""
        return f"{self.dir}/"

    def host(self, index: int) -> HostPaths:
        return HostPaths(self.dir / host_name(index))

    @property
    def lock(self) -> Path:
        # outside the lab directory: `down` removes that directory while holding the lock
        return self.root / ".locks" / f"{self.name}.lock"


def check_socket_paths(paths: LabPaths, hosts: int) -> None:
    """Refuse a root or name so long that a host's unix sockets would not fit in sun_path."""
    deepest = paths.host(hosts).dir / _DEEPEST_SOCKET
    if len(str(deepest).encode()) > UNIX_PATH_MAX:
        raise LabError(
            f"lab directory {paths.dir} is too long: socket {deepest} would exceed the "
            f"{UNIX_PATH_MAX}-byte limit of unix socket paths; "
            f"set a shorter {ROOT_ENV} or lab name"
        )
