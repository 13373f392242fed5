"""The console script: main's exit code, and the heap frozen before the interpreter exits."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

PROBE = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
    "sys.argv = ['fleet', *sys.argv[1:]]\n"
    "from fleet.cli.main import entry\n"
    "entry()\n"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_entry_keeps_main_exit_codes_and_freezes_the_heap() -> None:
    ok = run("--version")
    assert ok.returncode == 0
    version, frozen = ok.stdout.splitlines()
    assert version.startswith("fleet ") and frozen == "frozen True"
    usage = run("no-such-command")
    assert usage.returncode == 64  # a usage error still leaves with its code
    assert "frozen True" in usage.stdout


def test_the_fleet_script_and_python_m_fleet_go_through_entry() -> None:
    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["fleet"] == "fleet.cli.main:entry"
    assert "entry()" in (root / "fleet" / "__main__.py").read_text()
