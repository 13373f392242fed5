"""Getting the demo images into the lab hosts' engines the way a user without a registry
does: `fleet images push` over SSH (docker save archive -> docker load on every host,
skipping hosts that already have the same image ids)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fleet.errors import LabError


def push_bundle(inventory_path: Path, bundle: Path) -> list[str]:
    """Push the archive to every host of the lab's inventory; returns the hosts loaded."""
    from fleet.remote.images import ArchiveSource, push_images
    from fleet.remote.ssh import SSHPool
    from fleet.spec.loader import load_inventory

    inventory = load_inventory(inventory_path)

    async def push() -> list[str]:
        async with SSHPool(inventory) as pool:
            report = await push_images(pool, list(inventory.hosts), ArchiveSource(bundle))
        if report.failed:
            raise LabError(
                "image push failed on "
                + ", ".join(f"{h.host} ({h.reason})" for h in report.failed)
            )
        return [h.host for h in report.hosts if h.status == "loaded"]

    return asyncio.run(push())
