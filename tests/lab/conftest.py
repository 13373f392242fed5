"""The lab the lab tests run against: $FLEET_TEST_LAB if set (CI brings it up before
pytest), else a 3-host lab named "pytest", brought up once and removed at the end."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fleet import lab as fleet_lab
from fleet.remote.ssh import SSHPool
from fleet.spec.inventory import Inventory
from fleet.spec.loader import load_inventory
from tests.lab.fleetrun import Fleet, clean

OWN_LAB = "pytest"


@pytest.fixture(scope="session")
def lab() -> Iterator[fleet_lab.LabInfo]:
    name = os.environ.get("FLEET_TEST_LAB")
    if name:
        yield fleet_lab.load(name)
        return
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces, dockerd); or set FLEET_TEST_LAB")
    try:
        info = fleet_lab.up(OWN_LAB, hosts=3, lb=1)
    except BaseException:
        fleet_lab.down(OWN_LAB)
        raise
    try:
        yield info
    finally:
        fleet_lab.down(OWN_LAB)


@pytest.fixture
def fleet(lab: fleet_lab.LabInfo, tmp_path: Path) -> Iterator[Fleet]:
    """The `fleet` CLI with a private state dir, on hosts without fleet containers (before
    and after)."""
    clean(lab)
    yield Fleet(lab, tmp_path / "state")
    clean(lab)


@pytest.fixture
def inventory(lab: fleet_lab.LabInfo) -> Inventory:
    return load_inventory(lab.inventory_path)


@pytest.fixture
async def pool(inventory: Inventory) -> AsyncIterator[SSHPool]:
    async with SSHPool(inventory) as opened:
        yield opened
