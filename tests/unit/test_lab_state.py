"""lab.json records, pid ownership checks and the preflight check (no root needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet.errors import LabError
from fleet.lab import procs, system
from fleet.lab.record import Params, Record


def test_record_is_saved_as_soon_as_something_is_noted(tmp_path):
    path = tmp_path / "lab" / "lab.json"
    record = Record.new(path, "x", 12, "flb-x", Params(3, 1, "2", "2Gi"))
    record.note("netns", name="fleet-x-node1")
    record.note("netns", name="fleet-x-node1")  # noting twice keeps one entry
    record.set_pid("node1/sshd", 123)
    saved = json.loads(path.read_text())
    assert saved["made"] == [{"kind": "netns", "name": "fleet-x-node1"}]
    assert saved["pids"] == {"node1/sshd": 123}
    again = Record.read(path)
    assert again is not None
    assert (again.name, again.octet, again.bridge, again.params) == (
        "x", 12, "flb-x", Params(3, 1, "2", "2Gi"))
    again.forget("netns", name="fleet-x-node1")
    again.set_pid("node1/sshd", None)
    assert Record.read(path).made("netns") == []  # type: ignore[union-attr]
    assert Record.read(path).pids() == {}  # type: ignore[union-attr]


def test_missing_and_foreign_records(tmp_path):
    assert Record.read(tmp_path / "nothing.json") is None
    (tmp_path / "other.json").write_text('{"schema": "something/else"}')
    with pytest.raises(LabError, match="not a fleet lab record"):
        Record.read(tmp_path / "other.json")


def test_pid_is_only_ours_when_its_command_line_names_the_lab(tmp_path):
    marker = f"{tmp_path}/"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        pidfile = tmp_path / "x.pid"
        pidfile.write_text(f"{proc.pid}\n")
        assert procs.owned_pid(pidfile, marker) == proc.pid
        assert procs.owned_pid(pidfile, "/some/other/lab/") is None
        assert procs.terminate([proc.pid], timeout=5) == []
        proc.wait()
        assert procs.owned_pid(pidfile, marker) is None
    finally:
        proc.kill()
        proc.wait()


def test_a_zombie_does_not_count_as_running():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # not waited for: it stays a zombie (state Z) until we reap it
    deadline = time.monotonic() + 10
    while procs.is_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not procs.is_running(proc.pid)
    assert Path(f"/proc/{proc.pid}").exists()
    proc.wait()


def test_pidfile_garbage():
    assert procs.read_pid(Path("/nonexistent/x.pid")) is None


def test_static_binary_detection(tmp_path):
    assert not system.is_static_elf(Path(sys.executable).resolve())  # dynamically linked
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert not system.is_static_elf(script)
    busybox = Path("/bin/busybox")
    if busybox.exists() and shutil.which("file"):
        described = subprocess.run(["file", "-L", str(busybox)], capture_output=True, text=True)
        assert system.is_static_elf(busybox) == ("statically linked" in described.stdout)


def test_preflight_names_the_fix_when_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root") as info:
        system.preflight()
    assert "\n" not in str(info.value)


def test_preflight_names_the_apt_line_for_missing_binaries(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(system, "which", lambda b: None if b in ("haproxy", "dockerd") else "/x")
    monkeypatch.setattr(system, "is_static_elf", lambda p: True)
    with pytest.raises(LabError) as info:
        system.preflight()
    message = str(info.value)
    assert "dockerd, haproxy" in message
    assert "run `apt-get install -y docker.io haproxy` as root" in message
    assert "\n" not in message


def test_lab_processes_by_namespace_or_root():
    procs_ = [
        procs.ProcInfo(10, "dockerd", 1000, 555, "/"),
        procs.ProcInfo(11, "sh", 100, 777, "/r/lab/node1/docker/overlay2/abc/merged"),
        procs.ProcInfo(12, "bash", 100, 777, "/"),
        procs.ProcInfo(13, "sh", 100, 777, "/r/lab2/node1/docker/overlay2/abc/merged"),
    ]
    assert procs.lab_processes(procs_, {555}, "/r/lab") == [10, 11]
