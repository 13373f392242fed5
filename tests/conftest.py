"""Settings for the whole suite."""

from __future__ import annotations

import os

from hypothesis import settings

# The test run must be reproducible: property tests use a fixed seed (the same examples
# every run). Set FLEET_HYPOTHESIS_RANDOM=1 to explore new examples while developing.
settings.register_profile("fleet", derandomize=not os.environ.get("FLEET_HYPOTHESIS_RANDOM"))
settings.load_profile("fleet")
