"""The inventory: which hosts exist, how to reach them, and what they offer.

```yaml
apiVersion: fleet/v1
kind: Inventory
name: lab                     # the cluster's name: local state and lock live under it
defaults:                     # every host field below can be set here and overridden per host
  user: root
  port: 22
  identity: ~/.ssh/id_ed25519 # private key; omitted: the SSH agent and default keys
  known_hosts: ./known_hosts  # relative paths are relative to this file
  engine: docker              # docker | podman
hosts:
  - name: node1
    address: 10.0.0.11
    labels: {disk: ssd}
    roles: [lb]               # lb: runs HAProxy for the services
    zone: a
    capacity: {cpu: "2", memory: 4Gi}   # otherwise discovered from the engine
    via: bastion              # jump host (another host of this inventory)
```

Field names are snake_case (an inventory is fleet's own file); blueprints use
Kubernetes' camelCase names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fleet import names
from fleet.errors import UnsafeNameError
from fleet.spec.base import FieldError
from fleet.spec.quantity import parse_cpu, parse_memory

_DURATION = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from 5, 2.5, "5s", "500ms", "2m", "1h"."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is not a duration: must not be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match:
            return float(match["num"]) * _UNIT_SECONDS[match["unit"]]
    raise ValueError(f"{value!r} is not a duration (like 5, '5s', '500ms', '2m')")


def _checked(check: Callable[[str, str], str], value: str, what: str) -> str:
    # fleet.names raises UnsafeNameError (a FleetError); pydantic needs a ValueError
    try:
        return check(value, what)
    except UnsafeNameError as exc:
        raise ValueError(str(exc)) from None


class Engine(StrEnum):
    docker = "docker"
    podman = "podman"


class HostKeyCheck(StrEnum):
    verify = "verify"  # known_hosts must have a matching key (the default)
    off = "off"  # no check at all: only as an explicit per-host setting


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Capacity(Strict):
    """What a host offers to the scheduler, overriding what the engine reports."""

    cpu: int | None = Field(None, description="millicores")
    memory: int | None = Field(None, description="bytes")

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> int | None:
        return None if value is None else parse_cpu(value)  # type: ignore[arg-type]

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> int | None:
        return None if value is None else parse_memory(value)  # type: ignore[arg-type]


class HAProxySettings(Strict):
    """Where HAProxy's config lives on a load-balancer host and how it is reloaded."""

    config: str = "/etc/haproxy/haproxy.cfg"
    # auto: master socket if `master_socket` answers, else systemd (`systemctl reload haproxy`)
    reload: Literal["auto", "master-socket", "systemd"] = "auto"
    master_socket: str | None = None
    # non-root users: each root step is one fixed `sudo -n` command (tee/haproxy -c/cp/mv/rm on
    # config paths, systemctl reload haproxy), never a shell: vagrant/guest/sudoers-fleet
    sudo: bool = False


Duration = Annotated[float, Field(ge=0)]


class ConnectionSettings(Strict):
    """Fields a host inherits from `defaults` unless it sets them itself."""

    user: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    identity: str | None = None
    known_hosts: str | None = None
    engine: Engine | None = None
    connect_timeout: Duration | None = None
    command_timeout: Duration | None = None
    max_sessions: int | None = Field(None, ge=1, le=64)
    haproxy: HAProxySettings | None = None

    @field_validator("connect_timeout", "command_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_.-]{0,31}", value):
            raise ValueError(f"{value!r} is not a valid user name")
        return value


class Defaults(ConnectionSettings):
    pass


class HostSpec(ConnectionSettings):
    name: str
    address: str
    labels: dict[str, str] = Field(default_factory=dict)
    roles: list[Literal["lb"]] = Field(default_factory=list)
    zone: str | None = None
    capacity: Capacity | None = None
    via: str | None = None
    host_key_check: HostKeyCheck = HostKeyCheck.verify

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _checked(names.dns_label, value, "host name")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _checked(names.host_address, value, "address")

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _checked(names.label_value, value, "zone")

    @field_validator("via")
    @classmethod
    def _via(cls, value: str | None) -> str | None:
        return None if value is None else _checked(names.dns_label, value, "via")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            try:
                names.label_key(key)
                names.label_value(str(item), f"value of label {key!r}")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), key) from None
        return value

    @property
    def is_lb(self) -> bool:
        return "lb" in self.roles


HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"


class Host(BaseModel):
    """A host with every setting resolved (defaults applied, paths absolute)."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    user: str = "root"
    port: int = 22
    identity: Path | None = None
    known_hosts: Path | None = None
    engine: Engine = Engine.docker
    connect_timeout: float = 5.0
    command_timeout: float = 120.0
    max_sessions: int = 8  # stays under sshd's default MaxSessions (10)
    labels: dict[str, str] = Field(default_factory=dict)
    roles: tuple[str, ...] = ()
    zone: str | None = None
    capacity: Capacity | None = None
    via: str | None = None
    host_key_check: HostKeyCheck = HostKeyCheck.verify
    haproxy: HAProxySettings = HAProxySettings()

    @property
    def is_lb(self) -> bool:
        return "lb" in self.roles

    def topology(self, key: str) -> str | None:
        """A label's value; also Kubernetes' well-known keys for the host name and zone
        (`kubernetes.io/hostname`, `topology.kubernetes.io/zone`, or just `zone`)."""
        if key in self.labels:
            return self.labels[key]
        if key == HOSTNAME_KEY:
            return self.name
        if key in (ZONE_KEY, "zone"):
            return self.zone
        return None

    def matches(self, selector: dict[str, str]) -> bool:
        """Whether the host has every label of a selector (nodeSelector semantics)."""
        return all(self.topology(k) == v for k, v in selector.items())


class GroupSpec(Strict):
    """A named set of hosts: listed by name, and/or selected by labels (union of both)."""

    hosts: list[str] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            try:
                names.label_key(key)
                names.label_value(item, f"value of label {key!r}")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), key) from None
        return value


class InventoryDocument(Strict):
    """The file as written."""

    api_version: Literal["fleet/v1"] = Field("fleet/v1", alias="apiVersion")
    kind: Literal["Inventory"] = "Inventory"
    name: str = "default"
    defaults: Defaults = Defaults()
    hosts: list[HostSpec]
    groups: dict[str, GroupSpec] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _checked(names.dns_label, value, "inventory name")

    @model_validator(mode="after")
    def _references(self) -> InventoryDocument:
        seen: dict[str, int] = {}
        endpoints: dict[tuple[str, int | None], str] = {}
        for i, host in enumerate(self.hosts):
            if host.name in seen:
                raise FieldError(f"host name {host.name!r} appears twice", "hosts", i, "name")
            seen[host.name] = i
            endpoint = (host.address, host.port or self.defaults.port or 22)
            if endpoint in endpoints:
                raise FieldError(
                    f"address {host.address}:{endpoint[1]} is also host {endpoints[endpoint]!r}",
                    "hosts",
                    i,
                    "address",
                )
            endpoints[endpoint] = host.name
        for i, host in enumerate(self.hosts):
            if host.via is None:
                continue
            if host.via not in seen:
                raise FieldError(
                    f"via {host.via!r} is not a host of this inventory", "hosts", i, "via"
                )
            chain: list[str] = [host.name]
            hop: str | None = host.via
            while hop is not None:
                if hop in chain:
                    raise FieldError(
                        f"jump hosts form a loop: {' -> '.join([*chain, hop])}", "hosts", i, "via"
                    )
                chain.append(hop)
                hop = self.hosts[seen[hop]].via
        for group, spec in self.groups.items():
            try:
                names.dns_label(group, "group name")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), "groups", group) from None
            if group in seen:
                raise FieldError(f"group {group!r} has the name of a host", "groups", group)
            for j, member in enumerate(spec.hosts):
                if member not in seen:
                    raise FieldError(
                        f"{member!r} is not a host of this inventory", "groups", group, "hosts", j
                    )
        return self


class Inventory:
    """A loaded inventory: resolved hosts by name, plus group and selector lookups."""

    def __init__(self, document: InventoryDocument, path: Path | None = None) -> None:
        self.document = document
        self.path = path
        self.name = document.name
        base = path.parent if path is not None else Path.cwd()
        self.hosts: dict[str, Host] = {
            spec.name: _resolve(spec, document.defaults, base) for spec in document.hosts
        }

    def __iter__(self) -> Any:
        return iter(self.hosts.values())

    def __len__(self) -> int:
        return len(self.hosts)

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a host of inventory {self.name!r}") from None

    @property
    def lb_hosts(self) -> list[Host]:
        """Hosts with role lb; with none, every host balances (like a NodePort)."""
        lbs = [h for h in self.hosts.values() if h.is_lb]
        return lbs or list(self.hosts.values())

    def select(self, selector: dict[str, str] | str) -> list[Host]:
        """Hosts matching a label selector: a dict, or text like "disk=ssd,zone!=b,gpu"."""
        if isinstance(selector, str):
            return [h for h in self.hosts.values() if _selector_matches(selector, h)]
        return [h for h in self.hosts.values() if h.matches(selector)]

    def resolve(self, target: str) -> list[Host]:
        """Hosts named by `all`, a host name, a group name, or a label selector text."""
        if target == "all":
            return list(self.hosts.values())
        if target in self.hosts:
            return [self.hosts[target]]
        if target in self.document.groups:
            return self.group(target)
        if any(c in target for c in "=!") or "," in target:
            return self.select(target)
        known = ", ".join([*self.hosts, *self.document.groups])
        raise KeyError(f"{target!r} is not a host, group or label selector (known: {known})")

    def group(self, name: str) -> list[Host]:
        spec = self.document.groups[name]
        chosen = {n: self.hosts[n] for n in spec.hosts}
        if spec.selector:
            chosen.update({h.name: h for h in self.select(spec.selector)})
        return list(chosen.values())


_REQUIREMENT = re.compile(
    r"\s*(?P<neg>!)?(?P<key>[^=!\s]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>\S*))?\s*"
)


def parse_selector(text: str) -> list[tuple[str, str, str | None]]:
    """ "disk=ssd,zone!=b,gpu,!spot" -> [(key, op, value)] with op in = != exists !exists."""
    out: list[tuple[str, str, str | None]] = []
    for part in text.split(","):
        match = _REQUIREMENT.fullmatch(part)
        if not match:
            raise ValueError(f"{part!r} is not a label requirement (like disk=ssd or zone!=b)")
        key = names.label_key(match["key"])
        if match["op"]:
            value = names.label_value(match["value"] or "")
            out.append((key, "!=" if match["op"] == "!=" else "=", value))
        else:
            out.append((key, "!exists" if match["neg"] else "exists", None))
    return out


def _selector_matches(text: str, host: Host) -> bool:
    for key, op, value in parse_selector(text):
        have = host.topology(key)
        if (op == "=" and have != value) or (op == "!=" and have == value):
            return False
        if (op == "exists" and have is None) or (op == "!exists" and have is not None):
            return False
    return True


def _resolve(spec: HostSpec, defaults: Defaults, base: Path) -> Host:
    def pick(field: str) -> Any:
        own = getattr(spec, field)
        return own if own is not None else getattr(defaults, field)

    def path(field: str) -> Path | None:
        value = pick(field)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)

    values: dict[str, Any] = {
        "name": spec.name,
        "address": spec.address,
        "labels": spec.labels,
        "roles": tuple(spec.roles),
        "zone": spec.zone,
        "capacity": spec.capacity,
        "via": spec.via,
        "host_key_check": spec.host_key_check,
        "identity": path("identity"),
        "known_hosts": path("known_hosts"),
    }
    for field in (
        "user",
        "port",
        "engine",
        "connect_timeout",
        "command_timeout",
        "max_sessions",
        "haproxy",
    ):
        value = pick(field)
        if value is not None:
            values[field] = value
    return Host(**values)
