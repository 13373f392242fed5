"""Inventories: defaults, groups, selectors, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import SpecError, SpecErrors
from fleet.spec.inventory import Engine, HostKeyCheck, parse_selector
from fleet.spec.loader import load_inventory
from tests.unit.spec.helpers import ROOT, write

INVENTORY = """\
name: test
defaults:
  user: deploy
  identity: keys/id
  engine: podman
  connect_timeout: 2s
hosts:
  - name: lb1
    address: 10.0.0.1
    roles: [lb]
    zone: a
    labels: {disk: ssd}
  - name: n1
    address: 10.0.0.2
    zone: b
    labels: {disk: hdd, gpu: "yes"}
    user: root
    via: lb1
    capacity: {cpu: "1.5", memory: 2Gi}
groups:
  fast:
    selector: {disk: ssd}
  gpus:
    hosts: [n1]
"""


def test_defaults_apply_and_hosts_override(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "inv.yaml", INVENTORY))
    lb1, n1 = inv.host("lb1"), inv.host("n1")
    assert (lb1.user, n1.user) == ("deploy", "root")
    assert lb1.identity == tmp_path / "keys" / "id"
    assert lb1.engine is Engine.podman and lb1.connect_timeout == 2.0
    assert lb1.host_key_check is HostKeyCheck.verify
    assert n1.capacity is not None and (n1.capacity.cpu, n1.capacity.memory) == (1500, 2**31)
    assert [h.name for h in inv.lb_hosts] == ["lb1"] and len(inv) == 2


def test_groups_selectors_and_targets(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "inv.yaml", INVENTORY))
    names = lambda hosts: [h.name for h in hosts]  # noqa: E731
    assert names(inv.group("fast")) == ["lb1"] and names(inv.group("gpus")) == ["n1"]
    assert names(inv.select({"disk": "hdd"})) == ["n1"]
    assert names(inv.select("zone=a")) == ["lb1"]
    assert names(inv.select("disk!=ssd,gpu")) == ["n1"]
    assert names(inv.select("!gpu")) == ["lb1"]
    assert names(inv.resolve("all")) == ["lb1", "n1"]
    assert names(inv.resolve("n1")) == ["n1"] and names(inv.resolve("fast")) == ["lb1"]
    assert names(inv.resolve("topology.kubernetes.io/zone=b")) == ["n1"]
    with pytest.raises(KeyError, match="not a host, group or label selector"):
        inv.resolve("nope")
    assert inv.host("n1").matches({"kubernetes.io/hostname": "n1", "gpu": "yes"})
    assert parse_selector("a=b, c") == [("a", "=", "b"), ("c", "exists", None)]


@pytest.mark.parametrize(
    ("change", "message", "where"),
    [
        (
            ("    address: 10.0.0.2", "    adress: 10.0.0.2"),
            'did you mean "address"?',
            ":14 hosts[1].adress",
        ),
        (
            ("  - name: n1", '  - name: "n1;reboot"'),
            "is not a valid DNS-1123 label",
            ":13 hosts[1].name",
        ),
        (("via: lb1", "via: n9"), "via 'n9' is not a host", ":18 hosts[1].via"),
        (
            ("    address: 10.0.0.2", "    address: 10.0.0.1"),
            "is also host 'lb1'",
            ":14 hosts[1].address",
        ),
        (
            ("labels: {disk: hdd", 'labels: {"a b": x, disk: hdd'),
            "label key 'a b'",
            ':16 hosts[1].labels["a b"]',
        ),
        (("hosts: [n1]", "hosts: [n2]"), "'n2' is not a host", ":24 groups.gpus.hosts[0]"),
        (("engine: podman", "engine: rkt"), '"rkt" is not allowed here', ":5 defaults.engine"),
        (
            ("connect_timeout: 2s", "connect_timeout: soon"),
            "is not a duration",
            ":6 defaults.connect_timeout",
        ),
        (('cpu: "1.5"', "cpu: lots"), "is not a CPU quantity", ":19 hosts[1].capacity.cpu"),
        (("  fast:", "  lb1:"), "has the name of a host", ":21 groups.lb1"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], message: str, where: str
) -> None:
    path = write(tmp_path, "inv.yaml", INVENTORY.replace(*change))
    with pytest.raises(SpecErrors) as caught:
        load_inventory(path)
    texts = [str(e) for e in caught.value.errors]
    assert any(t.startswith(f"{path}{where}") and message in t for t in texts), texts


def test_jump_host_loops(tmp_path: Path) -> None:
    text = INVENTORY.replace("    zone: a\n", "    zone: a\n    via: n1\n", 1)
    with pytest.raises(SpecErrors, match="jump hosts form a loop"):
        load_inventory(write(tmp_path, "inv.yaml", text))


def test_not_an_inventory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="an inventory is one YAML mapping"):
        load_inventory(write(tmp_path, "inv.yaml", "- a\n"))
    with pytest.raises(SpecError, match="cannot read inventory"):
        load_inventory(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", ["lab.yaml", "example.yaml"])
def test_shipped_inventories_load(name: str) -> None:
    assert len(load_inventory(ROOT / "inventories" / name)) >= 3


def test_loading_an_inventory_does_not_import_the_blueprint_models() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from fleet.spec.loader import load_inventory; "
        f"load_inventory(Path({str(ROOT / 'inventories' / 'lab.yaml')!r})); "
        "print(sorted(m for m in sys.modules if m.startswith('fleet.spec')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "fleet.spec.blueprint" not in out.stdout and "fleet.spec.pod" not in out.stdout
