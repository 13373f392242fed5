"""Imports every command module so that each registers its commands on the app."""

from fleet.cli import common  # noqa: F401
