"""`fleet ui` in a real terminal (tmux) against the lab with the demo applied (issue 7)."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet import lab as fleet_lab
from tests.lab.fleetrun import Fleet, clean, running_pods
from tests.lab.labtools import wait_until

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ALL_READY = tuple(rf"{host}\s+Ready" for host in ("node1", "node2", "node3"))


class Tmux:
    """One detached tmux session running a command; the screen read with capture-pane."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.name = f"fleet-ui-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "48",
             f"cd {ROOT} && env {exports} {command}"],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, *patterns: str, timeout: float = 30.0) -> str:
        """The first screen on which every pattern is found at once (hosts answer one by
        one, so one host's row says nothing about the others')."""
        found = wait_until(
            lambda: (s := self.screen()) and all(re.search(p, s, re.M) for p in patterns) and s,
            timeout=timeout,
            interval=0.2,
            what=" and ".join(repr(p) for p in patterns) + " on the screen",
        )
        return str(found)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def ui(lab, tmp_path) -> Iterator[tuple[Tmux, Fleet, Path]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    clean(lab)
    fleet = Fleet(lab, tmp_path / "state")
    blueprint = tmp_path / "demo.yaml"  # the UI's scale writes into this copy
    shutil.copy(ROOT / "blueprints" / "demo.yaml", blueprint)
    done = fleet.run("apply", "--yes", str(blueprint))
    assert done.returncode == 0, done.stderr
    env = {
        "FLEET_INVENTORY": str(lab.inventory_path),
        "FLEET_STATE_DIR": str(fleet.state),
        "TERM": "xterm-256color",
    }
    session = Tmux(f"{ROOT}/.venv/bin/python -m fleet ui --interval 1 {blueprint}", env)
    try:
        yield session, fleet, blueprint
    finally:
        session.close()
        clean(lab)


def test_ui_shows_hosts_and_services_and_scales_web(ui, lab) -> None:
    tmux, _, blueprint = ui
    tmux.wait_for(*ALL_READY)
    tmux.keys("2")
    services = tmux.wait_for(
        *(rf"demo/{name}\s+{ready}" for name, ready in
          (("web", "3/3"), ("api", "1/1"), ("kv", "1/1"), ("worker", "2/2")))
    )  # fmt: skip
    row = next(i for i, line in enumerate(services.splitlines()) if "demo/web" in line)
    first = next(i for i, line in enumerate(services.splitlines()) if "demo/api" in line)
    tmux.keys(*["Down"] * (row - first))
    tmux.keys("s")
    tmux.wait_for(r"Scale demo/web")
    tmux.keys("4")
    tmux.wait_for(r"▊\s+4\b")
    tmux.keys("Enter")
    wait_until(
        lambda: len(running_pods(lab, "web")) == 4, timeout=90, what="4 web replicas running"
    )
    assert re.search(r"^  replicas: 4\b", blueprint.read_text(), re.M)
    tmux.wait_for(r"demo/web\s+4/4", timeout=30)


def test_killing_sshd_marks_the_host_stale_and_the_rest_keeps_updating(ui, lab) -> None:
    tmux, _, _ = ui
    tmux.wait_for(*ALL_READY)
    fleet_lab.kill_sshd(lab.name, "node3")  # the UI's open connection breaks too
    try:
        screen = tmux.wait_for(r"node3\s+(Unreachable|Stale)", timeout=15)
        assert re.search(r"node1\s+Ready", screen) and re.search(r"node2\s+Ready", screen)
        # the others keep updating: their SEEN column stays at a few seconds
        later = tmux.wait_for(r"node1\s+Ready", timeout=5)
        seen = re.search(r"node1\s+Ready.*?\s(\d+)s\s", later)
        assert seen is not None and int(seen.group(1)) <= 3, later
    finally:
        fleet_lab.start_sshd(lab.name, "node3")
