"""A tiny image archive in `docker save` format, built in Python from /bin/busybox (for tests).

No engine needed to make it; `docker load` accepts it, and its image id is
known up front (the sha256 of the config document), so tests can check that
every host ends with exactly that id.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

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
    layer_bytes = layer(marker)
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "fleet tests tinyimage"}],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    image_hex = hashlib.sha256(config).hexdigest()
    layer_dir = hashlib.sha256(layer_bytes).hexdigest()
    manifest = json.dumps(
        [{"Config": f"{image_hex}.json", "RepoTags": [tag], "Layers": [f"{layer_dir}/layer.tar"]}]
    ).encode()
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, f"{image_hex}.json", config)
        _add(tar, f"{layer_dir}/", None, 0o755, tarfile.DIRTYPE)
        _add(tar, f"{layer_dir}/layer.tar", layer_bytes)
        _add(tar, "manifest.json", manifest)
    return "sha256:" + image_hex
