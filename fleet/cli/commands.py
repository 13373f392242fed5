"""Imports every command module so that each registers its commands on the app."""

from fleet.cli import (
    apply_cmd,  # noqa: F401
    common,  # noqa: F401
    lab_cmd,  # noqa: F401
    ops_cmd,  # noqa: F401
    remote_cmd,  # noqa: F401
    spec_cmd,  # noqa: F401
    ui_cmd,  # noqa: F401
    vagrant_cmd,  # noqa: F401
)
