"""Image push logic without hosts: archive manifests, and the fan-out's pacing and failures."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fleet.errors import SpecError, UnsafeNameError
from fleet.remote.images import (
    ArchiveSource,
    HostPush,
    PushReport,
    _fan_out,
    archive_images,
    source_image_ids,
)
from tests.unit.remote.tinyimage import write_archive

HEX = "a" * 64


def oci_archive(path: Path) -> None:
    manifest = json.dumps([{"Config": f"blobs/sha256/{HEX}", "RepoTags": ["lab/web:1", "web:x"],
                            "Layers": [f"blobs/sha256/{'b' * 64}"]}]).encode()
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))


def test_legacy_archive_ids(tmp_path: Path) -> None:
    image_id = write_archive(tmp_path / "tiny.tar", "test/tiny:1")
    assert archive_images(tmp_path / "tiny.tar") == {"test/tiny:1": image_id}


def test_oci_layout_archive_ids(tmp_path: Path) -> None:
    oci_archive(tmp_path / "oci.tar")
    assert archive_images(tmp_path / "oci.tar") == {"lab/web:1": f"sha256:{HEX}",
                                                    "web:x": f"sha256:{HEX}"}


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"not a tar")
    with pytest.raises(SpecError, match="not a docker save archive"):
        archive_images(tmp_path / "x.tar")
    with pytest.raises(SpecError, match="does not exist"):
        archive_images(tmp_path / "missing.tar")


async def test_source_ids_from_archive_select_and_refuse(tmp_path: Path) -> None:
    oci_archive(tmp_path / "oci.tar")
    source = ArchiveSource(tmp_path / "oci.tar")
    engine: Any = None  # an archive source needs no engine
    assert await source_image_ids(engine, source, ["web:x"]) == {"web:x": f"sha256:{HEX}"}
    assert len(await source_image_ids(engine, source, [])) == 2
    with pytest.raises(SpecError, match="does not contain lab/web:2"):
        await source_image_ids(engine, source, ["lab/web:2"])
    with pytest.raises(UnsafeNameError):
        await source_image_ids(engine, source, ["$(id)"])


class FakeStdin:
    """An SSH channel's stdin: `drain` waits `delay` per chunk, or breaks after `fail_after`."""

    def __init__(self, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.received = bytearray()
        self.delay = delay
        self.fail_after = fail_after
        self.chunks = 0

    def write(self, data: bytes) -> None:
        self.chunks += 1
        if self.fail_after is not None and self.chunks > self.fail_after:
            raise BrokenPipeError("channel closed")
        self.received += data

    async def drain(self) -> None:
        await asyncio.sleep(self.delay)


class FakeProcess:
    def __init__(self, stdin: FakeStdin) -> None:
        self.stdin = stdin


async def test_fan_out_reads_once_paces_to_slowest_and_drops_broken() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB = 4 chunks
    source = io.BytesIO(data)
    reads = 0

    async def read(n: int) -> bytes:
        nonlocal reads
        reads += 1
        return source.read(n)

    fast, slow, broken = FakeStdin(), FakeStdin(delay=0.01), FakeStdin(fail_after=1)
    targets: dict[str, Any] = {"fast": FakeProcess(fast), "slow": FakeProcess(slow),
                               "broken": FakeProcess(broken)}
    entries = {h: HostPush(h) for h in targets}
    total, complete = await _fan_out(read, targets, entries, stall_timeout=5)
    assert complete and total == len(data) and reads == 5  # 4 chunks + EOF, read once
    assert bytes(fast.received) == data and bytes(slow.received) == data
    assert entries["fast"].bytes == len(data)
    assert entries["broken"].status == "failed" and "stream broke" in entries["broken"].reason
    assert entries["fast"].status == "pending"  # still to be verified by the caller


async def test_a_stalled_target_is_dropped() -> None:
    source = io.BytesIO(b"x" * 600_000)

    async def read(n: int) -> bytes:
        return source.read(n)

    stalled = FakeStdin(delay=10)
    entries = {"a": HostPush("a"), "b": HostPush("b")}
    ok = FakeStdin()
    total, _ = await _fan_out(read, {"a": FakeProcess(stalled), "b": FakeProcess(ok)}, entries,
                              stall_timeout=0.05)
    assert total == 600_000 and len(ok.received) == 600_000
    assert entries["a"].status == "failed" and "stalled" in entries["a"].reason


def test_report_json() -> None:
    report = PushReport("archive x.tar", {"a:1": "sha256:" + HEX},
                        [HostPush("n1", "loaded", 10, 0.5), HostPush("n2", "failed", 0, 0.1, "x")])
    doc = report.to_json()
    assert [h["status"] for h in doc["hosts"]] == ["loaded", "failed"]
    assert [h.host for h in report.failed] == ["n2"]


async def test_reading_stops_when_every_target_failed() -> None:
    reads = 0

    async def read(n: int) -> bytes:
        nonlocal reads
        reads += 1
        return b"x" * n  # an endless source

    entries = {"a": HostPush("a")}
    _, complete = await _fan_out(read, {"a": FakeProcess(FakeStdin(fail_after=2))}, entries,
                                 stall_timeout=5)
    assert not complete and reads == 3 and entries["a"].status == "failed"
