"""asyncssh connection options for every host of a run, built once; connect errors in plain words.

STYLE.md ("options as one validated object"): the expensive parts, loading
identity files and reading known_hosts files, happen once per run and are
shared; each host's options derive from one base object with only what
differs (user, port, keys, the keys known_hosts allows for it).
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.errors import UnreachableError
from fleet.remote.hostkeys import KnownHostsFiles, TrustedKeys

if TYPE_CHECKING:
    from fleet.spec.inventory import Host

# Symmetric ciphers in order of preference. AES-GCM first: with AES-NI it moves bulk data
# (image pushes) faster than chacha20 in `cryptography`; every entry is a modern AEAD or
# CTR+ETM cipher OpenSSH also offers by default, so preferring them weakens nothing.
ENCRYPTION_ALGS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
KEEPALIVE_INTERVAL = 15.0  # seconds between keepalives on an idle connection
KEEPALIVE_COUNT_MAX = 3  # unanswered keepalives before the connection counts as lost


@dataclass(frozen=True)
class HostOptions:
    """What connecting to one host needs: asyncssh options and the keys it may present."""

    options: Any  # asyncssh.SSHClientConnectionOptions
    trusted: TrustedKeys | None  # None: host_key_check is off for this host


class ConnectOptions:
    """Builds and caches per-host asyncssh options; identity and known_hosts files read once."""

    def __init__(
        self,
        *,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        keepalive_count_max: int = KEEPALIVE_COUNT_MAX,
        encryption_algs: tuple[str, ...] = ENCRYPTION_ALGS,
    ) -> None:
        self.known_hosts = KnownHostsFiles()
        self._keepalive = (keepalive_interval, keepalive_count_max)
        self._encryption_algs = encryption_algs
        self._base: Any = None
        self._keys: dict[Path | None, list[Any]] = {}
        self._hosts: dict[str, HostOptions] = {}

    def _base_options(self) -> Any:
        if self._base is None:
            from asyncssh import SSHClientConnectionOptions

            self._base = SSHClientConnectionOptions(
                config=None,  # the inventory is the configuration, not ~/.ssh/config
                known_hosts=None,  # replaced per host below
                keepalive_interval=self._keepalive[0],
                keepalive_count_max=self._keepalive[1],
                encryption_algs=list(self._encryption_algs),
                client_keys=None,
                agent_path=None,
            )
        return self._base

    def _client_keys(self, host: Host) -> tuple[list[Any] | tuple[()], Any]:
        """(client_keys, agent_path) for a host: its identity file, else default keys + agent."""
        if host.identity is None:
            if None not in self._keys:
                from asyncssh import SSHClientConnectionOptions

                defaults = SSHClientConnectionOptions(config=None)  # loads ~/.ssh/id_* once
                self._keys[None] = list(defaults.client_keys or [])
            return (self._keys[None] or (), ())  # () = asyncssh's default: $SSH_AUTH_SOCK
        if host.identity not in self._keys:
            from asyncssh import KeyImportError, load_keypairs

            try:
                self._keys[host.identity] = list(load_keypairs([str(host.identity)]))
            except OSError as exc:
                raise UnreachableError(
                    host.name, f"cannot read identity file {host.identity}: {exc.strerror}"
                ) from None
            except KeyImportError as exc:
                raise UnreachableError(
                    host.name,
                    f"cannot use identity file {host.identity}: {exc} "
                    "(a passphrase-protected key must be loaded into ssh-agent and the "
                    "identity setting left out)",
                ) from None
        return (self._keys[host.identity], None)

    def for_host(self, host: Host) -> HostOptions:
        """The options for connecting to `host` (cached for the run)."""
        cached = self._hosts.get(host.name)
        if cached is not None:
            return cached
        from asyncssh import SSHClientConnectionOptions

        keys, agent = self._client_keys(host)
        # `off` is only ever an explicit per-host inventory setting (HostKeyCheck)
        trusted = None if host.host_key_check == "off" else self.known_hosts.trusted(host)
        options = SSHClientConnectionOptions(
            options=self._base_options(),
            username=host.user,
            port=host.port,
            client_keys=keys,
            agent_path=agent,
            known_hosts=None if trusted is None else trusted.as_asyncssh(),
        )
        result = HostOptions(options, trusted)
        self._hosts[host.name] = result
        return result


def describe_connect_error(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed connect, in the operator's words."""
    import asyncssh

    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:.1f} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is sshd running?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve address: {exc.strerror}"
    if isinstance(exc, asyncssh.PermissionDenied):
        return "auth failed: the server accepted none of our keys"
    if isinstance(exc, asyncssh.KeyExchangeFailed):
        return f"key exchange failed: {exc.reason}"
    if isinstance(exc, asyncssh.ConnectionLost | ConnectionResetError | BrokenPipeError):
        return "connection lost"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"disconnected: {exc.reason}"
    if isinstance(exc, asyncssh.ChannelOpenError):
        return f"jump host could not open the tunnel: {exc.reason}"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to host"
        if exc.errno == errno.ETIMEDOUT:
            return f"timed out after {timeout:.1f} s"
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__
