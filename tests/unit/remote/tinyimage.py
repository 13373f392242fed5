"""A tiny image archive in `docker save` format, built in Python from /bin/busybox (for tests).

No engine needed to make it; `docker load` accepts it, and its image id is
known up front (the sha256 of the config document), so tests can check that
every host ends with exactly that id. The archive is the lab images' format
(`fleet.lab.images.image_archive`) around a layer of its own.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from fleet.lab.images import ImageSpec, image_archive

BUSYBOX = Path("/bin/busybox")


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int = 0o644,
         kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname, info.mtime = mode, kind, link, 0
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer(marker: str, busybox: Path = BUSYBOX) -> bytes:
    """A rootfs layer: busybox, sh/echo/sleep/cat links, and /marker holding `marker`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, "bin", None, 0o755, tarfile.DIRTYPE)
        _add(tar, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in ("sh", "echo", "sleep", "cat", "true"):
            _add(tar, f"bin/{applet}", None, 0o777, tarfile.SYMTYPE, "busybox")
        _add(tar, "marker", marker.encode() + b"\n")
    return buf.getvalue()


def write_archive(path: Path, tag: str, marker: str = "tiny") -> str:
    """Write a one-image archive tagged `tag`; returns its image id `sha256:...`."""
    cmd = ("/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait")
    image_hex, data = image_archive(ImageSpec(tag, cmd, ()), layer(marker), "amd64")
    path.write_bytes(data)
    return "sha256:" + image_hex
