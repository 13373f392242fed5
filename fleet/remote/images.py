"""Image push without a registry: `docker save` from one source, `docker load` on many hosts.

    report = await push_images(pool, ["node1", "node2"], ArchiveSource(path), ["lab/web:1"])

1. The source's image ids: from an archive's manifest.json, the controller's
   own engine, or a host that has the images.
2. ONE round trip per target asks which ids it already has; hosts that have
   every image with the same id are skipped.
3. The archive is read ONCE and written to `docker load` on every remaining
   host at once (fan-out); the next chunk is read only when every target took
   the last one, so the slowest host sets the pace and memory stays bounded. A
   host that fails or stalls is dropped without stopping the others.
4. Afterwards every loaded host is asked again: it must report the identical id.
"""

from __future__ import annotations

import asyncio
import json
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import names
from fleet.errors import EngineError, FleetError, RemoteError, SpecError
from fleet.remote import argv as cmd
from fleet.remote.engine import Engine
from fleet.remote.parse import parse_image_id, parse_loaded_images
from fleet.remote.process import RemoteProcess
from fleet.remote.ssh import SSHPool

CHUNK = 256 * 1024
STALL_TIMEOUT = 120.0  # a target that takes no data for this long is dropped

Reader = Callable[[int], Awaitable[bytes]]


# ---- sources --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSource:
    """An image archive in `docker save` format (legacy or OCI layout)."""

    path: Path

    def describe(self) -> str:
        return f"archive {self.path}"


@dataclass(frozen=True)
class LocalEngineSource:
    """The controller's own engine (`docker save` run locally)."""

    binary: str = "docker"

    def describe(self) -> str:
        return f"local {self.binary}"


@dataclass(frozen=True)
class HostSource:
    """Another host of the inventory (`docker save` there, streamed through the controller)."""

    host: str

    def describe(self) -> str:
        return f"host {self.host}"


ImageSource = ArchiveSource | LocalEngineSource | HostSource


def archive_images(path: Path) -> dict[str, str]:
    """Tag -> image id of every image in a `docker save` archive (from manifest.json).

    The id is the config blob's digest: `"Config": "<hex>.json"` (legacy layout)
    or `"blobs/sha256/<hex>"` (OCI layout, Docker >= 25).
    """
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = json.load(member)
    except FileNotFoundError:
        raise SpecError(f"image archive {path} does not exist") from None
    except (KeyError, tarfile.TarError, json.JSONDecodeError, OSError) as exc:
        raise SpecError(
            f"{path} is not a docker save archive (no readable manifest.json: {exc})"
        ) from None
    images: dict[str, str] = {}
    for entry in manifest if isinstance(manifest, list) else []:
        config = str(entry.get("Config", ""))
        digest = config.rsplit("/", 1)[-1].removesuffix(".json")
        image_id = parse_image_id(digest)
        if image_id is None:
            continue
        for tag in entry.get("RepoTags") or []:
            images[str(tag)] = image_id
    if not images:
        raise SpecError(f"{path}: the archive has no tagged images")
    return images


async def _local_image_ids(binary: str, images: Sequence[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for ref in images:
        try:
            proc = await asyncio.create_subprocess_exec(
                binary,
                "image",
                "inspect",
                "--format",
                "{{.Id}}",
                ref,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise EngineError(
                f"no local {binary}: use --from-archive FILE or --from-host HOST"
            ) from None
        out, err = await proc.communicate()
        if proc.returncode != 0:
            text = err.decode(errors="replace").strip()
            if "connect" in text.lower() or "daemon" in text.lower():
                raise EngineError(
                    f"the local {binary} engine does not answer ({text.splitlines()[-1]}): "
                    "use --from-archive FILE or --from-host HOST"
                )
            raise EngineError(f"local {binary} has no image {ref}: {text}")
        image_id = parse_image_id(out.decode())
        if image_id is None:
            raise EngineError(f"local {binary} printed no id for {ref}")
        ids[ref] = image_id
    return ids


async def source_image_ids(
    engine: Engine, source: ImageSource, images: Sequence[str]
) -> dict[str, str]:
    """Tag -> id of the images to push, as the source has them (all of the archive if none)."""
    for ref in images:
        names.image_ref(ref)
    if isinstance(source, ArchiveSource):
        available = archive_images(source.path)
        if not images:
            return available
        missing = [ref for ref in images if ref not in available]
        if missing:
            raise SpecError(
                f"{source.path} does not contain {', '.join(missing)} "
                f"(it has {', '.join(sorted(available))})"
            )
        return {ref: available[ref] for ref in images}
    if not images:
        raise SpecError("name the images to push (only an archive source implies them)")
    if isinstance(source, LocalEngineSource):
        return await _local_image_ids(source.binary, images)
    found = await engine.image_ids(source.host, images)
    missing = [ref for ref, image_id in found.items() if image_id is None]
    if missing:
        raise EngineError(f"{source.host} does not have {', '.join(missing)}")
    return {ref: image_id for ref, image_id in found.items() if image_id is not None}


@asynccontextmanager
async def _open_source(
    engine: Engine, source: ImageSource, images: Sequence[str]
) -> AsyncIterator[tuple[Reader, Callable[[], Awaitable[None]]]]:
    """(read(n), finish()) over the archive bytes; finish() raises if the source failed."""
    if isinstance(source, ArchiveSource):
        with source.path.open("rb") as handle:

            async def read_file(n: int) -> bytes:
                return await asyncio.to_thread(handle.read, n)

            async def done_file() -> None:
                return None

            yield read_file, done_file
    elif isinstance(source, LocalEngineSource):
        proc = await asyncio.create_subprocess_exec(
            source.binary,
            "save",
            *images,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = proc.stdout, proc.stderr

        async def done_local() -> None:
            err = await stderr.read()
            if await proc.wait() != 0:
                raise EngineError(f"local {source.binary} save failed: {err.decode().strip()}")

        try:
            yield stdout.read, done_local
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    else:
        argv = cmd.save_argv(engine.binary(source.host), images)
        async with engine.pool.stream(source.host, argv) as process:

            async def done_host() -> None:
                await process.finish(check=True)

            yield process.stdout.read, done_host


# ---- report ---------------------------------------------------------------------------------


@dataclass
class HostPush:
    """What happened on one target: loaded, skipped (had the ids), failed, or source."""

    host: str
    status: str = "pending"
    bytes: int = 0
    seconds: float = 0.0
    reason: str = ""
    image_ids: dict[str, str | None] = field(default_factory=dict)


@dataclass
class PushReport:
    """The outcome of one push: which image ids, from where, and per-host results."""

    source: str
    images: dict[str, str]
    hosts: list[HostPush]
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[HostPush]:
        return [h for h in self.hosts if h.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "images": self.images,
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "hosts": [
                {
                    "host": h.host,
                    "status": h.status,
                    "bytes": h.bytes,
                    "seconds": round(h.seconds, 3),
                    "reason": h.reason,
                }
                for h in self.hosts
            ],
        }


# ---- push -----------------------------------------------------------------------------------


async def _check(engine: Engine, entry: HostPush, want: dict[str, str]) -> bool:
    """Ask one host for the images' ids (one round trip); True when all match."""
    try:
        entry.image_ids = await engine.image_ids(entry.host, list(want))
    except FleetError as exc:
        entry.status, entry.reason = "failed", _reason(exc)
        return False
    return all(entry.image_ids.get(ref) == image_id for ref, image_id in want.items())


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, RemoteError) else str(exc)


async def _fan_out(
    read: Reader,
    targets: dict[str, RemoteProcess],
    entries: dict[str, HostPush],
    stall_timeout: float,
) -> tuple[int, bool]:
    """Copy the source into every target's stdin: (bytes read, whether it was read to the end).

    Stops reading as soon as no target is left (nothing is drained into memory).
    """
    total = 0
    live = dict(targets)

    async def deliver(host: str, process: RemoteProcess, chunk: bytes) -> None:
        try:
            process.stdin.write(chunk)
            async with asyncio.timeout(stall_timeout):
                await process.stdin.drain()
            entries[host].bytes += len(chunk)
        except Exception as exc:  # one broken target must not stop the others
            reason = (
                f"stalled: took no data for {stall_timeout:.0f} s"
                if isinstance(exc, TimeoutError)
                else f"stream broke: {exc}"
            )
            entries[host].status, entries[host].reason = "failed", reason
            live.pop(host, None)

    while live:
        chunk = await read(CHUNK)
        if not chunk:
            return total, True
        total += len(chunk)
        await asyncio.gather(*(deliver(h, p, chunk) for h, p in list(live.items())))
    return total, False


async def push_images(
    pool: SSHPool,
    hosts: Sequence[str],
    source: ImageSource,
    images: Sequence[str] = (),
    *,
    stall_timeout: float = STALL_TIMEOUT,
    progress: Callable[[str], None] | None = None,
) -> PushReport:
    """Make every host have the source's images with identical ids; see the module docstring."""
    say = progress or (lambda _message: None)
    engine = Engine(pool)
    started = time.monotonic()
    want = await source_image_ids(engine, source, images)
    refs = list(want)
    report = PushReport(source.describe(), want, [HostPush(h) for h in hosts])
    entries = {e.host: e for e in report.hosts}
    if isinstance(source, HostSource) and source.host in entries:
        entries[source.host].status = "source"
    candidates = [e for e in report.hosts if e.status == "pending"]
    say(f"checking {len(candidates)} host(s) for {', '.join(refs)}")
    have = await asyncio.gather(*(_check(engine, e, want) for e in candidates))
    for entry, present in zip(candidates, have, strict=True):
        if present:
            entry.status = "skipped"
    todo = [e for e in candidates if e.status == "pending"]
    if todo:
        say(f"streaming to {len(todo)} host(s): {', '.join(e.host for e in todo)}")
        report.bytes_read = await _stream_to(engine, source, refs, todo, entries, stall_timeout)
        loaded = [e for e in todo if e.status == "pending"]
        verified = await asyncio.gather(*(_check(engine, e, want) for e in loaded))
        for entry, ok in zip(loaded, verified, strict=True):
            if ok:
                entry.status = "loaded"
            elif entry.status != "failed":
                got = ", ".join(f"{r}={entry.image_ids.get(r)}" for r in refs)
                entry.status, entry.reason = "failed", f"after load the host reports {got}"
    report.seconds = time.monotonic() - started
    return report


async def _stream_to(
    engine: Engine,
    source: ImageSource,
    refs: list[str],
    todo: list[HostPush],
    entries: dict[str, HostPush],
    stall_timeout: float,
) -> int:
    """Open `docker load` on every target at once, fan the source out, collect each result."""
    ready = {e.host: asyncio.Event() for e in todo}
    done = asyncio.Event()
    processes: dict[str, RemoteProcess] = {}
    source_failed: list[BaseException] = []

    async def target(entry: HostPush) -> None:
        started = time.monotonic()
        try:
            async with engine.image_loader(entry.host) as process:
                processes[entry.host] = process
                ready[entry.host].set()
                await done.wait()
                if source_failed:
                    raise EngineError(f"the source failed: {_reason(source_failed[0])}")
                if entry.status == "failed":
                    return  # leaving the block stops the half-fed load
                result = await process.finish(check=True)
                if not parse_loaded_images(result.text):
                    raise EngineError(f"load reported nothing: {result.text.strip()[:200]}")
        except FleetError as exc:
            entry.status = "failed"
            entry.reason = entry.reason or _reason(exc)
        finally:
            ready[entry.host].set()
            entry.seconds = time.monotonic() - started

    tasks = [asyncio.ensure_future(target(e)) for e in todo]
    total = 0
    try:
        await asyncio.gather(*(event.wait() for event in ready.values()))
        live = {h: p for h, p in processes.items() if entries[h].status == "pending"}
        if live:
            try:
                async with _open_source(engine, source, refs) as (read, finish):
                    total, complete = await _fan_out(read, live, entries, stall_timeout)
                    if complete:  # otherwise every target failed: leave the rest unread
                        await finish()
            except (FleetError, OSError) as exc:
                source_failed.append(exc)
    finally:
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return total
