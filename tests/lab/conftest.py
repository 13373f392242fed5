"""The lab the lab tests run against: $FLEET_TEST_LAB if set (CI brings it up before
pytest), else a 3-host lab named "pytest", brought up once and removed at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fleet import lab as fleet_lab

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
