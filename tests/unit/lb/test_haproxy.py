"""The write path's pure parts: install command, its output, HAProxy's rejection reasons,
`show proc` and `show stat` parsing (outputs captured from HAProxy 2.6)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from fleet.errors import HAProxyConfigError, RemoteError
from fleet.lb.haproxy import (
    INSTALL_SCRIPT,
    HostLbResult,
    LbOutcome,
    LbReport,
    install_argv,
    parse_install_output,
    rejection_reason,
)
from fleet.lb.master import parse_show_proc
from fleet.lb.render import render
from fleet.lb.status import merge_runtime, parse_show_stat, view_from_rendered, view_from_stats
from fleet.spec.inventory import HAProxySettings, Host
from tests.unit.lb.cases import GOLDEN, demo_cluster, demo_services

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_rejection_reason_names_the_line_and_the_problem() -> None:
    assert rejection_reason(fixture("haproxy-c-unknown-keyword.txt")) == (
        "parsing [bad.cfg:21] : unknown keyword 'frobnicate' in 'listen' section; "
        "parsing [bad.cfg:33] : unknown keyword 'frobnicate' in 'listen' section; "
        "parsing [bad.cfg:46] : unknown keyword 'frobnicate' in 'listen' section"
    )
    assert rejection_reason(fixture("haproxy-c-bad-weight.txt")) == (
        "[bad2.cfg:3] : 'server a/x' : weight of server x is not within 0 and 256 (999).."
    )
    assert rejection_reason("") == "no output"
    assert len(rejection_reason("[ALERT] (1) : " + "x" * 1000)) == 400


def test_install_argv_passes_values_as_arguments() -> None:
    host = Host(name="lb1", address="10.0.0.5", haproxy=HAProxySettings(
        config="/etc/haproxy/haproxy.cfg", master_socket="/run/haproxy-master.sock"))
    argv = install_argv(host, "ab" * 32)
    assert argv[:4] == ["sh", "-c", INSTALL_SCRIPT, "fleet-lb"]
    assert argv[4:] == [
        "/etc/haproxy/haproxy.cfg", "ab" * 32, "/run/haproxy-master.sock", "auto", "",
    ]  # fmt: skip
    sudo = Host(name="lb1", address="10.0.0.5", haproxy=HAProxySettings(sudo=True,
                                                                        reload="systemd"))
    # never a shell under sudo: the script runs as the user, its root steps use `sudo -n`
    assert install_argv(sudo, "cd" * 32)[:2] == ["sh", "-c"]
    assert install_argv(sudo, "cd" * 32)[-3:] == ["", "systemd", "sudo"]


def test_parse_install_output() -> None:
    assert parse_install_output("method=master-socket\nstate=installed\n") == {
        "method": "master-socket", "state": "installed",
    }  # fmt: skip
    assert parse_install_output("noise\nmethod=systemd\nstate=installed\nstate=reloaded\n")[
        "state"
    ] == "reloaded"


# The install script itself, run locally with sh against files in a temporary directory
# (the same POSIX sh and coreutils as on a host; HAProxy's -c is the real one).
needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy")


def install(
    tmp_path: Path, text: str, how: str = "master-socket"
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "haproxy.cfg"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return subprocess.run(
        ["sh", "-c", INSTALL_SCRIPT, "fleet-lb", str(cfg), digest, "", how],
        input=text, capture_output=True, text=True, timeout=30,
    )


@needs_haproxy
def test_script_installs_keeps_prev_and_skips_unchanged(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    first = (GOLDEN / "demo.cfg").read_text()
    done = install(tmp_path, first)
    assert done.returncode == 0, done.stderr
    assert parse_install_output(done.stdout) == {"method": "none", "state": "installed"}
    assert cfg.read_text() == first and not (tmp_path / "haproxy.cfg.prev").exists()
    assert (tmp_path / "haproxy.cfg.fleet-reload-pending").exists()
    # same text again while the reload is pending: no write, but the reload is still owed
    assert parse_install_output(install(tmp_path, first).stdout)["state"] == "pending"
    (tmp_path / "haproxy.cfg.fleet-reload-pending").unlink()
    assert parse_install_output(install(tmp_path, first).stdout)["state"] == "unchanged"
    second = first.replace("timeout client 30s", "timeout client 31s")
    assert parse_install_output(install(tmp_path, second).stdout)["state"] == "installed"
    assert cfg.read_text() == second
    assert (tmp_path / "haproxy.cfg.prev").read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "haproxy.cfg", "haproxy.cfg.fleet-reload-pending", "haproxy.cfg.prev",
    ]  # fmt: skip


@needs_haproxy
def test_script_never_installs_a_rejected_config(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    good = (GOLDEN / "demo.cfg").read_text()
    install(tmp_path, good)
    bad = good.replace("balance roundrobin", "balance roundrobin\n    frobnicate yes", 1)
    done = install(tmp_path, bad)
    assert done.returncode == 3
    assert "unknown keyword 'frobnicate'" in rejection_reason(done.stderr)
    assert "haproxy.cfg:" in rejection_reason(done.stderr)  # the temp name is undone
    assert cfg.read_text() == good
    assert not any(".fleet-" in p.name and "pending" not in p.name for p in tmp_path.iterdir())


def test_report_raises_config_error_naming_host_and_reason() -> None:
    report = LbReport({
        "node1": HostLbResult("node1", LbOutcome.reloaded),
        "node2": HostLbResult("node2", LbOutcome.rejected, "parsing [haproxy.cfg:3] : bad"),
    })  # fmt: skip
    assert not report.ok
    with pytest.raises(HAProxyConfigError, match=r"node2: HAProxy rejected the config: "
                       r"parsing \[haproxy.cfg:3\] : bad"):
        report.raise_for_errors()
    unreachable = LbReport({"node1": HostLbResult("node1", LbOutcome.unreachable, "timed out")})
    with pytest.raises(RemoteError, match="node1: timed out"):
        unreachable.raise_for_errors()
    LbReport({"n": HostLbResult("n", LbOutcome.unchanged)}).raise_for_errors()


def test_parse_show_proc() -> None:
    info = parse_show_proc(fixture("show-proc.txt"))
    assert (info.master_pid, info.reloads, info.failed_reloads) == (9160, 32, 0)
    assert info.workers == (26555,) and info.old_workers == ()
    draining = parse_show_proc(fixture("show-proc-old-workers.txt"))
    assert draining.workers == (26555,) and draining.old_workers == (22259,)
    assert parse_show_proc("").master_pid is None


def test_status_merges_haproxy_runtime_state() -> None:
    stats = parse_show_stat(fixture("show-stat.txt"))
    assert stats[("demo.web.80", "web-3.aaa")]["status"] == "DOWN"
    assert stats[("demo.web.80", "FRONTEND")]["status"] == "OPEN"
    assert parse_show_stat("Unknown command") == {}
    view = view_from_stats("node1", stats)
    (frontend,) = view.frontends  # the lab's own "lab-alive" style sections are not fleet's
    assert (frontend.app, frontend.service, frontend.listen_port, frontend.mode) == (
        "demo", "web", 80, "http",
    )  # fmt: skip
    assert [(s.name, s.address, s.state, s.weight) for s in frontend.servers] == [
        ("web-2.aaa", "10.77.157.12:32768", "UP", 1),
        ("web-3.aaa", "10.77.157.13:32768", "DOWN", 1),
    ]


def test_status_view_from_rendered_and_merged() -> None:
    state, health = demo_cluster()
    rendered = render(demo_services(), state, health)
    view = view_from_rendered("node1", rendered)
    web = next(f for f in view.frontends if f.name == "demo.web.8080")
    assert [(s.name, s.address, s.weight, s.state) for s in web.servers] == [
        ("web-0.3f9a1c2b7e", "10.0.0.11:32770", 1, "configured"),
        ("web-1.3f9a1c2b7e", "10.0.0.12:32768", 1, "configured"),
    ]
    runtime = {
        ("demo.web.8080", "FRONTEND"): {"status": "OPEN", "scur": "4"},
        ("demo.web.8080", "web-0.3f9a1c2b7e"): {"status": "UP", "weight": "1",
                                                "check_status": "L7OK", "check_code": "200",
                                                "check_duration": "3"},
        ("demo.web.8080", "web-1.3f9a1c2b7e"): {"status": "DOWN", "weight": "1",
                                                "check_status": "L7STS", "check_code": "404",
                                                "check_duration": "0"},
    }  # fmt: skip
    merged = merge_runtime(view, runtime)
    web = next(f for f in merged.frontends if f.name == "demo.web.8080")
    assert merged.runtime and web.state == "OPEN" and web.sessions == 4 and web.up == 1
    assert [(s.state, s.check) for s in web.servers] == [
        ("UP", "L7OK/200 in 3ms"), ("DOWN", "L7STS/404 in 0ms"),
    ]  # fmt: skip
    kv = next(f for f in merged.frontends if f.name == "demo.kv.7070")
    assert kv.state == "missing"
    assert kv.servers[0].state.startswith("not in HAProxy")
    assert merged.as_dict()["frontends"][1]["servers"][1]["state"] == "DOWN"
