"""The UI's pure parts: formatting, folding updates into the model, synthetic source, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from fleet.cli.ui_cmd import parse_synthetic
from fleet.tui import format as fmt
from fleet.tui.model import ClusterModel
from fleet.tui.source import HostRow, HostUpdate, ReplicaRow, ServiceRef, Snapshot, Update
from fleet.tui.synthetic import SyntheticSource
from fleet.tui.views.hosts import host_is_stale
from tests.unit.tui.conftest import T0, FakeClock


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (-3, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
    (3599, "59m"), (3600, "1h"), (3660, "1h1m"), (36000, "10h"), (86400 * 3, "3d"),
])
def test_age_reads_like_kubectl(seconds: float | None, text: str) -> None:
    assert fmt.age(seconds) == text


def test_units() -> None:
    assert fmt.millicores(250) == "250m"
    assert fmt.millicores(2000) == "2"
    assert fmt.memory(512 * 2**20) == "512Mi"
    assert fmt.memory(3 * 2**29) == "1.5Gi"
    assert fmt.memory(48 * 2**30) == "48Gi"
    assert fmt.percent(1, 3) == 33 and fmt.percent(5, 0) == 0


def test_cells_sort_naturally_and_compare_by_style() -> None:
    names = ["node10", "node2", "node1"]
    assert sorted(names, key=lambda n: fmt.Cell(n).sort_key) == ["node1", "node2", "node10"]
    assert fmt.Cell("yes", "green") == fmt.Cell("yes", "green")
    assert fmt.Cell("yes", "green") != fmt.Cell("yes", "red")
    assert fmt.ratio(2, 3) != fmt.ratio(3, 3)


def _replica(host: str, slot: int, ready: bool = True) -> ReplicaRow:
    return ReplicaRow(pod=f"web-{slot}.abc", replica=f"web-{slot}", service="web", app="shop",
                      host=host, state="running", ready=ready)


def test_a_host_update_replaces_only_that_hosts_replicas() -> None:
    model = ClusterModel()
    a, b = HostRow("a", "10.0.0.1", True), HostRow("b", "10.0.0.2", True)
    assert model.apply(HostUpdate(a, (_replica("a", 0), _replica("a", 1)))) == \
        {"hosts", "replicas"}
    model.apply(HostUpdate(b, (_replica("b", 2),)))
    changed = model.apply(HostUpdate(a, (_replica("a", 0, ready=False),)))
    assert changed == {"replicas"}  # host row unchanged, one replica gone, one changed
    assert sorted(model.replicas) == ["shop/web-0.abc@a", "shop/web-2.abc@b"]
    assert model.apply(HostUpdate(a, (_replica("a", 0, ready=False),))) == set()


def test_a_snapshot_replaces_everything_and_dates_the_picture() -> None:
    model = ClusterModel()
    model.apply(HostUpdate(HostRow("gone", "10.0.0.9", True), (_replica("gone", 0),)))
    snap = Snapshot(hosts=(HostRow("a", "10.0.0.1", True),), services=(), replicas=(),
                    frontends=(), observed_at=T0)
    assert model.apply(snap) == {"hosts", "replicas"}
    assert list(model.hosts) == ["a"] and not model.replicas
    assert model.observed_at == T0
    versions = dict(model.versions)
    assert model.apply(snap) == set()
    assert model.versions == versions


def test_events_are_a_bounded_tail_without_duplicates() -> None:
    from fleet.tui.source import EventRow

    model = ClusterModel()
    events = [EventRow(id=i, time=T0, kind="x", message=str(i)) for i in range(1, 4)]
    assert model.add_events(events)
    assert not model.add_events(events[:2])
    assert model.last_event_id == 3


def test_stale_means_unreachable_or_older_than_allowed() -> None:
    fresh = HostRow("a", "10.0.0.1", True, observed_at=T0)
    assert not host_is_stale(fresh, T0 + 4, stale_after=4)
    assert host_is_stale(fresh, T0 + 4.1, stale_after=4)
    assert host_is_stale(HostRow("a", "10.0.0.1", False, observed_at=T0), T0, stale_after=4)
    assert host_is_stale(HostRow("a", "10.0.0.1", True), T0, stale_after=4)  # never observed


async def collect(source: SyntheticSource) -> list[Update]:
    return [update async for update in source.refresh()]


async def test_synthetic_cluster_is_deterministic_and_sized_as_asked() -> None:
    first = await collect(SyntheticSource(hosts=50, replicas=1000, seed=4, clock=FakeClock()))
    second = await collect(SyntheticSource(hosts=50, replicas=1000, seed=4, clock=FakeClock()))
    assert first == second
    snap = first[-1]
    assert isinstance(snap, Snapshot)
    assert len(first) == 51  # one update per host, then the snapshot
    assert len(snap.hosts) == 50
    assert len(snap.replicas) == 1000
    assert sum(h.replicas for h in snap.hosts) == 1000
    assert len({r.key for r in snap.replicas}) == 1000


async def test_synthetic_actions_change_the_state_and_are_journaled() -> None:
    source = SyntheticSource(clock=FakeClock())
    web = ServiceRef("shop", "web")
    assert (await source.scale(web, 5)).ok
    snap = (await collect(source))[-1]
    assert isinstance(snap, Snapshot)
    assert next(s for s in snap.services if s.ref == web).desired == 5
    assert not (await source.scale(web, 9999)).ok
    assert (await source.cordon("node1")).ok
    assert (await source.cordon("node1")).message == "node1 already cordoned"
    events = await source.events(0)
    assert [e.message for e in events][-2:] == ["scaled shop/web from 3 to 5 replicas",
                                               "cordoned node1"]
    assert await source.events(events[-1].id) == []


def test_synthetic_flag_parses_hosts_by_replicas() -> None:
    assert parse_synthetic("50x1000") == (50, 1000)
    for bad in ("50", "x10", "0x5", "5x-1", "fifty"):
        with pytest.raises(typer.BadParameter):
            parse_synthetic(bad)


def test_the_cli_does_not_import_textual_until_the_ui_runs() -> None:
    code = ("import sys; from fleet.cli.main import _register; _register(); "
            "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_ui_needs_a_terminal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from fleet.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "-i", str(tmp_path / "inventory.yaml")])
    assert exit_info.value.code == 1
    assert "fleet ui needs a terminal" in capsys.readouterr().err
