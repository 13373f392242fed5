"""fleet's VM tier: Vagrant VMs up and down, and their inventory (issue 8).

    up      setup-host (libvirt) -> build-box (cached) -> vagrant box add (when new)
            -> vagrant up (a VM whose boot failed is destroyed and booted once more)
            -> host keys from the VMs' serial consoles -> known_hosts + inventory.yaml
            -> wait until sshd and docker answer on every VM (as user fleet, keys verified)
    down    vagrant destroy -> teardown-host (stops only the daemons setup-host started)

The scripts and the Vagrantfile live in the repository's vagrant/ folder; this
module runs them with one set of environment variables (`VagrantLab.env`), so
`fleet lab vagrant run halt node2` and the tests drive the same VMs. Every
phase is timed; the timings are returned and printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import LabError
from fleet.lab import vagrant_inventory as vi

STATE_ENV = "FLEET_VAGRANT_DIR"
CACHE_ENV = "FLEET_BOX_CACHE"
SOURCE_ENV = "FLEET_VAGRANT_SRC"
DEFAULT_STATE = Path("/var/lib/fleet/vagrant")
DEFAULT_CACHE = Path("/var/cache/fleet/vagrant-box")
PROVIDERS = ("libvirt", "virtualbox")
# measured under TCG: a VM with Docker and a few containers stays under ~1 GiB on the host
# with the TCG wrapper; a little headroom on top
MEMORY_PER_VM = int(1.3 * 2**30)

Log = Callable[[str], None]
Timings = list[tuple[str, float]]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class VagrantLab:
    """Where the VM tier's files are, and how many VMs of which provider it runs."""

    source: Path  # vagrant/ of the repository: Vagrantfile, build-box, setup-host ...
    state: Path  # serial logs, fleet's SSH key, inventory, Vagrant's machine state
    cache: Path  # build-box's cached box
    vms: int = 3
    provider: str = "libvirt"

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.yaml"

    @property
    def known_hosts(self) -> Path:
        return self.state / "known_hosts"

    @property
    def key(self) -> Path:
        return self.state / "id_ed25519"

    @property
    def nodes_file(self) -> Path:
        return self.state / "nodes.json"

    @property
    def settings_file(self) -> Path:
        return self.state / "settings.json"

    @property
    def log_file(self) -> Path:
        return self.state / "vagrant.log"

    def node_names(self) -> list[str]:
        return [f"node{i}" for i in range(1, self.vms + 1)]

    def env(self) -> dict[str, str]:
        """The environment every vagrant and script call of this lab runs with."""
        env = dict(os.environ)
        env.update(
            {
                "VAGRANT_CWD": str(self.source),
                "VAGRANT_DOTFILE_PATH": str(self.state / ".vagrant"),
                "VAGRANT_DEFAULT_PROVIDER": self.provider,
                "VAGRANT_CHECKPOINT_DISABLE": "1",  # no calls home
                "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
                STATE_ENV: str(self.state),
                CACHE_ENV: str(self.cache),
                "VMS": str(self.vms),
            }
        )
        return env


def _default_source() -> Path:
    configured = os.environ.get(SOURCE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "vagrant"


def lab_from_env(vms: int | None = None, provider: str | None = None) -> VagrantLab:
    """The lab named by the environment; VM count and provider default to the last `up`'s."""
    # root (libvirt here) keeps state beside the labs; a workstation user (VirtualBox) at home
    default = DEFAULT_STATE if os.geteuid() == 0 else Path.home() / ".local/state/fleet/vagrant"
    state = Path(os.environ.get(STATE_ENV) or default)
    cache = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    saved: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((state / "settings.json").read_text())
    count = vms if vms is not None else int(str(saved.get("vms", 3)))
    chosen = provider or str(
        saved.get("provider") or os.environ.get("FLEET_VAGRANT_PROVIDER") or "libvirt"
    )
    if chosen not in PROVIDERS:
        raise LabError(f"unknown provider {chosen!r}: one of {', '.join(PROVIDERS)}")
    if not 1 <= count <= 9:
        raise LabError(f"--vms {count}: between 1 and 9 VMs")
    return VagrantLab(_default_source(), state, cache, count, chosen)


def cannot_run_vms(lab: VagrantLab) -> str | None:
    """Why this machine cannot run the VM tier at all, or None when it can."""
    if sys.platform != "linux":
        return f"VMs need Linux here, this is {sys.platform}"
    if platform.machine() not in ("x86_64", "amd64"):
        return f"the box is amd64; this machine is {platform.machine()}"
    if not (lab.source / "Vagrantfile").is_file():
        return f"no Vagrantfile in {lab.source} (set {SOURCE_ENV})"
    if lab.provider == "virtualbox":
        if shutil.which("VBoxManage") is None or shutil.which("vagrant") is None:
            return "provider virtualbox needs vagrant and VirtualBox (VBoxManage) installed"
    else:
        if os.geteuid() != 0:
            return "provider libvirt needs root here (libvirtd, the box build, the VMs' networks)"
        if shutil.which("vagrant") is None and shutil.which("apt-get") is None:
            return "vagrant is not installed and there is no apt-get to install it"
    available = _mem_available()
    if available is not None and available < lab.vms * MEMORY_PER_VM:
        return (
            f"{available / 2**30:.1f} GiB memory available; {lab.vms} VMs need about "
            f"{lab.vms * MEMORY_PER_VM / 2**30:.1f} GiB"
        )
    return None


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# ------------------------------------------------------------------ running things


# vagrant-libvirt lists every domain setting of every VM: kept in vagrant.log, not on the terminal
_NOISE = re.compile(
    r"==> node[0-9]+:  -- |No version detected for|generating a local metadata|"
    r"docs/boxes/format|Serial console is being redirected"
)


def _stream(
    argv: Sequence[str], lab: VagrantLab, log: Log, prefix: str, timeout: float | None = None
) -> tuple[int, str]:
    """Run argv, its output line by line to `log` (and vagrant.log); (exit status, stdout+err)."""
    lab.state.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with lab.log_file.open("a") as record:
        record.write(f"\n$ {' '.join(argv)}\n")
        proc = subprocess.Popen(
            list(argv),
            env=lab.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )

        def pump() -> None:
            assert proc.stdout is not None
            # the reader closes the pipe: a grandchild may hold it open after the child exits
            with proc.stdout:
                for chunk in proc.stdout:
                    for line in chunk.replace("\r", "\n").splitlines():
                        if not line.strip() or "Progress:" in line:
                            continue
                        lines.append(line)
                        if not record.closed:
                            record.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                            record.flush()
                        if not _NOISE.search(line):
                            log(f"{prefix}{line}")

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()  # our own child, by pid
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise LabError(
                f"`{' '.join(argv[:3])}` did not finish within {timeout:.0f} s"
            ) from None
        reader.join(timeout=10)
    return status, "\n".join(lines)


def vagrant(lab: VagrantLab, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`vagrant ARGS` for this lab (its Vagrantfile, state and env), output captured."""
    return subprocess.run(
        ["vagrant", *args],
        env=lab.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def machine_states(lab: VagrantLab) -> dict[str, str]:
    """{node: running | shutoff | not_created | ...} from `vagrant status`."""
    if not (lab.state / ".vagrant").exists():
        return dict.fromkeys(lab.node_names(), "not_created")
    done = vagrant(lab, "status", "--machine-readable", timeout=120)
    return vi.parse_status(done.stdout)


def ssh_argv(lab: VagrantLab, address: str, *words: str, user: str = "fleet") -> list[str]:
    """OpenSSH argv to run a fixed command on a VM as `user`, host key checked against the
    generated known_hosts. The words must be shell-safe constants: ssh joins them with spaces
    (fleet's own remote commands go through fleet.remote.ssh, not through here)."""
    return [
        "ssh", "-F", "/dev/null",
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
        "-i", str(lab.key), "-l", user, address, "--", *words,
    ]  # fmt: skip


# ------------------------------------------------------------------ phases


class _Clock:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.timings: Timings = []
        self.start = self.last = time.monotonic()

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.timings.append((phase, round(now - self.last, 1)))
        self.log(f"[vagrant-lab] {phase}: {now - self.last:.1f} s")
        self.last = now

    def total(self) -> Timings:
        self.timings.append(("total", round(time.monotonic() - self.start, 1)))
        self.log(f"[vagrant-lab] total: {time.monotonic() - self.start:.1f} s")
        return self.timings


def _script(lab: VagrantLab, name: str, log: Log, timeout: float) -> str:
    status, output = _stream([str(lab.source / name)], lab, log, "", timeout)
    if status != 0:
        raise LabError(f"vagrant/{name} failed (exit {status}); see {lab.log_file}")
    return output


def _ensure_box(lab: VagrantLab, log: Log, clock: _Clock, vms_exist: bool) -> str:
    meta = lab.cache / "box.json"
    before = meta.stat().st_mtime if meta.exists() else None
    output = _script(lab, "build-box", log, timeout=1800)
    after = meta.stat().st_mtime if meta.exists() else None
    name = output.strip().splitlines()[-1].strip() if output.strip() else ""
    if not name.startswith("fleet/"):
        raise LabError(f"build-box printed no box name; see {lab.log_file}")
    clock.mark("box build" if before != after else "box (cached)")
    listed = vagrant(lab, "box", "list", "--machine-readable", timeout=120).stdout
    boxes = {line.split(",", 3)[3] for line in listed.splitlines() if ",box-name," in line}
    if name not in boxes:
        status, _ = _stream(
            [
                "vagrant",
                "box",
                "add",
                "--force",
                "--name",
                name,
                str(lab.cache / "fleet-bookworm.box"),
            ],
            lab,
            log,
            "[vagrant] ",
            timeout=900,
        )
        if status != 0:
            raise LabError(f"vagrant box add {name} failed; see {lab.log_file}")
        stale = [] if vms_exist else sorted(b for b in boxes if b.startswith("fleet/bookworm-"))
        for old in (b for b in stale if b != name):
            # an older build no VM uses any more (a running VM's disk is a snapshot of it)
            vagrant(lab, "box", "remove", "--all", old, timeout=300)
            _delete_pool_volumes(old)
        clock.mark("box add")
    return name


def _delete_pool_volumes(box: str) -> None:
    # vagrant-libvirt uploads each box once into the storage pool; drop the copies of old boxes
    prefix = box.replace("/", "-VAGRANTSLASH-")
    virsh = ["virsh", "-q", "-c", "qemu:///system"]
    listed = subprocess.run(
        [*virsh, "vol-list", "default"], capture_output=True, text=True, check=False
    )
    for line in listed.stdout.splitlines():
        fields = line.split()
        if fields and fields[0].startswith(prefix):
            subprocess.run(
                [*virsh, "vol-delete", fields[0], "--pool", "default"],
                capture_output=True,
                check=False,
            )


def _vagrant_up(lab: VagrantLab, log: Log, nodes: Iterable[str] = ()) -> int:
    argv = ["vagrant", "up", f"--provider={lab.provider}", *nodes]
    status, _ = _stream(argv, lab, log, "[vagrant] ", timeout=2400)
    return status


def _boot(lab: VagrantLab, log: Log, clock: _Clock, before: dict[str, str]) -> None:
    for name in lab.node_names():
        if before.get(name, "not_created") == "not_created":
            # a new VM gets new host keys: a console log of an earlier VM must not vouch for it
            (lab.state / "serial" / f"{name}.log").unlink(missing_ok=True)
    status = _vagrant_up(lab, log)
    states = machine_states(lab)
    failed = [n for n in lab.node_names() if states.get(n) != "running"]
    if status != 0 or failed:
        # infrastructure may retry a failed boot once (never an assertion)
        log(
            f"[vagrant-lab] vagrant up exited {status}; retrying once: {', '.join(failed) or 'all'}"
        )
        clock.mark("vagrant up (failed)")
        for name in failed:
            vagrant(lab, "destroy", "-f", name, timeout=600)
            (lab.state / "serial" / f"{name}.log").unlink(missing_ok=True)
        status = _vagrant_up(lab, log, failed)
        states = machine_states(lab)
        failed = [n for n in lab.node_names() if states.get(n) != "running"]
        if status != 0 or failed:
            raise LabError(
                f"VMs did not boot after one retry: {', '.join(failed) or 'vagrant up failed'}"
            )
    clock.mark(f"vagrant up ({lab.vms} VMs)")


def collect_host_keys(
    lab: VagrantLab, timeout: float = 600
) -> dict[str, tuple[vi.Node, list[vi.HostKey]]]:
    """Each VM's host keys from its serial console log; waits until every VM has printed them."""
    nodes = vi.parse_nodes(lab.nodes_file.read_text())
    deadline = time.monotonic() + timeout
    found: dict[str, tuple[vi.Node, list[vi.HostKey]]] = {}
    while True:
        for node in nodes.nodes:
            try:
                console = Path(node.serial_log).read_text(errors="replace")
            except OSError:
                continue
            keys = vi.parse_host_keys(console, node.name)
            if keys:
                found[node.name] = (node, keys)
        missing = [n.name for n in nodes.nodes if n.name not in found]
        if not missing:
            return found
        if time.monotonic() > deadline:
            raise LabError(
                f"no host keys on the serial console of {', '.join(missing)} after {timeout:.0f} s "
                f"(logs in {lab.state / 'serial'})"
            )
        time.sleep(1)


def write_inventory(lab: VagrantLab, timeout: float = 600) -> Path:
    """known_hosts (from the serial consoles) and inventory.yaml in the state folder."""
    keys = collect_host_keys(lab, timeout)
    nodes = vi.parse_nodes(lab.nodes_file.read_text())
    _write(lab.known_hosts, vi.known_hosts(keys))
    document = vi.inventory_document(nodes, str(lab.key), str(lab.known_hosts))
    _write(lab.inventory, vi.render_inventory(document, str(lab.state)))
    return lab.inventory


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def wait_ready(lab: VagrantLab, names: Sequence[str] | None = None, timeout: float = 600) -> None:
    """Wait until sshd (as user fleet, host key verified) and docker answer on the VMs."""
    nodes = {n.name: n for n in vi.parse_nodes(lab.nodes_file.read_text()).nodes}
    deadline = time.monotonic() + timeout
    last = ""
    for name in names or list(nodes):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabError(
                    f"{name}: sshd and docker did not answer within {timeout:.0f} s: {last}"
                )
            try:
                done = subprocess.run(
                    ssh_argv(lab, nodes[name].address, "docker", "version"),
                    capture_output=True,
                    text=True,
                    timeout=min(60.0, remaining),
                    stdin=subprocess.DEVNULL,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                last = "timed out"
                continue
            if done.returncode == 0:
                break
            last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            time.sleep(2)


def up(lab: VagrantLab, log: Log = _stderr) -> Timings:
    """Bring the VMs up (idempotent) and write their inventory; returns the phase timings."""
    reason = cannot_run_vms(lab)
    if reason is not None:
        raise LabError(f"cannot run VMs here: {reason}")
    lab.state.mkdir(parents=True, exist_ok=True)
    _write(lab.settings_file, json.dumps({"vms": lab.vms, "provider": lab.provider}) + "\n")
    clock = _Clock(log)
    if lab.provider == "libvirt":
        _script(lab, "setup-host", log, timeout=1200)
        clock.mark("setup-host")
    before = machine_states(lab)
    if lab.provider == "libvirt":
        exist = any(state != "not_created" for state in before.values())
        _ensure_box(lab, log, clock, vms_exist=exist)
    _boot(lab, log, clock, before)
    write_inventory(lab)
    clock.mark("host keys + inventory")
    wait_ready(lab)
    clock.mark("sshd + docker ready")
    log(f"[vagrant-lab] inventory: {lab.inventory}")
    return clock.total()


def down(lab: VagrantLab, log: Log = _stderr) -> Timings:
    """Destroy the VMs and stop what setup-host started; keeps the box cache and the key."""
    clock = _Clock(log)
    if (lab.state / ".vagrant").exists() and shutil.which("vagrant"):
        status, _ = _stream(["vagrant", "destroy", "-f"], lab, log, "[vagrant] ", timeout=900)
        if status != 0:
            log(
                f"[vagrant-lab] vagrant destroy exited {status}; teardown-host removes what is left"
            )
        clock.mark("vagrant destroy")
    if lab.provider == "libvirt" and (lab.source / "teardown-host").exists():
        _script(lab, "teardown-host", log, timeout=300)
        clock.mark("teardown-host")
    for path in (lab.inventory, lab.known_hosts):
        path.unlink(missing_ok=True)
    return clock.total()


def halt(lab: VagrantLab, name: str) -> None:
    """Shut one VM down (`vagrant halt`), as a host failure for heal tests."""
    done = vagrant(lab, "halt", name, timeout=600)
    if done.returncode != 0:
        raise LabError(f"vagrant halt {name} failed: {done.stderr.strip()[-500:]}")


def start(lab: VagrantLab, name: str, log: Log = _stderr) -> None:
    """Boot one halted VM again (`vagrant up NODE`) and wait until sshd and docker answer."""
    if _vagrant_up(lab, log, [name]) != 0:
        raise LabError(f"vagrant up {name} failed; see {lab.log_file}")
    wait_ready(lab, [name])


def status(lab: VagrantLab) -> dict[str, object]:
    """What runs: each VM's state, the inventory (if written), the box and the state folder."""
    box: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        box = json.loads((lab.cache / "box.json").read_text())
    states = machine_states(lab) if shutil.which("vagrant") else {}
    return {
        "state_dir": str(lab.state),
        "provider": lab.provider,
        "vms": lab.vms,
        "machines": states,
        "inventory": str(lab.inventory) if lab.inventory.exists() else None,
        "box": {k: box.get(k) for k in ("name", "built_at", "build_seconds", "size")}
        if box
        else None,
    }
