"""Rendering of the lab's daemon configs, inventory and known_hosts (pure)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fleet.lab import daemons, layout
from fleet.lab.inventory import render_inventory, render_known_hosts
from fleet.lab.model import Shape
from fleet.lab.record import Params
from fleet.spec.loader import load_inventory

REPO = Path(__file__).resolve().parents[2]


def shape(name="fleet", hosts=3, lb=1, root=layout.DEFAULT_ROOT, octet=None):
    octet = layout.preferred_octet(name) if octet is None else octet
    return Shape(layout.LabPaths(root, name), octet, Params(hosts, lb, "2", "2Gi"))


def test_committed_lab_inventory_is_what_the_default_lab_writes():
    committed = (REPO / "inventories" / "lab.yaml").read_text()
    assert committed == render_inventory(shape())


def test_inventory_loads_and_describes_the_lab(tmp_path):
    s = shape("demo", hosts=4, lb=2, root=tmp_path, octet=42)
    path = tmp_path / "inventory.yaml"
    path.write_text(render_inventory(s))
    inv = load_inventory(path)
    assert inv.name == "demo"
    assert [h.name for h in inv] == ["node1", "node2", "node3", "node4"]
    assert [h.address for h in inv] == [f"10.77.42.{10 + i}" for i in range(1, 5)]
    assert [h.zone for h in inv] == ["a", "b", "c", "a"]
    assert [h.is_lb for h in inv] == [True, True, False, False]
    for h in inv:
        assert h.user == "root"
        assert h.identity == tmp_path / "demo" / "id_ed25519"
        assert h.known_hosts == tmp_path / "demo" / "known_hosts"
        assert h.labels == {"lab": "demo"}
        assert h.capacity is not None
        assert (h.capacity.cpu, h.capacity.memory) == (2000, 2 * 2**30)
    lb = inv.host("node2")
    assert lb.haproxy.reload == "master-socket"
    assert lb.haproxy.config == str(tmp_path / "demo" / "node2" / "haproxy" / "haproxy.cfg")
    assert lb.haproxy.master_socket == str(tmp_path / "demo" / "node2" / "haproxy" / "master.sock")


def test_inventory_rendering_is_deterministic():
    assert render_inventory(shape("a", hosts=30)) == render_inventory(shape("a", hosts=30))
    doc = yaml.safe_load(render_inventory(shape("a", hosts=2, lb=0)))
    assert all("roles" not in h and "haproxy" not in h for h in doc["hosts"])


def test_known_hosts_lists_each_key_under_address_and_name():
    s = shape("k", hosts=2, octet=9)
    text = render_known_hosts(s, {"node1": "ssh-ed25519 AAA1", "node2": "ssh-ed25519 AAA2"})
    assert text.splitlines() == [
        "10.77.9.11 ssh-ed25519 AAA1",
        "node1 ssh-ed25519 AAA1",
        "10.77.9.12 ssh-ed25519 AAA2",
        "node2 ssh-ed25519 AAA2",
    ]


def test_sshd_config_binds_the_host_address_with_its_own_key_and_engine():
    spec = shape("s", octet=5).spec(2)
    text = daemons.render_sshd_config(spec)
    lines = text.splitlines()
    assert "ListenAddress 10.77.5.12" in lines
    assert f"HostKey {spec.paths.host_key}" in lines
    assert f"PidFile {spec.paths.sshd_pidfile}" in lines
    assert "PasswordAuthentication no" in lines
    assert "PermitRootLogin prohibit-password" in lines
    assert f"SetEnv DOCKER_HOST=unix://{spec.paths.docker_socket} HOME={spec.paths.home}" in lines


@pytest.mark.skipif(shutil.which("sshd", path="/usr/sbin:/usr/bin") is None, reason="no sshd")
def test_sshd_accepts_its_config(tmp_path):
    spec = shape("s", root=tmp_path).spec(1)
    spec.paths.dir.mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(spec.paths.host_key)],
                   check=True)
    spec.paths.sshd_config.write_text(daemons.render_sshd_config(spec))
    done = subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(spec.paths.sshd_config)],
                          capture_output=True, text=True)
    # as non-root sshd -t may only complain about the privilege separation directory
    assert done.returncode == 0 or "privilege separation" in done.stderr, done.stderr


@pytest.mark.skipif(shutil.which("haproxy", path="/usr/sbin:/usr/bin") is None,
                    reason="no haproxy")
def test_minimal_haproxy_config_is_valid(tmp_path):
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(daemons.render_haproxy_config("node1"))
    done = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
