"""The local lab: real hosts (sshd, dockerd, HAProxy in network namespaces) on one machine.

Python API for tests and other modules:

    info = fleet.lab.up("pytest", hosts=3, lb=1)      # -> LabInfo (idempotent)
    fleet.lab.load("pytest")                          # -> LabInfo, LabError if no such lab
    fleet.lab.status("pytest")                        # -> LabStatus
    fleet.lab.down("pytest")                          # removes everything the lab made
    fleet.lab.stop_sshd("pytest", "node2")            # per-host failures, all idempotent:
    fleet.lab.kill_sshd("pytest", "node2")            # ... with its open sessions
    fleet.lab.start_sshd / stop_dockerd / start_dockerd / stop_haproxy / start_haproxy
    fleet.lab.link_down("pytest", "node2") / link_up  # the host's veth off/on the bridge

State lives in $FLEET_LAB_ROOT/<name>/ (default /var/lib/fleet/labs); see layout.py.
"""

from fleet.errors import LabError
from fleet.lab.lab import (
    down,
    kill_sshd,
    labs,
    link_down,
    link_up,
    load,
    start_dockerd,
    start_haproxy,
    start_sshd,
    stop_dockerd,
    stop_haproxy,
    stop_sshd,
    up,
)
from fleet.lab.model import LabHost, LabInfo
from fleet.lab.status import HostStatus, LabStatus, status

__all__ = [
    "HostStatus",
    "LabError",
    "LabHost",
    "LabInfo",
    "LabStatus",
    "down",
    "kill_sshd",
    "labs",
    "link_down",
    "link_up",
    "load",
    "start_dockerd",
    "start_haproxy",
    "start_sshd",
    "status",
    "stop_dockerd",
    "stop_haproxy",
    "stop_sshd",
    "up",
]
