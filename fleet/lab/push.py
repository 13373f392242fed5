"""Getting the demo images into a lab host's engine.

For now straight through the host's local docker socket; fleet's own
`fleet images push` (over SSH) will take over this step, which is why it is
one small function.
"""

from __future__ import annotations

from pathlib import Path

from fleet.lab.dockerapi import DockerSocket
from fleet.lab.images import BuiltImage


def load_images(docker_socket: Path, images: list[BuiltImage], bundle: Path | None = None
                ) -> list[str]:
    """Load every image the engine lacks (compared by image id); returns the refs loaded.

    With a `bundle` (one archive holding all of `images`), one load brings them all.
    """
    engine = DockerSocket(docker_socket, timeout=120.0)
    missing = [i for i in images if engine.image_id(i.ref) != i.image_id]
    if missing and bundle is not None:
        engine.load(bundle)
    else:
        for image in missing:
            engine.load(image.path)
    return [i.ref for i in missing]
