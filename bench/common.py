"""What bench/apply.py and bench/observe.py share: the `fleet` command beside this Python,
a subprocess that ends the bench when it fails, the lab's OpenSSH options, and timing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleet.lab import LabInfo

FLEET = str(Path(sys.executable).with_name("fleet"))


def sh(*argv: str, check: bool = True, env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def lab_exists(name: str) -> bool:
    return any(line.split()[:1] == [name] for line in sh(FLEET, "lab", "list").stdout.splitlines())


def ssh_base(lab: LabInfo) -> list[str]:
    return [
        "ssh", "-F", "/dev/null", "-i", str(lab.key),
        "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={lab.known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
    ]


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000
