"""The lab's demo images, built offline in pure Python as docker-save archives.

No registry is reachable from the lab, so the images are made here from the
machine's static busybox plus the scripts in `assets/rootfs/`. Every image
shares ONE layer (busybox + all scripts) and differs only in its config
(command, environment, ports), so a host stores the layer once. Archives are
byte-for-byte deterministic: fixed mtimes, sorted entries, uid/gid 0, canonical
JSON. Same inputs -> same bytes -> the same image id on every host.

Archive format (what `docker save` writes and `docker load` reads):
    manifest.json          [{"Config": "<id>.json", "RepoTags": [ref], "Layers": ["<l>/layer.tar"]}]
    repositories           {"repo": {"tag": "<l>"}}
    <id>.json              the image config; its sha256 is the image id
    <l>/VERSION, <l>/json  legacy layer metadata
    <l>/layer.tar          the root filesystem; its sha256 is the layer's diff id
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EPOCH = 1704067200  # 2024-01-01T00:00:00Z: the mtime of every entry and the images' date
CREATED = "2024-01-01T00:00:00Z"
ASSETS = Path(__file__).parent / "assets" / "rootfs"
BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "[", "ash", "awk", "basename", "cat", "chmod", "cp", "cut", "date", "dd", "df", "dirname",
    "du", "echo", "env", "expr", "false", "free", "grep", "gzip", "head", "hostname", "httpd",
    "id", "ifconfig", "ip", "kill", "less", "ln", "ls", "md5sum", "mkdir", "mv", "nc",
    "netstat", "nslookup", "ping", "printf", "ps", "pwd", "readlink", "rm", "sed", "seq", "sh",
    "sha256sum", "sleep", "sort", "stat", "tail", "tar", "tee", "test", "timeout", "top",
    "touch", "tr", "true", "uname", "uptime", "vi", "wc", "which", "xargs", "yes",
)
# directories of the root filesystem besides those holding assets
EMPTY_DIRS = {"data": 0o755, "tmp": 0o1777, "root": 0o700}
EXECUTABLE_DIRS = ("app/", "www/cgi-bin/")


@dataclass(frozen=True)
class ImageSpec:
    """One demo image: its reference and the config that sets it apart."""

    ref: str
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    ports: tuple[int, ...] = ()
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def _web(ref: str, name: str, version: str, description: str, *extra: str) -> ImageSpec:
    return ImageSpec(
        ref, ("/app/web",), (f"APP_NAME={name}", f"APP_VERSION={version}", *extra), (8080,),
        description,
    )


IMAGES: tuple[ImageSpec, ...] = (
    _web("lab/web:1", "web", "1", "HTTP on 8080: / names version and replica; "
         "/healthz, /readyz; /cgi-bin/fail|recover|burn|fetch"),
    _web("lab/web:2", "web", "2", "lab/web, version 2"),
    _web("lab/web:broken", "web", "broken", "lab/web whose readiness never succeeds",
         "WEB_BROKEN=1"),
    ImageSpec("lab/worker:1", ("/app/worker",), ("APP_NAME=worker", "APP_VERSION=1"), (),
              "no port; a tick line every 2 s; exits on SIGTERM"),
    _web("lab/kv:1", "kv", "1", "HTTP on 8080: GET/POST /cgi-bin/kv?k=KEY, values in /data"),
    ImageSpec("lab/crash:1", ("/app/crash",), ("APP_NAME=crash", "APP_VERSION=1"), (),
              "exits 1 about a second after it starts"),
    _web("hitchhikersguide/zwitscher-service:1.0.1", "zwitscher-service", "1.0.1",
         "the lecture's service: HTTP on 8080, readiness /admin/info, liveness /admin/health"),
)


def image(ref: str) -> ImageSpec:
    for spec in IMAGES:
        if spec.ref == ref:
            return spec
    raise KeyError(f"{ref!r} is not a lab image ({', '.join(s.ref for s in IMAGES)})")


def docker_arch(machine: str | None = None) -> str:
    """Docker's name for the machine's architecture (x86_64 -> amd64)."""
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = link
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda e: e[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def layer_tar(busybox: bytes, assets: Path = ASSETS) -> bytes:
    """The one root-filesystem layer: busybox, its applet links, the asset scripts."""
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    dirs: dict[str, int] = {"bin": 0o755, **EMPTY_DIRS}
    entries.append((_info("bin/busybox", tarfile.REGTYPE, 0o755, len(busybox)), busybox))
    for applet in APPLETS:
        entries.append((_info(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"), None))
    for path in sorted(assets.rglob("*")):
        rel = path.relative_to(assets).as_posix()
        if path.is_dir():
            dirs[rel] = 0o755
            continue
        data = path.read_bytes()
        mode = 0o755 if rel.startswith(EXECUTABLE_DIRS) else 0o644
        entries.append((_info(rel, tarfile.REGTYPE, mode, len(data)), data))
    # the lecture's probe paths are the same files as /healthz and /readyz
    dirs["www/admin"] = 0o755
    entries.append((_info("www/admin/health", tarfile.SYMTYPE, 0o777, link="../healthz"), None))
    entries.append((_info("www/admin/info", tarfile.SYMTYPE, 0o777, link="../readyz"), None))
    for name, mode in dirs.items():
        entries.append((_info(name, tarfile.DIRTYPE, mode), None))
    return _tar(entries)


def image_config(spec: ImageSpec, diff_id: str, arch: str) -> bytes:
    """The image config JSON (canonical bytes: its sha256 is the image id)."""
    config: dict[str, Any] = {
        "Cmd": list(spec.cmd),
        "Env": ["PATH=/bin", *spec.env],
        "WorkingDir": "/",
        "Labels": {
            "org.opencontainers.image.title": spec.ref,
            "org.opencontainers.image.description": spec.description,
            **spec.labels,
        },
    }
    if spec.ports:
        config["ExposedPorts"] = {f"{p}/tcp": {} for p in spec.ports}
    return _canonical(
        {
            "architecture": arch,
            "os": "linux",
            "created": CREATED,
            "config": config,
            "history": [{"created": CREATED, "created_by": "fleet lab images"}],
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        }
    )


def archive(specs: Sequence[ImageSpec], layer: bytes, arch: str) -> tuple[list[str], bytes]:
    """(image id hexes, docker-save archive bytes) holding `specs`, which share `layer`."""
    diff_id = hashlib.sha256(layer).hexdigest()
    layer_dir = diff_id
    configs = [image_config(spec, diff_id, arch) for spec in specs]
    ids = [hashlib.sha256(config).hexdigest() for config in configs]
    layers = [f"{layer_dir}/layer.tar"]
    manifest = [
        {"Config": f"{image_id}.json", "RepoTags": [spec.ref], "Layers": layers}
        for spec, image_id in zip(specs, ids, strict=True)
    ]
    repositories: dict[str, dict[str, str]] = {}
    for spec in specs:
        repo, _, tag = spec.ref.rpartition(":")
        repositories.setdefault(repo, {})[tag] = layer_dir
    files = {
        f"{layer_dir}/VERSION": b"1.0",
        f"{layer_dir}/json": _canonical({"id": layer_dir, "created": CREATED, "os": "linux"}),
        f"{layer_dir}/layer.tar": layer,
        **{f"{image_id}.json": config for image_id, config in zip(ids, configs, strict=True)},
        "manifest.json": _canonical(manifest),
        "repositories": _canonical(repositories),
    }
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info(layer_dir, tarfile.DIRTYPE, 0o755), None)
    ]
    entries += [(_info(n, tarfile.REGTYPE, 0o644, len(d)), d) for n, d in files.items()]
    return ids, _tar(entries)


def image_archive(spec: ImageSpec, layer: bytes, arch: str) -> tuple[str, bytes]:
    """(image id hex, docker-save archive bytes) of one image."""
    ids, data = archive([spec], layer, arch)
    return ids[0], data


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    image_id: str  # "sha256:<hex>", as `docker image inspect` shows it
    path: Path


def archive_name(ref: str, image_id_hex: str) -> str:
    """Cache file name: content hash first, then the reference made file-name safe."""
    safe = ref.replace("/", "_").replace(":", "_")
    return f"{image_id_hex[:16]}-{safe}.tar"


def _store(path: Path, data: bytes) -> Path:
    if not path.exists() or path.stat().st_size != len(data):
        # write-then-rename: labs coming up at the same time share the cache
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class ImageSet:
    """Built archives: one per image, and a bundle of them all (one `docker load`)."""

    images: list[BuiltImage]
    bundle: Path


def build(
    cache: Path, refs: list[str] | None = None, busybox: Path = BUSYBOX,
    assets: Path = ASSETS, arch: str | None = None,
) -> ImageSet:
    """Build (or find in `cache`, named by content hash) the lab images' archives."""
    specs = [image(r) for r in refs] if refs else list(IMAGES)
    layer = layer_tar(busybox.read_bytes(), assets)
    arch = arch or docker_arch()
    cache.mkdir(parents=True, exist_ok=True)
    built = []
    for spec in specs:
        image_id, data = image_archive(spec, layer, arch)
        path = _store(cache / archive_name(spec.ref, image_id), data)
        built.append(BuiltImage(spec.ref, f"sha256:{image_id}", path))
    _, data = archive(specs, layer, arch)
    bundle = _store(cache / f"{hashlib.sha256(data).hexdigest()[:16]}-lab-images.tar", data)
    return ImageSet(built, bundle)


def build_images(
    cache: Path, refs: list[str] | None = None, busybox: Path = BUSYBOX,
    assets: Path = ASSETS, arch: str | None = None,
) -> list[BuiltImage]:
    """Build (or find in `cache`) the archives of the lab images; returns them in order."""
    return build(cache, refs, busybox, assets, arch).images
