"""A few calls of the Docker Engine API over a lab host's local unix socket.

The lab itself (bring-up, tear-down, status) talks to each
host's dockerd directly through its socket on this machine: no client binary
and no process per call. fleet proper reaches engines over SSH (fleet.remote).
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

from fleet.errors import LabError


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerSocket:
    """One host's engine, reached at its unix socket."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, method: str, url: str) -> tuple[int, bytes]:
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request(method, url)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def ping(self) -> bool:
        """True when the engine answers (its API is up)."""
        try:
            status, body = self.request("GET", "/_ping")
        except OSError:
            return False
        return status == 200 and body.strip() == b"OK"

    def container_ids(self) -> list[str]:
        """Ids of every container, running or not."""
        status, body = self.request("GET", "/containers/json?all=1")
        if status != 200:
            raise LabError(f"{self.path}: listing containers answered {status}")
        return [str(c["Id"]) for c in json.loads(body)]

    def remove_container(self, container: str) -> None:
        """`docker rm -f` (named volumes are kept; the lab's data-root goes at `down`)."""
        status, body = self.request("DELETE", f"/containers/{container}?force=1")
        if status not in (204, 404):
            raise LabError(f"{self.path}: removing container {container[:12]}: {body[:200]!r}")
