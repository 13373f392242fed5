"""The SSH seam and the engine driver against the lab's real sshd and dockerd."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleet import lab as fleet_lab
from fleet.errors import (
    HostKeyError,
    RemoteCommandError,
    RemoteError,
    RemoteTimeout,
    UnsafeNameError,
)
from fleet.lb.master import parse_show_proc, socket_command
from fleet.remote.engine import Engine
from fleet.remote.hostkeys import fingerprint, key_line
from fleet.remote.images import ArchiveSource, push_images
from fleet.remote.model import ContainerRunSpec, PortSpec, VolumeSpec
from fleet.remote.ssh import SSHPool
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory
from tests.lab.labtools import (
    docker,
    known_hosts_with,
    lab_key,
    lb_host,
    variant,
    wait_until,
)
from tests.unit.remote.tinyimage import write_archive

pytestmark = pytest.mark.lab

WEB = "lab/web:1"


class Started:
    """Containers (and volumes) a test made through the driver; removed at the end directly."""

    def __init__(self, lab: fleet_lab.LabInfo) -> None:
        self.lab = lab
        self.containers: list[tuple[str, str]] = []
        self.volumes: list[tuple[str, str]] = []

    def name(self, host: str, prefix: str) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.containers.append((host, name))
        return name

    def cleanup(self) -> None:
        for host, name in self.containers:
            docker(self.lab.host(host), "rm", "-f", name, check=False)
        for host, volume in self.volumes:
            docker(self.lab.host(host), "volume", "rm", volume, check=False)


@pytest.fixture
def started(lab: fleet_lab.LabInfo) -> Iterator[Started]:
    made = Started(lab)
    yield made
    made.cleanup()


# ---- observe --------------------------------------------------------------------------------


async def test_observe_every_host_in_one_round_trip_each(pool: SSHPool) -> None:
    engine = Engine(pool)
    seen = await asyncio.gather(*(engine.observe(h) for h in pool.hosts))
    assert [o.host for o in seen] == list(pool.hosts)
    for observation in seen:
        facts = observation.facts
        assert facts.engine == "docker" and facts.engine_version[:2].isdigit()
        assert facts.cpus >= 1 and facts.memory_bytes > 2**28
        assert facts.hostname == observation.host  # each lab host has its own UTS namespace
        assert observation.round_trip_ms > 0
    assert dict(pool.round_trips) == {h: 1 for h in pool.hosts}
    assert all(not o.cordoned and isinstance(o.volumes, tuple) for o in seen)


async def test_observe_reads_the_cordon_mark_and_volumes(
    lab: fleet_lab.LabInfo, pool: SSHPool
) -> None:
    engine = Engine(pool)
    volume = f"remote-vol-{secrets.token_hex(3)}"
    docker(lab.host("node3"), "volume", "create", volume)
    mark = '{"drain": false, "reason": "test"}'
    try:
        write = 'mkdir -p "$HOME/.fleet" && cat > "$HOME/.fleet/cordon"'
        await pool.run("node3", ["sh", "-c", write], stdin=mark.encode())
        seen = await engine.observe("node3")
        assert seen.cordoned and seen.cordon == mark
        assert volume in seen.volumes
    finally:
        await pool.run("node3", ["sh", "-c", 'rm -f "$HOME/.fleet/cordon"'])
        docker(lab.host("node3"), "volume", "rm", volume, check=False)
    assert not (await engine.observe("node3")).cordoned


async def test_container_run_by_the_driver_is_observed_with_its_labels(
    lab: fleet_lab.LabInfo, pool: SSHPool, started: Started
) -> None:
    engine = Engine(pool)
    name = started.name("node2", "remote-web")
    volume = f"remote-data-{secrets.token_hex(3)}"
    started.volumes.append(("node2", volume))
    node2 = lab.host("node2")
    spec = ContainerRunSpec(
        name=name, image=WEB,
        labels={"fleet.app": "remote-test", "fleet.service": "web", "fleet.replica": "2"},
        env={"GREETING": "a;b $(id) `id`"},
        ports=(PortSpec(8080, 0, node2.address),),
        volumes=(VolumeSpec(volume, "/data"),),
        cpus=0.5, memory=64 * 2**20, hostname="web-2", extra_hosts={"db": "10.0.0.13"},
        stop_timeout=3,
    )
    container_id = await engine.run("node2", spec)
    before = pool.round_trips["node2"]
    observation = await engine.observe("node2")
    assert pool.round_trips["node2"] - before == 1  # observing is ONE round trip
    (mine,) = [c for c in observation.containers if c.name == name]
    assert mine.id == container_id
    ours = {"fleet.managed": "true", "fleet.app": "remote-test", "fleet.service": "web",
            "fleet.replica": "2"}
    assert {k: v for k, v in mine.labels.items() if k.startswith("fleet.")} == ours
    assert mine.state == "running" and mine.image == WEB
    assert mine.image_id.startswith("sha256:")
    assert [(p.host_ip, p.container_port) for p in mine.ports] == [(node2.address, 8080)]
    assert mine.ports[0].host_port > 0
    assert mine.address is not None
    assert [(m.type, m.source, m.destination) for m in mine.mounts] == \
        [("volume", volume, "/data")]
    assert (mine.nano_cpus, mine.memory_limit) == (500_000_000, 64 * 2**20)
    assert mine.started_at is not None

    # the engine itself agrees (checked without fleet)
    inspected = docker(node2, "inspect", "-f", "{{json .Config.Labels}} {{.Config.Hostname}}",
                       name).stdout
    assert '"fleet.service":"web"' in inspected and inspected.split()[-1] == "web-2"
    env = await engine.exec("node2", name, ["sh", "-c", 'printf %s "$GREETING"'])
    assert env.text == "a;b $(id) `id`"  # a value with shell syntax arrives literally
    hosts_file = await engine.exec("node2", name, ["cat", "/etc/hosts"])
    assert "10.0.0.13\tdb" in hosts_file.text

    stats = await engine.stats("node2")
    assert any(s.name == name and 0 < s.memory_bytes <= 64 * 2**20 for s in stats)
    assert isinstance(await engine.logs("node2", name, tail=5), str)

    before_restart = mine.started_at
    await engine.restart("node2", [name], grace=3)
    (restarted,) = [c for c in (await engine.observe("node2")).containers if c.name == name]
    assert restarted.running and restarted.started_at != before_restart

    took, trips = time.monotonic(), pool.round_trips["node2"]
    await engine.stop_and_remove("node2", [name], grace=3)
    assert time.monotonic() - took < 3  # lab/web exits on SIGTERM, no wait for the grace
    assert pool.round_trips["node2"] == trips + 1  # stop and rm in one round trip
    assert all(c.name != name for c in (await engine.observe("node2")).containers)
    assert volume in {v.name for v in await engine.volumes("node2")}  # data survives removal
    await engine.remove_volumes("node2", [volume])
    assert volume not in {v.name for v in await engine.volumes("node2")}
    with pytest.raises(RemoteCommandError, match=r"`docker` exited 1: .*No such container"):
        await engine.stop_and_remove("node2", [name], grace=1)  # gone already: stop fails


async def test_repeated_observes_stay_one_round_trip_and_current(
    lab: fleet_lab.LabInfo, pool: SSHPool, started: Started
) -> None:
    engine = Engine(pool)
    first = started.name("node2", "remote-a")
    await engine.run("node2", ContainerRunSpec(name=first, image="lab/worker:1"))
    seen = await engine.observe("node2")
    assert first in {c.name for c in seen.containers}
    second = started.name("node2", "remote-b")
    await engine.run("node2", ContainerRunSpec(name=second, image="lab/worker:1"))
    docker(lab.host("node2"), "stop", "-t", "1", first)
    before = pool.round_trips["node2"]
    again = await engine.observe("node2")  # facts cached, `first` inspected beside `ps`
    assert pool.round_trips["node2"] - before == 1
    states = {c.name: c.state for c in again.containers}
    assert states[first] == "exited" and states[second] == "running"
    assert again.facts == seen.facts
    docker(lab.host("node2"), "rm", "-f", first)
    third = await engine.observe("node2")
    assert first not in {c.name for c in third.containers}
    assert second in {c.name for c in third.containers}
    assert third.facts is seen.facts  # reused within facts_ttl
    fresh = await engine.observe("node2", fresh_facts=True)
    total = len(docker(lab.host("node2"), "ps", "-aq").stdout.split())
    assert fresh.facts.containers_total == total


async def test_sidecar_and_tcp_to_an_unpublished_port(
    lab: fleet_lab.LabInfo, pool: SSHPool, started: Started
) -> None:
    engine = Engine(pool)
    web = started.name("node1", "remote-app")
    side = started.name("node1", "remote-side")
    await engine.run("node1", ContainerRunSpec(name=web, image=WEB, labels={"fleet.app": "t"}))
    await engine.run("node1", ContainerRunSpec(
        name=side, image="lab/worker:1", network=f"container:{web}"))
    seen = {c.name: c for c in (await engine.observe("node1")).containers}
    assert seen[side].network_mode.startswith("container:")
    address = seen[web].address
    assert address is not None

    async def fetch() -> bytes:
        reader, writer = await pool.open_tcp("node1", address, 8080)
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return bytes(data)

    deadline = time.monotonic() + 20
    while True:  # the service needs a moment after start
        try:
            body = await fetch()
            if b"200" in body.split(b"\r\n", 1)[0]:
                break
        except Exception:
            pass
        assert time.monotonic() < deadline, "web never answered through the SSH tunnel"
        await asyncio.sleep(0.2)
    # the sidecar shares the network namespace: localhost:8080 is the web container
    shared = await engine.exec("node1", side, ["sh", "-c", "echo | nc -w 2 127.0.0.1 8080"])
    assert shared.exit_status == 0


async def test_unix_socket_on_the_host_over_ssh(lab: fleet_lab.LabInfo, pool: SSHPool) -> None:
    lb = lb_host(lab)
    assert lb.haproxy_master_socket is not None
    proc = parse_show_proc(await socket_command(pool, lb.name, str(lb.haproxy_master_socket),
                                                "show proc"))
    assert proc.master_pid and proc.workers  # HAProxy's own answer, over the SSH channel
    missing = str(lb.haproxy_master_socket) + ".missing"
    with pytest.raises(RemoteError, match=r"cannot open .*\.missing over SSH: .*HAProxy running"):
        await socket_command(pool, lb.name, missing, "show proc")
    await pool.run(lb.name, ["true"])  # the connection survived the refused channel


async def test_follow_logs_streams(lab: fleet_lab.LabInfo, pool: SSHPool,
                                   started: Started) -> None:
    engine = Engine(pool)
    name = started.name("node3", "remote-worker")
    await engine.run("node3", ContainerRunSpec(name=name, image="lab/worker:1"))
    async with engine.follow_logs("node3", name, tail=0) as logs:
        line = await asyncio.wait_for(logs.stdout.readline(), 10)
    assert line.strip()


# ---- names with shell syntax ----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "a;touch /tmp/PWNED"},
        {"name": "$(touch /tmp/PWNED)"},
        {"name": "`touch /tmp/PWNED`"},
        {"name": "ok\ntouch /tmp/PWNED"},
        {"labels": {"fleet.app": "$(touch /tmp/PWNED)"}},
        {"labels": {"a;touch /tmp/PWNED": "x"}},
        {"image": "lab/web:1;touch /tmp/PWNED"},
        {"env": {"X;touch /tmp/PWNED": "1"}},
        {"volumes": (VolumeSpec("data`touch /tmp/PWNED`", "/data"),)},
        {"network": "container:x$(touch /tmp/PWNED)"},
    ],
)
async def test_shell_syntax_in_names_is_refused_before_any_ssh_command(
    inventory: Inventory, bad: dict[str, Any]
) -> None:
    marker = f"/tmp/fleet-pwned-{secrets.token_hex(4)}"
    fields = {k: _swap(v, "/tmp/PWNED", marker) for k, v in bad.items()}
    spec = ContainerRunSpec(**{"name": "fine", "image": WEB, **fields})
    async with SSHPool(inventory) as pool:
        with pytest.raises(UnsafeNameError):
            await Engine(pool).run("node2", spec)
        assert not pool.round_trips and not pool.connect_seconds  # not even a connection
        check = await pool.run("node2", ["sh", "-c", f"test -e {marker} && echo yes || echo no"])
    assert check.text.strip() == "no"
    assert not Path(marker).exists()


def _swap(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {_swap(k, old, new): _swap(v, old, new) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(
            VolumeSpec(_swap(v.source, old, new), v.target) if isinstance(v, VolumeSpec) else v
            for v in value
        )
    return value


async def test_shell_syntax_as_arguments_is_passed_literally(pool: SSHPool) -> None:
    marker = f"/tmp/fleet-pwned-{secrets.token_hex(4)}"
    nasty = [f"a;touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"x\ntouch {marker}"]
    result = await pool.run("node1", ["printf", "%s|", *nasty])
    assert result.text == "|".join(nasty) + "|"
    assert not Path(marker).exists()


# ---- sessions, deadlines, jump hosts --------------------------------------------------------


async def test_sessions_stay_under_max_sessions(pool: SSHPool) -> None:
    limit = pool.host("node1").max_sessions
    assert limit < 10  # sshd's MaxSessions
    took = time.monotonic()
    results = await asyncio.gather(*(pool.run("node1", ["sleep", "0.3"]) for _ in range(3 * limit)))
    assert all(r.ok for r in results)
    assert time.monotonic() - took >= 0.9  # three waves of `limit`, not 24 at once
    assert len(pool.connect_seconds) == 1  # all over one connection


async def test_deadline_covers_the_whole_command(pool: SSHPool) -> None:
    took = time.monotonic()
    with pytest.raises(RemoteTimeout, match="node1"):
        await pool.run("node1", ["sleep", "5"], timeout=0.5)
    assert time.monotonic() - took < 1.5
    assert (await pool.run("node1", ["echo", "still fine"])).text == "still fine\n"
    assert 0 < await pool.round_trip_ms("node1") < 1000


async def test_jump_host(lab: fleet_lab.LabInfo, tmp_path: Path) -> None:
    path = variant(lab, tmp_path, hosts={"node3": {"via": "node1"}})
    async with SSHPool(load_inventory(path)) as pool:
        result = await pool.run("node3", ["sh", "-c", "echo $SSH_CONNECTION; hostname"])
        client, *_ = result.text.split()
        assert client == lab.host("node1").address  # node3 saw the connection come from node1
        assert result.text.split()[-1] == "node3"
        assert set(pool.connect_seconds) == {"node1", "node3"}


async def test_a_host_that_was_down_is_tried_again(lab: fleet_lab.LabInfo,
                                                   inventory: Inventory) -> None:
    from fleet.errors import UnreachableError

    async with SSHPool(inventory, retry_after=0.3) as pool:
        fleet_lab.stop_sshd(lab.name, "node3")
        try:
            took = time.monotonic()
            with pytest.raises(UnreachableError, match="refused"):
                await pool.run("node3", ["true"])
            with pytest.raises(UnreachableError):  # the same answer, without a new attempt
                await pool.run("node3", ["true"])
            assert time.monotonic() - took < 1.0
        finally:
            fleet_lab.start_sshd(lab.name, "node3")
        deadline = time.monotonic() + 20
        while True:
            try:
                assert (await pool.run("node3", ["true"])).ok
                break
            except UnreachableError:
                assert time.monotonic() < deadline, "node3 never came back in the same pool"
                await asyncio.sleep(0.2)


async def test_a_key_the_host_does_not_accept_is_auth_failed(lab: fleet_lab.LabInfo,
                                                             tmp_path: Path) -> None:
    from fleet.errors import UnreachableError

    stranger = tmp_path / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    path = variant(lab, tmp_path, identity=str(stranger))
    async with SSHPool(load_inventory(path)) as pool:
        with pytest.raises(UnreachableError, match=f"auth failed: root@.*{stranger.name}"):
            await pool.run("node1", ["true"])


# ---- host keys ------------------------------------------------------------------------------


async def test_mismatching_host_key_is_refused_naming_both_fingerprints(
    lab: fleet_lab.LabInfo, tmp_path: Path
) -> None:
    wrong = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    path = variant(lab, tmp_path, known_hosts=str(known_hosts_with(lab, tmp_path, "node2", wrong)))
    marker = f"/tmp/fleet-hostkey-{secrets.token_hex(4)}"
    async with SSHPool(load_inventory(path)) as pool:
        with pytest.raises(HostKeyError) as caught:
            await pool.run("node2", ["touch", marker])
        assert (await pool.run("node1", ["true"])).ok  # the other hosts still work
    message = str(caught.value)
    assert message.startswith("node2: ")
    assert fingerprint(wrong) in message  # what known_hosts expects
    assert fingerprint(lab_key(lab, "node2")) in message  # what the host presented
    assert not Path(marker).exists()  # nothing ran there


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], capture_output=True,
                          text=True, timeout=60)


async def test_unknown_key_then_trust(lab: fleet_lab.LabInfo, tmp_path: Path) -> None:
    known = known_hosts_with(lab, tmp_path, "node2", None)
    path = variant(lab, tmp_path, known_hosts=str(known))
    async with SSHPool(load_inventory(path)) as pool:
        with pytest.raises(HostKeyError, match=f"fleet hosts trust node2 -i {path}"):
            await pool.run("node2", ["true"])
    real = fingerprint(lab_key(lab, "node2"))

    done = fleet("hosts", "trust", "node2", "-i", str(path), "--yes")
    assert done.returncode == 0, done.stderr
    assert real in done.stdout and "added" in done.stdout
    text = known.read_text()
    assert f"{lab.host('node2').address} ssh-ed25519" in text and "node2 ssh-ed25519" in text
    async with SSHPool(load_inventory(path)) as pool:
        assert (await pool.run("node2", ["true"])).ok

    # a different key recorded: refused without --replace, replaced with it
    wrong = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    known.write_text(known_hosts_with(lab, tmp_path, "node2", wrong).read_text())
    refused = fleet("hosts", "trust", "node2", "-i", str(path), "--yes")
    assert refused.returncode != 0 and "--replace" in refused.stderr
    assert fingerprint(wrong) in refused.stdout + refused.stderr
    replaced = fleet("hosts", "trust", "node2", "-i", str(path), "--yes", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert key_line(wrong) not in known.read_text()
    async with SSHPool(load_inventory(path)) as pool:
        assert (await pool.run("node2", ["true"])).ok


async def test_host_key_check_off_is_explicit_per_host(lab: fleet_lab.LabInfo,
                                                       tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    path = variant(lab, tmp_path, known_hosts=str(empty),
                   hosts={"node3": {"host_key_check": "off"}})
    async with SSHPool(load_inventory(path)) as pool:
        assert (await pool.run("node3", ["true"])).ok
        with pytest.raises(HostKeyError):
            await pool.run("node1", ["true"])


# ---- image push -----------------------------------------------------------------------------


async def test_pushed_image_runs_everywhere_with_the_identical_id(
    lab: fleet_lab.LabInfo, tmp_path: Path, started: Started
) -> None:
    tag = f"test/tiny:{secrets.token_hex(3)}"
    archive = tmp_path / "tiny.tar"
    image_id = write_archive(archive, tag, marker=tag)
    try:
        done = fleet("images", "push", "-i", str(lab.inventory_path), "--from-archive",
                     str(archive), "-o", "json")
        assert done.returncode == 0, done.stderr
        import json

        report = json.loads(done.stdout)
        assert report["schema"] == "fleet.images.push/v1"
        assert report["images"] == {tag: image_id}
        assert {h["host"]: h["status"] for h in report["hosts"]} == \
            {h.name: "loaded" for h in lab.hosts}
        assert report["bytes_read"] == archive.stat().st_size  # read once for all hosts
        for host in lab.hosts:
            assert docker(host, "image", "inspect", "-f", "{{.Id}}", tag).stdout.strip() == \
                image_id

        inv = load_inventory(lab.inventory_path)
        async with SSHPool(inv) as pool:
            engine = Engine(pool)
            for host in lab.hosts:
                name = started.name(host.name, "remote-tiny")
                await engine.run(host.name, ContainerRunSpec(name=name, image=tag))
                marker = await engine.exec(host.name, name, ["cat", "/marker"])
                assert marker.text.strip() == tag
            again = await push_images(pool, list(inv.hosts), ArchiveSource(archive))
            assert {h.status for h in again.hosts} == {"skipped"} and again.bytes_read == 0

        # one host lost it: pushed from another host, through the controller
        docker(lab.host("node3"), "rm", "-f", *[n for h, n in started.containers
                                                if h == "node3"], check=False)
        docker(lab.host("node3"), "rmi", tag)
        from_host = fleet("images", "push", "-i", str(lab.inventory_path), tag,
                          "--from-host", "node1", "-o", "json")
        assert from_host.returncode == 0, from_host.stderr
        statuses = {h["host"]: h["status"] for h in json.loads(from_host.stdout)["hosts"]}
        assert statuses == {"node1": "source", "node2": "skipped", "node3": "loaded"}
        wait_until(lambda: docker(lab.host("node3"), "image", "inspect", "-f", "{{.Id}}", tag)
                   .stdout.strip() == image_id, 5, what="the image on node3")
    finally:
        for host, name in started.containers:
            docker(lab.host(host), "rm", "-f", name, check=False)
        for host in lab.hosts:
            docker(host, "rmi", tag, check=False)


async def test_push_reports_a_down_host_and_loads_the_others(
    lab: fleet_lab.LabInfo, tmp_path: Path
) -> None:
    import json

    tag = f"test/tiny:{secrets.token_hex(3)}"
    archive = tmp_path / "tiny.tar"
    image_id = write_archive(archive, tag, marker=tag)
    fleet_lab.stop_sshd(lab.name, "node3")
    try:
        done = fleet("images", "push", "-i", str(lab.inventory_path), "--from-archive",
                     str(archive), "-o", "json")
        assert done.returncode == 3, done.stderr  # partial failure
        hosts = {h["host"]: h for h in json.loads(done.stdout)["hosts"]}
        assert hosts["node3"]["status"] == "failed" and "refused" in hosts["node3"]["reason"]
        assert hosts["node1"]["status"] == hosts["node2"]["status"] == "loaded"
        assert "node3" in done.stderr
        for name in ("node1", "node2"):
            assert docker(lab.host(name), "image", "inspect", "-f", "{{.Id}}", tag
                          ).stdout.strip() == image_id
    finally:
        fleet_lab.start_sshd(lab.name, "node3")
        for host in lab.hosts:
            docker(host, "rmi", tag, check=False)
