"""lab.json: a lab's parameters and every resource it made, saved the moment it is made.

`up` notes a resource (bridge, iptables rule, netns, veth) *before* creating
it and a daemon's pid right after launching it, and saves the file atomically
each time. So `down` after a crash or Ctrl-C anywhere in `up` finds all of it;
removing something that was noted but never made is a no-op.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fleet.errors import LabError

SCHEMA = "fleet.lab/v1"


@dataclass(frozen=True)
class Params:
    """What `fleet lab up` was asked for."""

    hosts: int
    lb: int
    cpu: str
    memory: str


class Record:
    """The lab.json of one lab; methods are safe to call from several threads."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data
        self._lock = threading.Lock()

    @classmethod
    def new(cls, path: Path, name: str, octet: int, bridge: str, params: Params) -> Record:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "name": name,
            "octet": octet,
            "bridge": bridge,
            "params": asdict(params),
            "made": [],
            "pids": {},
        }
        return cls(path, data)

    @classmethod
    def read(cls, path: Path) -> Record | None:
        """The record at `path`, None if there is none; LabError if it is unreadable."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LabError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise LabError(f"{path} is not a fleet lab record ({SCHEMA})")
        return cls(path, data)

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def octet(self) -> int:
        return int(self._data["octet"])

    @property
    def bridge(self) -> str:
        return str(self._data["bridge"])

    @property
    def params(self) -> Params:
        return Params(**self._data["params"])

    def set_params(self, params: Params) -> None:
        with self._lock:
            self._data["params"] = asdict(params)
            self._save()

    def note(self, kind: str, **fields: Any) -> None:
        """Remember a resource (call it before making the resource)."""
        entry = {"kind": kind, **fields}
        with self._lock:
            if entry not in self._data["made"]:
                self._data["made"].append(entry)
                self._save()

    def forget(self, kind: str, **fields: Any) -> None:
        """Drop a resource after it was removed."""
        entry = {"kind": kind, **fields}
        with self._lock:
            if entry in self._data["made"]:
                self._data["made"].remove(entry)
                self._save()

    def made(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._data["made"] if e["kind"] == kind]

    def set_pid(self, key: str, pid: int | None) -> None:
        """Remember (or with None, forget) the pid of a daemon, keyed `node<i>/<daemon>`."""
        with self._lock:
            if pid is None:
                self._data["pids"].pop(key, None)
            else:
                self._data["pids"][key] = pid
            self._save()

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {k: int(v) for k, v in self._data["pids"].items()}

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(self._data, indent=2) + "\n")
        os.replace(tmp, self.path)
