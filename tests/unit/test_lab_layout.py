"""Lab naming, addresses, subnet choice and socket-path limits (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import FleetError, LabError
from fleet.lab import layout


def test_default_lab_prefers_a_fixed_subnet():
    # the committed inventories/lab.yaml relies on this being stable across machines
    assert layout.preferred_octet("fleet") == 10
    assert layout.choose_octet("fleet", []) == 10


def test_subnet_choice_skips_taken_and_wraps():
    start = layout.preferred_octet("x")
    assert layout.choose_octet("x", [start]) == (start % 254) + 1
    everything_but_one = set(range(1, 255)) - {3}
    assert layout.choose_octet("x", everything_but_one) == 3
    with pytest.raises(LabError, match="no free /24"):
        layout.choose_octet("x", range(1, 255))


def test_octets_in_use_reads_only_the_lab_range():
    found = layout.octets_in_use(["10.77.5.1/24", "10.88.0.1/24", "127.0.0.1/8", "junk"])
    assert found == {5}


def test_addresses():
    assert layout.host_address(7, 1) == "10.77.7.11"
    assert layout.host_address(7, 30) == "10.77.7.40"
    assert layout.bridge_address(7) == "10.77.7.1"
    assert layout.subnet(7) == "10.77.7.0/24"


@pytest.mark.parametrize("name", ["fleet", "pytest", "a", "a-very-long-lab-name"])
def test_interface_names_fit_and_differ(name):
    bridge = layout.bridge_name(name)
    veths = {layout.veth_name(name, i) for i in range(1, 241)}
    assert len(bridge) <= 15
    assert all(len(v) <= 15 for v in veths)
    assert len(veths) == 240
    assert bridge not in veths


def test_interface_names_of_different_labs_differ():
    names = ["fleet", "pytest", "fan", "a-very-long-lab-name", "another-long-lab-nam"]
    bridges = {layout.bridge_name(n) for n in names}
    veths = {layout.veth_name(n, 1) for n in names}
    assert len(bridges) == len(names)
    assert len(veths) == len(names)


def test_short_names_stay_readable():
    assert layout.bridge_name("fleet") == "flb-fleet"
    assert layout.veth_name("fleet", 3) == "fl-fleet-3"
    assert layout.netns_name("fleet", 3) == "fleet-fleet-node3"


@pytest.mark.parametrize("bad", ["", "Fleet", "a;b", "-x", "x" * 21, "$(id)", "a b"])
def test_bad_lab_names_are_refused(bad):
    with pytest.raises(FleetError):
        layout.validate_name(bad)


@pytest.mark.parametrize(("host", "index"), [("node1", 1), ("node30", 30)])
def test_host_index(host, index):
    assert layout.host_index(host) == index


@pytest.mark.parametrize("bad", ["node0", "node", "node01", "nodex", "host1", "node-1"])
def test_host_index_refuses_other_names(bad):
    with pytest.raises(LabError):
        layout.host_index(bad)


def test_socket_paths_checked_against_sun_path_limit():
    layout.check_socket_paths(layout.LabPaths(layout.DEFAULT_ROOT, "x" * 20), 240)
    deep = Path("/tmp") / ("d" * 60)
    with pytest.raises(LabError, match="unix socket"):
        layout.check_socket_paths(layout.LabPaths(deep, "fleet"), 3)


def test_lab_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(layout.ROOT_ENV, raising=False)
    assert layout.lab_root() == Path("/var/lib/fleet/labs")
    monkeypatch.setenv(layout.ROOT_ENV, str(tmp_path))
    assert layout.lab_root() == tmp_path


def test_marker_does_not_match_a_lab_whose_name_extends_it():
    a = layout.LabPaths(Path("/r"), "lab")
    b = layout.LabPaths(Path("/r"), "lab2")
    assert a.marker not in str(b.host(1).docker_socket)
