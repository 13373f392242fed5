"""known_hosts: which keys a host may present, fingerprints, and recording a trusted key.

A host is looked up in its known_hosts file by address AND by inventory name,
with OpenSSH's `[addr]:port` syntax when the port is not 22. Each file is read
once per run (`KnownHostsFiles`). Recording a key (`record_host_key`) is what
`fleet hosts trust` does; it never silently replaces a different key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.errors import HostKeyError

if TYPE_CHECKING:
    from fleet.spec.inventory import Host

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def known_hosts_path(host: Host) -> Path:
    """The known_hosts file for a host: the inventory's, else OpenSSH's default."""
    return host.known_hosts if host.known_hosts is not None else DEFAULT_KNOWN_HOSTS.expanduser()


def host_patterns(host: Host) -> list[str]:
    """The names a host is recorded under: address then inventory name, `[x]:port` off 22."""
    plain = [host.address] if host.address == host.name else [host.address, host.name]
    return plain if host.port == 22 else [f"[{p}]:{host.port}" for p in plain]


def fingerprint(key: Any) -> str:
    """`SHA256:...` as OpenSSH prints it (`ssh-keygen -lf`)."""
    return str(key.get_fingerprint("sha256"))


def key_line(key: Any) -> str:
    """`<algorithm> <base64>` of a public key, without a comment."""
    text = key.export_public_key("openssh").decode().split()
    return f"{text[0]} {text[1]}"


@dataclass(frozen=True)
class TrustedKeys:
    """What known_hosts allows for one host: keys, CA keys (for certificates), revoked keys."""

    path: Path
    keys: list[Any] = field(default_factory=list)
    ca_keys: list[Any] = field(default_factory=list)
    revoked: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.keys and not self.ca_keys

    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]

    def as_asyncssh(self) -> tuple[list[Any], list[Any], list[Any]]:
        """The (trusted, CA, revoked) triple asyncssh takes as `known_hosts` (no re-matching)."""
        return (list(self.keys), list(self.ca_keys), list(self.revoked))


class KnownHostsFiles:
    """known_hosts files read once per run and matched per host."""

    def __init__(self) -> None:
        self._loaded: dict[Path, Any] = {}

    def load(self, path: Path) -> Any:
        """The parsed file (an empty list when it does not exist yet)."""
        if path not in self._loaded:
            from asyncssh import import_known_hosts

            try:
                text = path.read_text()
            except FileNotFoundError:
                text = ""
            except OSError as exc:
                raise HostKeyError(str(path), f"cannot read known_hosts: {exc.strerror}") from None
            try:
                self._loaded[path] = import_known_hosts(text)
            except ValueError as exc:
                raise HostKeyError(str(path), f"not a valid known_hosts file: {exc}") from None
        return self._loaded[path]

    def trusted(self, host: Host) -> TrustedKeys:
        """Keys known_hosts lists for the host under its address or its name."""
        path = known_hosts_path(host)
        known = self.load(path)
        port = None if host.port == 22 else host.port
        try:
            ipaddress.ip_address(host.address)
            lookups = [(host.name, host.address), (host.address, host.address)]
        except ValueError:  # a DNS name: asyncssh wants an IP (or nothing) as `addr`
            lookups = [(host.name, ""), (host.address, "")]
        keys: list[Any] = []
        cas: list[Any] = []
        revoked: list[Any] = []
        for name, addr in lookups:
            found, found_cas, found_revoked, *_ = known.match(name, addr, port)
            _extend_unique(keys, found)
            _extend_unique(cas, found_cas)
            _extend_unique(revoked, found_revoked)
        return TrustedKeys(path, keys, cas, revoked)


def _extend_unique(into: list[Any], items: list[Any]) -> None:
    for item in items:
        if item not in into:
            into.append(item)


def unknown_key_error(
    host: Host, presented: Any, path: Path, inventory: Path | None
) -> HostKeyError:
    """The refusal for a host whose key known_hosts does not list, with how to trust it."""
    inv = str(inventory) if inventory is not None else "INVENTORY"
    return HostKeyError(
        host.name,
        f"host key {fingerprint(presented)} ({presented.get_algorithm()}) is not in {path}; "
        f"nothing ran there. Check the fingerprint, then trust it with "
        f"`fleet hosts trust {host.name} -i {inv}`",
    )


def mismatch_error(host: Host, trusted: TrustedKeys, presented: Any) -> HostKeyError:
    """The refusal for a host presenting a key other than the recorded one: both fingerprints."""
    expected = ", ".join(trusted.fingerprints()) or "a key signed by a trusted CA"
    return HostKeyError(
        host.name,
        f"HOST KEY MISMATCH: {trusted.path} expects {expected} but the host presented "
        f"{fingerprint(presented)} ({presented.get_algorithm()}); nothing ran there. "
        "Someone may be intercepting the connection, or the host was reinstalled: verify the new "
        f"key, then `fleet hosts trust {host.name} -i INVENTORY --replace`",
    )


# ---- recording keys (`fleet hosts trust`) ---------------------------------------------


def _hashed_matches(pattern: str, names: set[str]) -> bool:
    """Whether an OpenSSH hashed entry `|1|salt|hash` stands for one of `names`."""
    try:
        _, magic, salt, digest = pattern.split("|")
        salt_bytes, want = base64.b64decode(salt), base64.b64decode(digest)
    except ValueError:
        return False
    return magic == "1" and any(
        hmac.compare_digest(hmac.new(salt_bytes, n.encode(), hashlib.sha1).digest(), want)
        for n in names
    )


def remove_host_lines(text: str, patterns: list[str]) -> str:
    """known_hosts text without the host's plain entries (pure).

    A line listing other hosts too keeps them; hashed entries for the host go;
    @cert-authority and @revoked lines stay untouched.
    """
    names = set(patterns)
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split(None, 1)
        if not parts or line.lstrip().startswith(("#", "@")) or len(parts) < 2:
            out.append(line)
            continue
        hosts, rest = parts
        if hosts.startswith("|"):
            if not _hashed_matches(hosts, names):
                out.append(line)
            continue
        keep = [h for h in hosts.split(",") if h not in names]
        if keep:
            out.append(",".join(keep) + " " + rest)
    return "\n".join(out) + ("\n" if out else "")


@dataclass(frozen=True)
class TrustOutcome:
    """What `record_host_key` did: `added`, `already` (same key recorded) or `replaced`."""

    action: str
    path: Path
    lines: list[str]


def record_host_key(
    host: Host, key: Any, trusted: TrustedKeys, *, replace: bool = False
) -> TrustOutcome:
    """Append the host's key to its known_hosts under address and name (atomically).

    Refuses (HostKeyError) when a different key is recorded for the host, unless
    `replace`, which first drops the host's old entries.
    """
    path = trusted.path
    lines = [f"{pattern} {key_line(key)}" for pattern in host_patterns(host)]
    if key in trusted.keys:
        return TrustOutcome("already", path, [])
    if trusted.keys and not replace:
        raise HostKeyError(
            host.name,
            f"{path} already has a different key for this host "
            f"({', '.join(trusted.fingerprints())}); the host presents {fingerprint(key)}. "
            "If the host was reinstalled and you checked the new key, pass --replace",
        )
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    if trusted.keys:
        text = remove_host_lines(text, host_patterns(host))
    if text and not text.endswith("\n"):
        text += "\n"
    text += "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.fleet-{os.getpid()}")
    tmp.write_text(text)
    os.chmod(tmp, 0o600 if not path.exists() else path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return TrustOutcome("replaced" if trusted.keys else "added", path, lines)
