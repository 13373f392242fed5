"""The container-engine driver: Docker (and Podman where the CLIs agree) over the SSH seam.

    engine = Engine(pool)
    seen = await engine.observe("node1")          # ONE round trip: facts + managed containers
    cid = await engine.run("node1", ContainerRunSpec(name="web-1", image="lab/web:1", ...))

Every argv is built by `fleet.remote.argv` from validated names before the
pool is touched, so an unsafe name fails before any SSH command. Failed
engine commands raise RemoteCommandError (host, argv, exit status, stderr);
answers that cannot be read raise EngineError.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fleet.errors import EngineError, RemoteCommandError
from fleet.remote import argv as cmd
from fleet.remote.model import (
    ContainerInfo,
    ContainerRunSpec,
    ContainerStats,
    HostFacts,
    HostObservation,
    VolumeInfo,
)
from fleet.remote.parse import (
    parse_containers,
    parse_host_facts,
    parse_image_id,
    parse_stats,
    parse_volumes,
)
from fleet.remote.process import CommandResult, RemoteProcess
from fleet.remote.script import ScriptResult, step
from fleet.remote.ssh import SSHPool

FACTS_TTL = 60.0  # seconds an Engine reuses a host's facts (they change on upgrades only)


class Engine:
    """Each host's container engine (the inventory's `engine:`), driven over one SSHPool."""

    def __init__(self, pool: SSHPool, *, facts_ttl: float = FACTS_TTL) -> None:
        self.pool = pool
        self.facts_ttl = facts_ttl
        # per host: facts and when they were read; the ids the last observation listed
        self._facts: dict[str, tuple[float, HostFacts]] = {}
        self._known: dict[str, tuple[str, ...]] = {}
        self._created = time.monotonic()
        # observe() lists the host's volumes unless told otherwise (or this is False: a
        # run without stateful services has no use for them; each list is an engine call)
        self.list_volumes = True

    def facts_record(self) -> dict[str, dict[str, Any]]:
        """The facts this engine read, as JSON-able data with when (wall clock): a later
        run passes them to `remember_facts` (fleet.session keeps them in the journal)."""
        wall, mono = time.time(), time.monotonic()
        return {
            host: {"read": wall - (mono - at), "facts": asdict(facts)}
            for host, (at, facts) in self._facts.items()
            if at >= self._created
        }

    def remember_facts(self, records: Mapping[str, Any]) -> None:
        """Facts an earlier run read (`facts_record`), used like this run's own until they
        are `facts_ttl` old: a command started soon after another skips `docker info`."""
        wall, mono = time.time(), time.monotonic()
        for host, record in records.items():
            try:
                facts = HostFacts(**record["facts"])
                age = wall - float(record["read"])
            except (KeyError, TypeError, ValueError):
                continue  # written by another fleet version: read afresh
            if (
                host in self.pool.hosts
                and host not in self._facts
                and 0 <= age <= self.facts_ttl
                and facts.engine == self.pool.host(host).engine.value
            ):
                self._facts[host] = (mono - age, facts)

    def binary(self, host: str) -> str:
        """`docker` or `podman` for the host."""
        return cmd.engine_binary(str(self.pool.host(host).engine.value))

    async def observe(
        self,
        host: str,
        *,
        timeout: float | None = None,
        volumes: bool | None = None,
        fresh_facts: bool = False,
    ) -> HostObservation:
        """Host facts, every fleet-managed container, the host's volume names (unless
        `volumes=False`, or by default `list_volumes` is False) and its cordon mark, in
        ONE round trip.

        Facts (cpus, memory, engine version, container total) are re-read when older
        than `facts_ttl` seconds (or with `fresh_facts`); containers are read every time.
        """
        if volumes is None:
            volumes = self.list_volumes
        engine = self.binary(host)
        cached = self._facts.get(host)
        want_facts = fresh_facts or cached is None or time.monotonic() - cached[0] > self.facts_ttl
        known = self._known.get(host, ())
        steps = cmd.observe_steps(engine, facts=want_facts, volumes=volumes, known=known)
        result = await self.pool.run_script(host, steps, timeout=timeout)
        if want_facts:
            facts_step = result["facts"]
            if not facts_step.ok:
                raise EngineError(f"{host}: `{engine} info` failed: {_last_line(result.stderr)}")
            facts = parse_host_facts(facts_step.output, engine)
            self._facts[host] = (time.monotonic(), facts)
        else:
            assert cached is not None
            facts = cached[1]
        managed = self._containers(host, result, bool(known))
        self._known[host] = tuple(c.id for c in managed)
        names: tuple[str, ...] = ()
        if volumes:
            listed = result["volumes"]
            if not listed.ok:
                raise EngineError(f"{host}: listing volumes failed: {_last_line(result.stderr)}")
            names = tuple(sorted(listed.output.split()))
        cordon = result["cordon"]
        return HostObservation(
            host=host,
            facts=facts,
            containers=managed,
            unmanaged_count=max(facts.containers_total - len(managed), 0),
            round_trip_ms=result.duration * 1000,
            volumes=names,
            cordon=cordon.output if cordon.ok else None,
            volumes_read=volumes,
        )

    def _containers(self, host: str, result: ScriptResult, with_known: bool) -> list[ContainerInfo]:
        """The managed containers `ps` listed, from the inspect answers (known + new ones)."""
        ids = result["ids"]
        if not ids.ok:
            raise EngineError(f"{host}: listing containers failed: {_last_line(result.stderr)}")
        listed = set(ids.output.split())
        answers = [result["containers"]] + ([result["known"]] if with_known else [])
        vanished = "no such" in result.stderr.lower()
        for answer in answers:
            # A container removed between `ps` and `inspect` makes inspect exit 1 but still
            # print the others; anything else must not read as "no containers".
            if not answer.ok and not vanished:
                raise EngineError(
                    f"{host}: inspecting containers failed: {_last_line(result.stderr)}"
                )
        try:
            found = [c for a in answers for c in parse_containers(a.output)]
        except EngineError as exc:
            raise EngineError(f"{host}: {exc}") from None
        by_id = {c.id: c for c in found if c.id in listed and c.managed}
        missing = listed - set(by_id)
        if missing and not vanished:
            raise EngineError(f"{host}: listed but not inspected: {', '.join(sorted(missing))}")
        return sorted(by_id.values(), key=lambda c: c.name)

    async def run(self, host: str, spec: ContainerRunSpec, *, timeout: float | None = None) -> str:
        """Start a container (`run -d`); returns its id. Adds the fleet.managed=true label."""
        argv = cmd.run_argv(self.binary(host), spec)
        result = await self.pool.run(host, argv, timeout=timeout)
        container_id = result.text.strip().splitlines()[-1] if result.text.strip() else ""
        if not container_id:
            raise EngineError(f"{host}: `run` of {spec.name} printed no container id")
        return container_id

    async def stop_and_remove(
        self, host: str, names: Sequence[str], *, grace: int = 10, volumes: Sequence[str] = ()
    ) -> None:
        """Stop (SIGTERM, SIGKILL after `grace` s), remove, then delete `volumes`: ONE round trip.

        Every step runs, and each is safe after a failed one (`rm` refuses a running
        container, `volume rm` a volume in use); the first failed step raises.
        """
        binary = self.binary(host)
        steps = [
            step("stop", cmd.stop_argv(binary, names, grace)),
            step("rm", cmd.remove_argv(binary, names)),
        ]
        if volumes:
            steps.append(step("volrm", cmd.volume_rm_argv(binary, volumes)))
        result = await self.pool.run_script(host, steps, timeout=self._deadline(host, grace))
        for s in steps:
            done = result[s.name]
            if not done.ok:
                argv = list(s.command.argv)
                raise RemoteCommandError(host, argv, done.exit_status, result.stderr)

    async def restart(self, host: str, names: Sequence[str], *, grace: int = 10) -> None:
        """Restart containers in place (SIGTERM, `grace` seconds, start again)."""
        argv = cmd.restart_argv(self.binary(host), names, grace)
        await self.pool.run(host, argv, timeout=self._deadline(host, grace))

    def _deadline(self, host: str, grace: int) -> float:
        """A stop-like command's deadline: the host's command timeout plus the grace."""
        return self.pool.host(host).command_timeout + grace

    async def remove(
        self, host: str, names: Sequence[str], *, force: bool = False, volumes: bool = False
    ) -> None:
        """Remove containers; named volumes always stay (see `remove_volumes`)."""
        await self.pool.run(
            host, cmd.remove_argv(self.binary(host), names, force=force, volumes=volumes)
        )

    async def logs(
        self, host: str, name: str, *, tail: int | None = 100, timestamps: bool = False
    ) -> str:
        """The container's last `tail` log lines (stdout and stderr interleaved as sent)."""
        argv = cmd.logs_argv(self.binary(host), name, tail=tail, timestamps=timestamps)
        result = await self.pool.run(host, argv)
        return result.text + result.error_text

    @asynccontextmanager
    async def follow_logs(
        self, host: str, name: str, *, tail: int | None = 10
    ) -> AsyncIterator[RemoteProcess]:
        """`logs --follow` as a stream; read `.stdout` until done, leaving the block stops it."""
        argv = cmd.logs_argv(self.binary(host), name, tail=tail, follow=True)
        async with self.pool.stream(host, argv) as process:
            yield process

    async def stats(self, host: str, *, timeout: float | None = None) -> list[ContainerStats]:
        """One-shot resource use of all running fleet-managed containers (one round trip)."""
        result = await self.pool.run_script(
            host, cmd.stats_steps(self.binary(host)), timeout=timeout
        )
        found = result["stats"]
        if not found.ok:
            raise EngineError(f"{host}: stats failed: {_last_line(result.stderr)}")
        return parse_stats(found.output)

    async def exec(
        self, host: str, name: str, argv: Sequence[str], *, timeout: float | None = None
    ) -> CommandResult:
        """Run argv inside a container; the result carries its exit status (never raises on it)."""
        return await self.pool.run(
            host, cmd.exec_argv(self.binary(host), name, argv), timeout=timeout, check=False
        )

    async def image_ids(
        self, host: str, images: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, str | None]:
        """The id of each image on the host (None where absent), in ONE round trip."""
        if not images:
            return {}
        steps = cmd.image_id_steps(self.binary(host), images)
        result = await self.pool.run_script(host, steps, timeout=timeout)
        ids: dict[str, str | None] = {}
        for i, ref in enumerate(images):
            found = result[f"img{i}"]
            ids[ref] = parse_image_id(found.output) if found.ok else None
        return ids

    @asynccontextmanager
    async def image_loader(self, host: str) -> AsyncIterator[RemoteProcess]:
        """`docker load` waiting for an image archive on its stdin."""
        async with self.pool.stream(host, cmd.load_argv(self.binary(host))) as process:
            yield process

    async def volumes(self, host: str) -> list[VolumeInfo]:
        result = await self.pool.run(host, cmd.volume_ls_argv(self.binary(host)))
        return parse_volumes(result.text)

    async def remove_volumes(self, host: str, names: Sequence[str]) -> None:
        """Delete named volumes and their data: only ever on explicit request."""
        await self.pool.run(host, cmd.volume_rm_argv(self.binary(host), names))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
