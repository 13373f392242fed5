"""fleet's HAProxy install script with `haproxy.sudo: true` asks sudo for nothing the VMs'
sudoers (vagrant/guest/sudoers-fleet) does not allow.

The script runs locally against a config in a temporary directory, with a fake `sudo` first
in PATH that logs each command line and runs it, and a fake `systemctl` whose haproxy unit
is active. Each logged line, with the temporary directory read as /etc/haproxy, must match
one rule of the sudoers file, matched the way sudo >= 1.9.10 does: the command's full path
(found through sudo's secure_path), then its arguments joined by spaces against `^...$`
regular expressions or literal arguments.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fleet.lb.haproxy import INSTALL_SCRIPT, RESTORE_SCRIPT, parse_install_output
from tests.unit.lb.cases import GOLDEN

SUDOERS = Path(__file__).resolve().parents[2] / "vagrant" / "guest" / "sudoers-fleet"
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ETC = "/etc/haproxy"

needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy")

FAKE_SUDO = """#!/bin/sh
[ "$1" = -n ] || { echo "fake sudo: fleet always passes -n" >&2; exit 99; }
shift
printf '%s\\n' "$*" >>"$SUDO_LOG"
exec "$@"
"""
FAKE_SYSTEMCTL = """#!/bin/sh
case "$*" in
  "is-active --quiet haproxy") exit 0 ;;
  "reload haproxy") echo reloaded >>"$SYSTEMCTL_LOG"; exit 0 ;;
esac
exit 1
"""


def sudoers_rules(text: str) -> list[tuple[str, str]]:
    """(command path, argument pattern) of Cmnd_Alias FLEET_HAPROXY; "" = any arguments."""
    joined = re.sub(r"\\\n", " ", text)
    line = next(ln for ln in joined.splitlines() if ln.startswith("Cmnd_Alias FLEET_HAPROXY"))
    rules = []
    for entry in line.split("=", 1)[1].split(","):
        command, _, args = entry.strip().partition(" ")
        rules.append((command, args.strip()))
    return rules


def allowed(rules: list[tuple[str, str]], command_line: str) -> bool:
    """Would sudo run this command line (as `sudo -n` typed it) under these rules?"""
    word, _, args = command_line.partition(" ")
    path = word if word.startswith("/") else shutil.which(word, path=SECURE_PATH)
    if path is None:
        return False
    for command, pattern in rules:
        if os.path.realpath(command) != os.path.realpath(path):
            continue
        if pattern.startswith("^") and pattern.endswith("$"):
            if re.fullmatch(pattern[1:-1], args):
                return True
        elif pattern == args:
            return True
    return False


RULES = sudoers_rules(SUDOERS.read_text())


def test_the_matcher_refuses_what_sudoers_does_not_name() -> None:
    assert allowed(RULES, f"tee {ETC}/haproxy.cfg.fleet-AbC123")
    assert allowed(RULES, "systemctl reload haproxy")
    for line in (
        "sh -c anything",
        "tee /etc/shadow",
        f"tee {ETC}/../shadow",
        f"tee {ETC}/haproxy.cfg /etc/shadow",
        f"rm -f {ETC}/haproxy.cfg",  # never the live config itself
        "systemctl stop haproxy",
        "/usr/sbin/haproxy -c -f /etc/shadow",
    ):
        assert not allowed(RULES, line), line


class Host:
    """A temporary /etc/haproxy with the fake sudo and systemctl first in PATH."""

    def __init__(self, root: Path) -> None:
        self.etc = root / "etc"
        self.etc.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        for name, text in (("sudo", FAKE_SUDO), ("systemctl", FAKE_SYSTEMCTL)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.sudo_log = root / "sudo.log"
        self.systemctl_log = root / "systemctl.log"
        self.cfg = self.etc / "haproxy.cfg"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ.get('PATH', '')}",
            "SUDO_LOG": str(self.sudo_log),
            "SYSTEMCTL_LOG": str(self.systemctl_log),
        }

    def install(self, text: str) -> subprocess.CompletedProcess[str]:
        digest = hashlib.sha256(text.encode()).hexdigest()
        argv = ["sh", "-c", INSTALL_SCRIPT, "fleet-lb", str(self.cfg), digest, "", "systemd",
                "sudo"]  # fmt: skip
        return subprocess.run(argv, input=text, capture_output=True, text=True, timeout=30,
                              env=self.env())  # fmt: skip

    def sudo_lines(self) -> list[str]:
        if not self.sudo_log.exists():
            return []
        return self.sudo_log.read_text().replace(str(self.etc), ETC).splitlines()


@needs_haproxy
def test_every_root_step_of_an_install_is_allowed_by_the_vms_sudoers(tmp_path: Path) -> None:
    host = Host(tmp_path)
    first = (GOLDEN / "demo.cfg").read_text()
    done = host.install(first)
    assert done.returncode == 0, done.stderr
    assert parse_install_output(done.stdout) == {"method": "systemd", "state": "reloaded"}
    assert host.cfg.read_text() == first

    second = first.replace("timeout client 30s", "timeout client 31s")
    done = host.install(second)
    assert parse_install_output(done.stdout)["state"] == "reloaded", done.stderr
    assert (host.etc / "haproxy.cfg.prev").read_text() == first
    assert sorted(p.name for p in host.etc.iterdir()) == ["haproxy.cfg", "haproxy.cfg.prev"]

    bad = second.replace("balance roundrobin", "balance roundrobin\n    frobnicate yes", 1)
    assert host.install(bad).returncode == 3
    assert host.cfg.read_text() == second
    assert sorted(p.name for p in host.etc.iterdir()) == ["haproxy.cfg", "haproxy.cfg.prev"]
    assert parse_install_output(host.install(second).stdout)["state"] == "unchanged"

    lines = host.sudo_lines()
    # write, check, keep .prev, mark pending, move into place, reload, clear: all via sudo
    verbs = {line.split()[0].rsplit("/", 1)[-1] for line in lines}
    assert verbs == {"tee", "haproxy", "cp", "mv", "rm", "systemctl"}
    refused = [line for line in lines if not allowed(RULES, line)]
    assert refused == [], f"sudo would ask for a password: {refused}"
    assert host.systemctl_log.read_text().split() == ["reloaded", "reloaded"]


def test_the_restore_after_a_failed_reload_is_allowed_too(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.cfg.write_text("new\n")
    (host.etc / "haproxy.cfg.prev").write_text("old\n")
    (host.etc / "haproxy.cfg.fleet-reload-pending").write_text("")
    done = subprocess.run(
        ["sh", "-c", RESTORE_SCRIPT, "fleet-lb", str(host.cfg), "sudo"],
        capture_output=True, text=True, timeout=30, env=host.env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert host.cfg.read_text() == "old\n"
    assert sorted(p.name for p in host.etc.iterdir()) == ["haproxy.cfg", "haproxy.cfg.prev"]
    lines = host.sudo_lines()
    assert len(lines) == 3 and all(allowed(RULES, line) for line in lines), lines
