"""Running the machine's tools for the lab, and checking up front that it can run at all.

The lab drives `ip`, `iptables`, `sshd`, `dockerd`, `haproxy` ... as local
argv lists (never through a shell). `preflight` checks root and every binary
before anything is made, and names the one command that fixes what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from fleet.errors import LabError

# binary -> Debian package that provides it
REQUIRED: dict[str, str] = {
    "dockerd": "docker.io",
    "containerd": "docker.io",
    "docker": "docker.io",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "ssh": "openssh-client",
    "haproxy": "haproxy",
    "busybox": "busybox-static",
    "ip": "iproute2",
    "iptables": "iptables",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "umount": "mount",
}
APT_LINE = (
    "apt-get install -y docker.io openssh-server openssh-client haproxy busybox-static "
    "iproute2 iptables"
)
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def which(binary: str) -> str | None:
    """The path of a binary, also looking in sbin directories a non-login PATH may lack."""
    path = os.environ.get("PATH", "")
    extra = [d for d in _SBIN if d not in path.split(os.pathsep)]
    return shutil.which(binary, path=os.pathsep.join([path, *extra]))


def tool(binary: str) -> str:
    """The path of a required binary (preflight already checked it exists)."""
    found = which(binary)
    if found is None:
        raise LabError(f"{binary} not found: run `{APT_LINE}` as root")
    return found


def is_static_elf(path: Path) -> bool:
    """True for an ELF file without a program interpreter (a statically linked binary)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
            return False
        order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
        phoff = int.from_bytes(head[32:40], order)
        phentsize = int.from_bytes(head[54:56], order)
        phnum = int.from_bytes(head[56:58], order)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type = int.from_bytes(table[i * phentsize : i * phentsize + 4], order)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (network namespaces, dockerd, iptables): "
            "run it as root, e.g. `sudo fleet lab up`"
        )


def preflight() -> None:
    """Root and every binary the lab needs, or ONE sentence naming what to run."""
    require_root()
    missing = sorted(b for b in REQUIRED if which(b) is None)
    packages = {REQUIRED[b] for b in missing}
    busybox = which("busybox")
    if busybox is not None and not is_static_elf(Path(busybox)):
        missing.append("a static busybox")
        packages.add("busybox-static")
    if missing:
        line = "apt-get install -y " + " ".join(sorted(packages))
        raise LabError(f"the lab needs {', '.join(missing)}: run `{line}` as root")


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60.0,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a local tool; a failure becomes a LabError naming the command and its stderr."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise LabError(f"{argv[0]} not found: run `{APT_LINE}` as root") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or "no output"
        raise LabError(f"`{' '.join(argv)}` failed ({result.returncode}): {detail}")
    return result


def ok(argv: Sequence[str], timeout: float = 30.0) -> bool:
    """True if the command exits 0 (a check such as `iptables -C`)."""
    return run(argv, check=False, timeout=timeout).returncode == 0


def spawn_detached(argv: Sequence[str], log: Path) -> int:
    """Start a long-running process that is not our child; returns its pid at once.

    A short-lived sh (in a session of its own, so Ctrl-C on the terminal does not
    reach the daemon) starts it in the background and prints its pid; the daemon is
    then adopted by init, and no Popen object of ours is left waiting for it.
    """
    script = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    result = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(log), *argv],
        capture_output=True, text=True, timeout=30, start_new_session=True,
    )
    pid = result.stdout.strip()
    if result.returncode != 0 or not pid.isdigit():
        raise LabError(f"could not start {argv[0]}: {result.stderr.strip() or 'no pid'}")
    return int(pid)
