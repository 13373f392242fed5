"""Engine command lines (argv lists) from validated names: pure, no I/O, no quoting.

Every name that reaches an argv here (container, image, label key/value,
env name, volume, network, host path) passes a `fleet.names` check first, so
a name carrying shell or engine syntax raises UnsafeNameError before any
command exists. Values that are content, not names (env values, command
arguments), go in as single argv elements; `fleet.remote.ssh` quotes them.
The same argv works for Docker and Podman unless noted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from fleet import names
from fleet.errors import SpecError, UnsafeNameError
from fleet.remote.model import MANAGED_LABEL, ContainerRunSpec, PortSpec, VolumeSpec
from fleet.remote.script import Step, step

ENGINES = ("docker", "podman")
MANAGED_FILTER = f"label={MANAGED_LABEL}=true"
_PATH = re.compile(r"/[A-Za-z0-9._/@+-]*")  # no ':' ',' spaces or quotes: -v syntax stays plain
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}|[0-9]{1,10}(:[0-9]{1,10})?")

# One JSON object per container with just what ContainerInfo needs (the full inspect
# document is ~7 KB per container; this is ~1 KB). Field names as in `docker inspect`.
DOCKER_INSPECT_TEMPLATE = (
    '{"Id":{{json .Id}},"Name":{{json .Name}},"Created":{{json .Created}},'
    '"Image":{{json .Image}},"RestartCount":{{json .RestartCount}},"State":{{json .State}},'
    '"Config":{"Image":{{json .Config.Image}},"Labels":{{json .Config.Labels}}},'
    '"HostConfig":{"NetworkMode":{{json .HostConfig.NetworkMode}},'
    '"RestartPolicy":{{json .HostConfig.RestartPolicy}},"NanoCpus":{{json .HostConfig.NanoCpus}},'
    '"Memory":{{json .HostConfig.Memory}}},'
    '"NetworkSettings":{"Ports":{{json .NetworkSettings.Ports}},'
    '"Networks":{{json .NetworkSettings.Networks}}},"Mounts":{{json .Mounts}}}'
)


# The marker `fleet cordon|drain` leaves under the SSH user's $HOME. Constant scripts: no
# operator data inside (the marker's JSON travels on stdin).
_CORDON = '"$HOME/.fleet/cordon"'
CORDON_READ = f"cat {_CORDON} 2>/dev/null"  # exit 1: not cordoned
CORDON_WRITE = f'mkdir -p "$HOME/.fleet" && cat > {_CORDON}.tmp && mv {_CORDON}.tmp {_CORDON}'
CORDON_REMOVE = f"rm -f {_CORDON}"


def engine_binary(engine: str) -> str:
    if engine not in ENGINES:
        raise UnsafeNameError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    return engine


def container_name(value: str) -> str:
    return names.dns_subdomain(value, "container name")


def volume_name(value: str) -> str:
    return names.dns_subdomain(value, "volume name")


def host_path(value: str, what: str = "path") -> str:
    """An absolute path without '..', ':' ',' whitespace or quotes."""
    if (
        not isinstance(value, str)
        or not _PATH.fullmatch(value)
        or "/../" in value + "/"
        or len(value) > 4096
    ):
        raise UnsafeNameError(
            f"{what} {value!r} must be an absolute path of letters, digits and ._/@+- "
            "(no '..', ':', ',', spaces or quotes)"
        )
    return value


def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise UnsafeNameError(f"{what} {value!r} is not an IP address") from None


def _port(value: int, what: str, *, zero_ok: bool = False) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not ((0 if zero_ok else 1) <= value <= 65535)
    ):
        raise UnsafeNameError(f"{what} {value!r} is not a port number")
    return value


def _publish(port: PortSpec) -> str:
    container = _port(port.container_port, "container port")
    host = _port(port.host_port, "host port", zero_ok=True)
    if port.protocol not in ("tcp", "udp"):
        raise UnsafeNameError(f"protocol {port.protocol!r} is not tcp or udp")
    bound = "" if host == 0 else str(host)  # 0: the engine picks a free port
    where = ""
    if port.host_ip is not None:
        ip = _ip(port.host_ip, "host address")
        where = (f"[{ip}]" if ":" in ip else ip) + ":"
    return (
        f"{where}{bound}:{container}/{port.protocol}"
        if where or bound
        else (f"{container}/{port.protocol}")
    )


def _volume(volume: VolumeSpec) -> str:
    if volume.kind == "volume":
        source = volume_name(volume.source)
    elif volume.kind == "bind":
        source = host_path(volume.source, "bind source")
    else:
        raise UnsafeNameError(f"volume kind {volume.kind!r} is not volume or bind")
    target = host_path(volume.target, "mount target")
    return f"{source}:{target}" + (":ro" if volume.read_only else "")


def _cpus(value: float) -> str:
    if isinstance(value, bool) or not 0.001 <= float(value) <= 4096:
        raise SpecError(f"cpus {value!r} must be between 0.001 and 4096")
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


def labels_argv(labels: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key, value in labels.items():
        out += ["--label", f"{names.label_key(key)}={names.label_value(value)}"]
    return out


def run_argv(engine: str, spec: ContainerRunSpec) -> list[str]:
    """`docker run -d ...` for a spec (adds fleet.managed=true); bad names raise first."""
    argv = [engine_binary(engine), "run", "-d", "--name", container_name(spec.name)]
    labels = {MANAGED_LABEL: "true", **dict(spec.labels)}
    argv += labels_argv(labels)
    for key, value in spec.env.items():
        if not isinstance(value, str):
            raise SpecError(f"env {key}: value must be a string, got {type(value).__name__}")
        argv += ["--env", f"{names.env_name(key)}={value}"]
    shares_network = spec.network is not None and spec.network.startswith("container:")
    if shares_network and (spec.ports or spec.hostname or spec.extra_hosts):
        raise SpecError(
            f"container {spec.name}: a container sharing another's network "
            "(network container:NAME) cannot publish ports, set a hostname or extra hosts"
        )
    if spec.network is not None:
        if shares_network:
            argv += ["--network", "container:" + container_name(spec.network[len("container:") :])]
        else:
            argv += ["--network", names.dns_subdomain(spec.network, "network name")]
    if spec.hostname is not None:
        argv += ["--hostname", names.dns_subdomain(spec.hostname, "hostname")]
    for name, ip in spec.extra_hosts.items():
        argv += [
            "--add-host",
            f"{names.dns_subdomain(name, 'extra host name')}:{_ip(ip, 'extra host address')}",
        ]
    for port in spec.ports:
        argv += ["--publish", _publish(port)]
    for volume in spec.volumes:
        argv += ["--volume", _volume(volume)]
    if spec.cpus is not None:
        argv += ["--cpus", _cpus(spec.cpus)]
    if spec.memory is not None:
        if (
            isinstance(spec.memory, bool)
            or not isinstance(spec.memory, int)
            or spec.memory < 6 * 2**20
        ):
            raise SpecError(f"memory {spec.memory!r} must be a byte count of at least 6Mi")
        argv += ["--memory", f"{spec.memory}b"]
    if spec.restart not in ("no", "always", "unless-stopped", "on-failure"):
        raise UnsafeNameError(f"restart policy {spec.restart!r} is not known")
    argv += ["--restart", spec.restart]
    if spec.stop_timeout is not None:
        argv += ["--stop-timeout", str(_port(spec.stop_timeout, "stop timeout", zero_ok=True))]
    if not spec.healthcheck:
        argv.append("--no-healthcheck")
    if spec.workdir is not None:
        argv += ["--workdir", host_path(spec.workdir, "workdir")]
    if spec.user is not None:
        if not _USER.fullmatch(spec.user):
            raise UnsafeNameError(f"user {spec.user!r} is not a user name or uid[:gid]")
        argv += ["--user", spec.user]
    if spec.pull not in ("missing", "never", "always"):
        raise UnsafeNameError(f"pull policy {spec.pull!r} is not missing, never or always")
    if spec.pull != "missing":
        argv += ["--pull", spec.pull]
    if spec.entrypoint is not None:
        argv += ["--entrypoint", spec.entrypoint]
    argv.append(names.image_ref(spec.image))
    if spec.args is not None:
        argv += list(spec.args)
    return argv


def restart_argv(engine: str, names_: Sequence[str], grace: int) -> list[str]:
    """Restart in place (stop with `grace` seconds, start again); keeps the container."""
    return _graceful_argv(engine, "restart", names_, grace)


def stop_argv(engine: str, names_: Sequence[str], grace: int) -> list[str]:
    """Stop with SIGTERM, then SIGKILL after `grace` seconds."""
    return _graceful_argv(engine, "stop", names_, grace)


def _graceful_argv(engine: str, verb: str, names_: Sequence[str], grace: int) -> list[str]:
    grace = _port(grace, "grace period", zero_ok=True)
    return [engine_binary(engine), verb, "-t", str(grace), *map(container_name, names_)]


def remove_argv(
    engine: str, names_: Sequence[str], *, force: bool = False, volumes: bool = False
) -> list[str]:
    """Remove containers; anonymous volumes only with `volumes` (named ones never go here)."""
    argv = [engine_binary(engine), "rm"]
    if force:
        argv.append("-f")
    if volumes:
        argv.append("-v")
    return argv + [container_name(n) for n in names_]


def logs_argv(
    engine: str,
    name: str,
    *,
    tail: int | None = 100,
    follow: bool = False,
    timestamps: bool = False,
) -> list[str]:
    argv = [engine_binary(engine), "logs"]
    if tail is not None:
        if isinstance(tail, bool) or not isinstance(tail, int) or tail < 0:
            raise UnsafeNameError(f"tail {tail!r} is not a line count")
        argv += ["--tail", str(tail)]
    if follow:
        argv.append("--follow")
    if timestamps:
        argv.append("--timestamps")
    return [*argv, container_name(name)]


def exec_argv(engine: str, name: str, command: Sequence[str]) -> list[str]:
    if not command:
        raise SpecError("exec needs a command")
    return [engine_binary(engine), "exec", container_name(name), *command]


def load_argv(engine: str) -> list[str]:
    """`docker load`: an image archive on stdin."""
    return [engine_binary(engine), "load"]


def save_argv(engine: str, images: Sequence[str]) -> list[str]:
    """`docker save IMAGE...`: the archive on stdout."""
    return [engine_binary(engine), "save", *map(names.image_ref, images)]


def volume_ls_argv(engine: str) -> list[str]:
    return [engine_binary(engine), "volume", "ls", "--format", "{{json .}}"]


def volume_rm_argv(engine: str, volumes: Sequence[str]) -> list[str]:
    return [engine_binary(engine), "volume", "rm", *map(volume_name, volumes)]


# ---- one-round-trip scripts ---------------------------------------------------------------


_CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")


def observe_steps(
    engine: str,
    *,
    facts: bool = True,
    volumes: bool = True,
    known: Sequence[str] = (),
) -> list[Step]:
    """One script: host facts (unless cached), volume names (unless not wanted), every
    fleet-managed container and the host's cordon mark.

    `known` are container ids seen by the previous observation: they are inspected in
    the background, concurrently with `ps`, so only containers that are new since need
    inspecting after it. Every container `ps` lists is inspected afresh either way.
    """
    binary = engine_binary(engine)
    for container_id in known:
        if not _CONTAINER_ID.fullmatch(container_id):
            raise UnsafeNameError(f"container id {container_id!r} is not hexadecimal")
    inspect = (
        [binary, "container", "inspect", "--format", DOCKER_INSPECT_TEMPLATE]
        if binary == "docker"
        else [binary, "container", "inspect"]  # podman: a JSON array of full documents
    )
    steps = []
    if facts:
        info = [binary, "info", "--format", "{{json .}}" if binary == "docker" else "json"]
        steps.append(step("facts", info, background=True))
    if volumes:  # every docker CLI call costs 10-20 ms of CPU on the host: only when wanted
        steps.append(step("volumes", [binary, "volume", "ls", "-q"], background=True))
    if known:
        steps.append(step("known", [*inspect, *known], background=True))
    return [
        *steps,
        step("ids", [binary, "ps", "-aq", "--no-trunc", "--filter", MANAGED_FILTER]),
        step("containers", inspect, args_from_step="ids", skip_words=known),
        # a constant script (no operator data): the marker `fleet cordon` leaves on the host
        step("cordon", ["sh", "-c", CORDON_READ]),
    ]


def stats_steps(engine: str) -> list[Step]:
    """One-shot stats of all running fleet-managed containers."""
    binary = engine_binary(engine)
    fmt = "{{json .}}" if binary == "docker" else "json"
    return [
        step(
            "stats",
            [binary, "stats", "--no-stream", "--format", fmt],
            args_from=[
                binary,
                "ps",
                "-q",
                "--filter",
                MANAGED_FILTER,
                "--filter",
                "status=running",
            ],
        )
    ]


def image_id_steps(engine: str, images: Sequence[str]) -> list[Step]:
    """One step per image (`img0`, `img1`, ...): its id, or a non-zero status when absent."""
    binary = engine_binary(engine)
    return [
        step(f"img{i}", [binary, "image", "inspect", "--format", "{{.Id}}", names.image_ref(ref)])
        for i, ref in enumerate(images)
    ]
