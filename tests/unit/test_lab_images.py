"""The demo images: deterministic docker-save archives in the format `docker load` reads."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from fleet.lab import images

FAKE_BUSYBOX = b"\x7fELF not really busybox\n" * 100


@pytest.fixture
def busybox(tmp_path) -> Path:
    path = tmp_path / "busybox"
    path.write_bytes(FAKE_BUSYBOX)
    return path


def members(data: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for info in tar.getmembers():
            f = tar.extractfile(info) if info.isfile() else None
            found[info.name] = (info, f.read() if f else None)
    return found


def test_same_inputs_give_identical_archives(tmp_path, busybox):
    first = images.build_images(tmp_path / "a", busybox=busybox, arch="amd64")
    second = images.build_images(tmp_path / "b", busybox=busybox, arch="amd64")
    assert [b.image_id for b in first] == [b.image_id for b in second]
    for a, b in zip(first, second, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert a.path.name == b.path.name


def test_every_image_is_built_with_a_distinct_id(tmp_path, busybox):
    built = images.build_images(tmp_path, busybox=busybox, arch="amd64")
    refs = [b.ref for b in built]
    assert refs == [s.ref for s in images.IMAGES]
    assert {"lab/web:1", "lab/web:2", "lab/web:broken", "lab/worker:1", "lab/kv:1",
            "lab/crash:1", "hitchhikersguide/zwitscher-service:1.0.1"} <= set(refs)
    assert len({b.image_id for b in built}) == len(built)


def test_other_inputs_give_other_ids(tmp_path, busybox):
    before = images.build_images(tmp_path / "a", ["lab/web:1"], busybox=busybox, arch="amd64")
    busybox.write_bytes(FAKE_BUSYBOX + b"x")
    after = images.build_images(tmp_path / "b", ["lab/web:1"], busybox=busybox, arch="amd64")
    assert before[0].image_id != after[0].image_id


def test_archive_has_docker_save_format(tmp_path, busybox):
    (built,) = images.build_images(tmp_path, ["lab/kv:1"], busybox=busybox, arch="amd64")
    files = members(built.path.read_bytes())
    manifest = json.loads(files["manifest.json"][1])
    assert len(manifest) == 1
    entry = manifest[0]
    assert entry["RepoTags"] == ["lab/kv:1"]
    config_bytes = files[entry["Config"]][1]
    assert config_bytes is not None
    # the image id is the digest of the config blob, as docker computes it on load
    assert "sha256:" + hashlib.sha256(config_bytes).hexdigest() == built.image_id
    assert entry["Config"] == built.image_id.removeprefix("sha256:") + ".json"
    (layer_path,) = entry["Layers"]
    layer = files[layer_path][1]
    assert layer is not None
    config = json.loads(config_bytes)
    assert config["rootfs"] == {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert config["config"]["Cmd"] == ["/app/web"]
    assert "8080/tcp" in config["config"]["ExposedPorts"]
    repositories = json.loads(files["repositories"][1])
    assert repositories == {"lab/kv": {"1": layer_path.split("/")[0]}}


def test_entries_are_sorted_owned_by_root_with_fixed_mtime(tmp_path, busybox):
    (built,) = images.build_images(tmp_path, ["lab/web:1"], busybox=busybox, arch="amd64")
    outer = built.path.read_bytes()
    layer_name = next(n for n in members(outer) if n.endswith("layer.tar"))
    for data in (outer, members(outer)[layer_name][1]):
        assert data is not None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            infos = tar.getmembers()
        names = [i.name for i in infos]
        assert names == sorted(names)
        assert {(i.uid, i.gid, i.mtime) for i in infos} == {(0, 0, images.EPOCH)}


def test_layer_holds_busybox_applets_and_scripts(tmp_path, busybox):
    layer = images.layer_tar(FAKE_BUSYBOX)
    files = members(layer)
    assert files["bin/busybox"][1] == FAKE_BUSYBOX
    assert files["bin/sh"][0].issym() and files["bin/sh"][0].linkname == "busybox"
    assert files["bin/nc"][0].linkname == "busybox"
    for script in ("app/web", "app/worker", "app/crash", "www/cgi-bin/fail",
                   "www/cgi-bin/recover", "www/cgi-bin/burn", "www/cgi-bin/fetch",
                   "www/cgi-bin/kv"):
        info, data = files[script]
        assert info.mode == 0o755, script
        assert data is not None and data.startswith(b"#!/bin/sh\n"), script
    assert files["www/admin/health"][0].linkname == "../healthz"
    assert files["www/admin/info"][0].linkname == "../readyz"
    assert files["tmp"][0].mode == 0o1777
    assert files["data"][0].isdir()


@pytest.mark.skipif(shutil.which("busybox") is None, reason="no busybox")
@pytest.mark.parametrize("script", sorted(
    p.relative_to(images.ASSETS).as_posix() for p in images.ASSETS.rglob("*")
    if p.is_file() and p.parent.name in ("app", "cgi-bin")))
def test_asset_scripts_parse(script):
    done = subprocess.run(["busybox", "sh", "-n", str(images.ASSETS / script)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_image_is_refused():
    with pytest.raises(KeyError, match="not a lab image"):
        images.image("lab/nope:1")


def test_bundle_holds_every_image_over_one_layer(tmp_path, busybox):
    built = images.build(tmp_path, busybox=busybox, arch="amd64")
    files = members(built.bundle.read_bytes())
    manifest = json.loads(files["manifest.json"][1])
    assert [e["RepoTags"] for e in manifest] == [[b.ref] for b in built.images]
    assert ["sha256:" + e["Config"].removesuffix(".json") for e in manifest] == [
        b.image_id for b in built.images]
    assert len({tuple(e["Layers"]) for e in manifest}) == 1
    assert sum(1 for n in files if n.endswith("layer.tar")) == 1
