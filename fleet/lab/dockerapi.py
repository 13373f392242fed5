"""A few calls of the Docker Engine API over a lab host's local unix socket.

The lab itself (bring-up, image loading, tear-down, status) talks to each
host's dockerd directly through its socket on this machine: no client binary
and no process per call. fleet proper reaches engines over SSH (fleet.remote).
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any, BinaryIO

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

    def request(
        self, method: str, url: str, body: bytes | BinaryIO | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request(method, url, body=body, headers=headers or {})
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

    def version(self) -> dict[str, Any]:
        status, body = self.request("GET", "/version")
        if status != 200:
            raise LabError(f"{self.path}: /version answered {status}")
        data: dict[str, Any] = json.loads(body)
        return data

    def image_id(self, ref: str) -> str | None:
        """The id (sha256:...) of image `ref`, None if the engine does not have it."""
        status, body = self.request("GET", f"/images/{urllib.parse.quote(ref, safe='/:')}/json")
        if status == 404:
            return None
        if status != 200:
            raise LabError(f"{self.path}: inspecting image {ref} answered {status}")
        return str(json.loads(body)["Id"])

    def load(self, archive: Path) -> None:
        """`docker load` of a docker-save archive (streamed from the file)."""
        size = archive.stat().st_size
        with archive.open("rb") as f:
            status, body = self.request(
                "POST",
                "/images/load?quiet=1",
                body=f,
                headers={"Content-Type": "application/x-tar", "Content-Length": str(size)},
            )
        if status != 200:
            raise LabError(f"{self.path}: loading {archive.name} answered {status}: {body[:200]!r}")
        for line in body.decode(errors="replace").splitlines():
            if line.strip().startswith("{") and "error" in json.loads(line):
                raise LabError(f"{self.path}: loading {archive.name}: {json.loads(line)['error']}")

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
