"""Engine argv lists: built from validated names only; shell syntax in a name never builds."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from fleet.errors import SpecError, UnsafeNameError
from fleet.remote import argv as cmd
from fleet.remote.model import ContainerRunSpec, PortSpec, VolumeSpec

SHELL_SYNTAX = [
    "a;touch /tmp/pwned",
    "$(id)",
    "`id`",
    "a\nb",
    "a b",
    "a|b",
    "a&&b",
    "'quoted'",
    "",
]

FULL = ContainerRunSpec(
    name="demo-web-1",
    image="lab/web:1",
    labels={"fleet.app": "demo", "fleet.service": "web", "fleet.replica": "1"},
    env={"APP_MODE": "a;b $(c) `d`", "EMPTY": ""},
    args=("--port", "8080", "$(not run)"),
    entrypoint="/app/web",
    ports=(PortSpec(8080, 18080, "10.0.0.11"), PortSpec(53, 5353, None, "udp"),
           PortSpec(9000, 0, "::1")),
    volumes=(VolumeSpec("web-data", "/data"), VolumeSpec("/srv/conf", "/etc/app", "bind", True)),
    cpus=0.25,
    memory=128 * 2**20,
    hostname="web-1",
    extra_hosts={"db": "10.0.0.13"},
    restart="unless-stopped",
    stop_timeout=5,
)


def test_run_argv_full_spec() -> None:
    argv = cmd.run_argv("docker", FULL)
    assert argv[:5] == ["docker", "run", "-d", "--name", "demo-web-1"]
    pairs = list(itertools.pairwise(argv))
    assert ("--label", "fleet.managed=true") in pairs
    assert ("--label", "fleet.service=web") in pairs
    assert ("--env", "APP_MODE=a;b $(c) `d`") in pairs  # content, quoted later, not a name
    assert ("--env", "EMPTY=") in pairs
    assert ("--publish", "10.0.0.11:18080:8080/tcp") in pairs
    assert ("--publish", "5353:53/udp") in pairs
    assert ("--publish", "[::1]::9000/tcp") in pairs
    assert ("--volume", "web-data:/data") in pairs
    assert ("--volume", "/srv/conf:/etc/app:ro") in pairs
    assert ("--cpus", "0.25") in pairs
    assert ("--memory", f"{128 * 2**20}b") in pairs
    assert ("--hostname", "web-1") in pairs
    assert ("--add-host", "db:10.0.0.13") in pairs
    assert ("--restart", "unless-stopped") in pairs
    assert ("--stop-timeout", "5") in pairs
    assert ("--entrypoint", "/app/web") in pairs
    assert "--no-healthcheck" in argv
    image_at = argv.index("lab/web:1")
    assert argv[image_at + 1 :] == ["--port", "8080", "$(not run)"]


def test_run_argv_minimal_and_podman() -> None:
    argv = cmd.run_argv("podman", ContainerRunSpec(name="w", image="busybox"))
    assert argv == ["podman", "run", "-d", "--name", "w", "--label", "fleet.managed=true",
                    "--restart", "unless-stopped", "--no-healthcheck", "busybox"]


def test_sidecar_shares_a_network_namespace() -> None:
    spec = ContainerRunSpec(name="side", image="busybox", network="container:demo-web-1")
    assert "container:demo-web-1" in cmd.run_argv("docker", spec)
    with pytest.raises(SpecError, match="cannot publish"):
        cmd.run_argv("docker", dataclasses.replace(spec, ports=(PortSpec(80, 8080),)))
    with pytest.raises(UnsafeNameError):
        cmd.run_argv("docker", dataclasses.replace(spec, network="container:$(id)"))


@pytest.mark.parametrize("bad", SHELL_SYNTAX)
@pytest.mark.parametrize(
    "field",
    ["name", "image", "label_key", "label_value", "env_name", "volume", "network", "bind",
     "target", "extra_host", "hostname"],
)
def test_shell_syntax_in_any_name_is_refused(field: str, bad: str) -> None:
    if bad == "" and field in ("label_value", "bind", "target"):
        pytest.skip("an empty label value is valid; '/srv/' is a plain path")
    changes: dict[str, object] = {
        "name": {"name": bad},
        "image": {"image": bad},
        "label_key": {"labels": {bad: "x"}},
        "label_value": {"labels": {"fleet.app": bad}},
        "env_name": {"env": {bad: "x"}},
        "volume": {"volumes": (VolumeSpec(bad, "/data"),)},
        "network": {"network": bad},
        "bind": {"volumes": (VolumeSpec("/srv/" + bad, "/data", "bind"),)},
        "target": {"volumes": (VolumeSpec("data", "/data/" + bad),)},
        "extra_host": {"extra_hosts": {bad: "10.0.0.1"}},
        "hostname": {"hostname": bad},
    }[field]  # type: ignore[assignment]
    spec = dataclasses.replace(FULL, **changes)  # type: ignore[arg-type]
    with pytest.raises(UnsafeNameError):
        cmd.run_argv("docker", spec)


@pytest.mark.parametrize("bad", ["/srv/../etc", "relative/path", "/a:b", "/a,b", "/a b"])
def test_paths_are_absolute_and_plain(bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        cmd.host_path(bad)


def test_bad_numbers_and_policies() -> None:
    for change in (
        {"cpus": 0.0}, {"memory": 1024}, {"ports": (PortSpec(0, 80),)},
        {"ports": (PortSpec(80, 70000),)}, {"extra_hosts": {"db": "not-an-ip"}},
        {"restart": "sometimes"}, {"user": "root;id"}, {"pull": "maybe"},
    ):
        with pytest.raises((UnsafeNameError, SpecError)):
            cmd.run_argv("docker", dataclasses.replace(FULL, **change))  # type: ignore[arg-type]


def test_engine_must_be_known() -> None:
    with pytest.raises(UnsafeNameError):
        cmd.run_argv("docker;id", FULL)


def test_other_operations() -> None:
    assert cmd.stop_argv("docker", ["a", "b"], 15) == ["docker", "stop", "-t", "15", "a", "b"]
    assert cmd.restart_argv("docker", ["a"], 3) == ["docker", "restart", "-t", "3", "a"]
    assert cmd.remove_argv("docker", ["a"]) == ["docker", "rm", "a"]
    assert cmd.remove_argv("docker", ["a"], force=True, volumes=True) == \
        ["docker", "rm", "-f", "-v", "a"]
    assert cmd.logs_argv("docker", "a", tail=5, follow=True) == \
        ["docker", "logs", "--tail", "5", "--follow", "a"]
    assert cmd.exec_argv("docker", "a", ["cat", "/x;y"]) == ["docker", "exec", "a", "cat", "/x;y"]
    assert cmd.save_argv("docker", ["lab/web:1"]) == ["docker", "save", "lab/web:1"]
    assert cmd.volume_rm_argv("docker", ["data"]) == ["docker", "volume", "rm", "data"]
    for bad in ("$(id)", "a;b"):
        for build in (lambda n: cmd.stop_argv("docker", [n], 1),
                      lambda n: cmd.remove_argv("docker", [n]),
                      lambda n: cmd.logs_argv("docker", n),
                      lambda n: cmd.exec_argv("docker", n, ["true"]),
                      lambda n: cmd.save_argv("docker", [n]),
                      lambda n: cmd.volume_rm_argv("docker", [n])):
            with pytest.raises(UnsafeNameError):
                build(bad)


def test_observe_is_one_script_with_facts_in_the_background() -> None:
    steps = {s.name: s for s in cmd.observe_steps("docker")}
    assert list(steps) == ["facts", "volumes", "ids", "containers", "cordon"]
    assert steps["facts"].background and steps["volumes"].background
    assert steps["ids"].command.argv == ("docker", "ps", "-aq", "--no-trunc", "--filter",
                                         "label=fleet.managed=true")
    assert steps["containers"].command.args_from_step == "ids"
    assert steps["cordon"].command.argv == ("sh", "-c", cmd.CORDON_READ)
    podman = {s.name: s for s in cmd.observe_steps("podman")}
    assert podman["facts"].command.argv == ("podman", "info", "--format", "json")


def test_warm_observe_inspects_known_containers_alongside_ps() -> None:
    known = ("a" * 64, "b" * 64)
    steps = {s.name: s for s in cmd.observe_steps("docker", facts=False, volumes=False,
                                                  known=known)}
    assert list(steps) == ["known", "ids", "containers", "cordon"]
    assert steps["known"].background and steps["known"].command.argv[-2:] == known
    assert steps["containers"].command.skip_words == known
    with pytest.raises(UnsafeNameError):
        cmd.observe_steps("docker", known=["abc;id"])


def test_image_id_steps_one_per_image() -> None:
    steps = cmd.image_id_steps("docker", ["a:1", "b:2"])
    assert [s.name for s in steps] == ["img0", "img1"]
    assert steps[1].command.argv[-1] == "b:2"
    with pytest.raises(UnsafeNameError):
        cmd.image_id_steps("docker", ["a:1", "$(id)"])
