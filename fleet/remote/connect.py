"""Opening one SSH connection: the handshake, the host-key check, errors in plain words.

`connect_host` is what `SSHPool` calls for each host (once per run); a key the
host's known_hosts does not list is refused with HostKeyError naming the host
and both fingerprints (or how to trust an unknown key).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.errors import HostKeyError, UnreachableError
from fleet.remote.hostkeys import mismatch_error, unknown_key_error
from fleet.remote.options import HostOptions, describe_connect_error

if TYPE_CHECKING:
    from fleet.spec.inventory import Host


_CLIENT_CLASS: Any = None


class _Client:
    """asyncssh client callbacks: remembers the key a host presented when it is not trusted."""

    def __init__(self) -> None:
        self.presented: Any = None

    def __call__(self) -> Any:  # asyncssh's client_factory
        global _CLIENT_CLASS
        if _CLIENT_CLASS is None:
            import asyncssh

            class Client(asyncssh.SSHClient):
                recorder: _Client

                def validate_host_public_key(
                    self, host: str, addr: str, port: int, key: Any
                ) -> bool:
                    # only asked for keys known_hosts does not list: remember, refuse
                    self.recorder.presented = key
                    return False

            _CLIENT_CLASS = Client
        client = _CLIENT_CLASS()
        client.recorder = self
        return client


async def connect_host(
    host: Host, opts: HostOptions, *, tunnel: Any = (), inventory_path: Path | None = None
) -> Any:
    """An authenticated asyncssh connection to `host` within its connect timeout.

    Raises HostKeyError (key unknown or not matching; nothing ran there) or
    UnreachableError with a short reason.
    """
    import asyncssh

    client = _Client()
    try:
        async with asyncio.timeout(host.connect_timeout):
            return await asyncssh.connect(
                host.address,
                host.port,
                tunnel=tunnel,
                options=opts.options,
                client_factory=client,
            )
    except asyncssh.HostKeyNotVerifiable:
        if opts.trusted is None or client.presented is None:
            raise HostKeyError(host.name, "host key not verifiable") from None
        if opts.trusted.empty:
            raise unknown_key_error(
                host, client.presented, opts.trusted.path, inventory_path
            ) from None
        raise mismatch_error(host, opts.trusted, client.presented) from None
    except asyncssh.KeyExchangeFailed as exc:
        if opts.trusted is not None and opts.trusted.keys:
            algs = sorted({k.get_algorithm() for k in opts.trusted.keys})
            raise HostKeyError(
                host.name,
                f"{opts.trusted.path} lists only {', '.join(algs)} keys for this host "
                f"and the host offers none of them ({exc.reason}); nothing ran there",
            ) from None
        raise UnreachableError(host.name, describe_connect_error(exc, 0)) from None
    except asyncssh.PermissionDenied:
        keys = str(host.identity) if host.identity is not None else "ssh-agent / ~/.ssh keys"
        raise UnreachableError(
            host.name, f"auth failed: {host.user}@{host.address} accepted none of our keys ({keys})"
        ) from None
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        raise UnreachableError(
            host.name, describe_connect_error(exc, host.connect_timeout)
        ) from None
