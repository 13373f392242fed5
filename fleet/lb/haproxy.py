"""Installing a rendered haproxy.cfg on the lb hosts and reloading HAProxy (I/O).

    report = await apply_lb(pool, inventory, {host: rendered.text for host, rendered in ...})
    report.raise_for_errors()     # HAProxyConfigError naming host and reason, if rejected

Per host, ONE round trip does the file work (a fixed POSIX sh script, values
passed as arguments, the config on stdin):
  1. find how to reload: the master socket if the inventory names one and it
     exists (`reload: auto` or `master-socket`), else an active systemd unit;
  2. compare the live config's sha256 with the new one: equal and no reload
     pending -> `unchanged` (no write, no reload);
  3. write a temp file in the config's directory, `haproxy -c -f` it (a
     rejected config is removed; the live one stays; HAProxy's alerts are the
     reason), keep the live one as `haproxy.cfg.prev`, rename the temp file
     over it (atomic), and mark a reload pending;
  4. systemd: `systemctl reload haproxy` (Debian's unit checks, then USR2s
     the master: a master-worker reload) and clear the mark.
For the master socket the reload goes through the master CLI over SSH
(fleet.lb.master), then a second round trip clears the pending mark. The mark
makes a run killed between install and reload finish the reload next time.
With `haproxy.sudo: true` the script runs as the login user and each step that
needs root is one fixed command under `sudo -n` (`tee CFG.x`, `haproxy -c -f
CFG.x`, `cp -p`, `mv -f`, `rm -f` of config paths, `systemctl reload haproxy`):
what a sudoers file can allow exactly (vagrant/guest/sudoers-fleet), never a shell.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from fleet.errors import HAProxyConfigError, HostKeyError, RemoteError, UnreachableError
from fleet.lb.master import ReloadFailed, reload_master, show_proc

if TYPE_CHECKING:
    from fleet.remote.ssh import SSHPool
    from fleet.spec.inventory import Host, Inventory

PENDING_SUFFIX = ".fleet-reload-pending"
EXIT_REJECTED = 3

# $1 config path, $2 sha256 of the new config, $3 master socket ("" if none), $4 reload
# setting, $5 "sudo" or ""; the new config on stdin. Prints key=value lines; exit 3: haproxy -c
# rejected it. Every write, the check and the reload go through as_root (see the docstring).
INSTALL_SCRIPT = r"""
set -u
cfg=$1 want=$2 master=$3 how=$4 priv=${5:-}
as_root() { if [ "$priv" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
pending="$cfg.fleet-reload-pending"
method=none
if [ "$how" != systemd ] && [ -n "$master" ] && [ -S "$master" ]; then
    method=master-socket
elif [ "$how" != master-socket ] && command -v systemctl >/dev/null 2>&1 \
        && systemctl is-active --quiet haproxy 2>/dev/null; then
    method=systemd
fi
echo "method=$method"
have=
[ -f "$cfg" ] && have=$(sha256sum <"$cfg" | cut -d' ' -f1)
if [ "$have" = "$want" ]; then
    cat >/dev/null
    if [ ! -e "$pending" ]; then echo "state=unchanged"; exit 0; fi
    echo "state=pending"
else
    if [ "$priv" = sudo ]; then
        # only root writes in the config's directory: a free name needs no reservation
        tmp=$(mktemp -u "$cfg.fleet-XXXXXX") || exit 20
    else
        tmp=$(mktemp "$cfg.fleet-XXXXXX") || exit 20
    fi
    trap 'as_root rm -f "$tmp"' EXIT
    as_root tee "$tmp" >/dev/null || exit 21
    got=$(sha256sum <"$tmp" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "the config arrived damaged" >&2; exit 22; }
    # non-root users on Debian have no /usr/sbin in PATH
    hp=$(command -v haproxy || echo /usr/sbin/haproxy)
    [ -x "$hp" ] || { echo "haproxy is not installed (not in PATH, not /usr/sbin)" >&2; exit 28; }
    if ! out=$(as_root "$hp" -c -f "$tmp" 2>&1); then
        printf '%s\n' "$out" >&2
        exit 3
    fi
    # (under sudo, tee created it 644 already: sudo's umask is at least 022)
    [ "$priv" = sudo ] || chmod 644 "$tmp" || exit 23
    if [ -f "$cfg" ]; then as_root cp -p "$cfg" "$cfg.prev" || exit 24; fi
    as_root tee "$pending" </dev/null >/dev/null || exit 25
    as_root mv -f "$tmp" "$cfg" || exit 26
    trap - EXIT
    echo "state=installed"
fi
if [ "$method" = systemd ]; then
    as_root systemctl reload haproxy || exit 27
    as_root rm -f "$pending"
    echo "state=reloaded"
fi
"""


# $1 config path, $2 "sudo" or "": put the previous config back after HAProxy failed to start
# with the new one
RESTORE_SCRIPT = r"""
set -u
cfg=$1 priv=${2:-}
as_root() { if [ "$priv" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
if [ -f "$cfg.prev" ]; then
    as_root cp -p "$cfg.prev" "$cfg.fleet-restore" &&
        as_root mv -f "$cfg.fleet-restore" "$cfg" || exit 1
fi
as_root rm -f "$cfg.fleet-reload-pending"
"""


class LbOutcome(StrEnum):
    unchanged = "unchanged"  # same config: nothing written, no reload
    reloaded = "reloaded"  # new config installed and HAProxy reloaded
    rejected = "rejected"  # haproxy -c refused it: the old config stays
    unreachable = "unreachable"  # could not reach the host
    failed = "failed"  # anything else (no way to reload, reload failed, write failed)


@dataclass(frozen=True)
class HostLbResult:
    host: str
    outcome: LbOutcome
    reason: str = ""
    method: str = ""  # master-socket | systemd | none
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in (LbOutcome.unchanged, LbOutcome.reloaded)


@dataclass(frozen=True)
class LbReport:
    """What happened on each lb host."""

    results: dict[str, HostLbResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    def raise_for_errors(self) -> None:
        """HAProxyConfigError for a rejected config (first), RemoteError for other failures."""
        for result in sorted(self.results.values(), key=lambda r: r.host):
            if result.outcome is LbOutcome.rejected:
                raise HAProxyConfigError(f"{result.host}: HAProxy rejected the config: "
                                         f"{result.reason}")
        for result in sorted(self.results.values(), key=lambda r: r.host):
            if not result.ok:
                raise RemoteError(result.host, result.reason or str(result.outcome))

    def as_dict(self) -> dict[str, object]:
        return {
            h: {"outcome": r.outcome.value, "reason": r.reason, "method": r.method,
                "seconds": round(r.seconds, 3)}
            for h, r in sorted(self.results.items())
        }


_ALERT = re.compile(r"\[ALERT\]\s*(?:\(\d+\)\s*)?:\s*(?:config\s*:\s*)?")
_TMP = re.compile(r"\.fleet-[A-Za-z0-9]{6}\b")
_SUMMARY = ("Error(s) found in configuration file", "Fatal errors found")


def rejection_reason(output: str, limit: int = 400) -> str:
    """HAProxy's reason from `haproxy -c` output: its ALERT lines (without the closing
    summary lines), temp-file names turned back into the config's name."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    alerts = [_ALERT.sub("", line) for line in lines if "[ALERT]" in line]
    specific = [a for a in alerts if not a.startswith(_SUMMARY)]
    chosen = specific or alerts or lines[-3:] or ["no output"]
    text = _TMP.sub("", "; ".join(chosen))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_install_output(text: str) -> dict[str, str]:
    """key=value lines of the install script (the last `state=` wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("method", "state"):
            out[key] = value.strip()
    return out


def install_argv(host: Host, digest: str) -> list[str]:
    """The command that installs a config on the host (see INSTALL_SCRIPT)."""
    settings = host.haproxy
    argv = [
        "sh", "-c", INSTALL_SCRIPT, "fleet-lb",
        settings.config, digest, settings.master_socket or "", settings.reload,
        "sudo" if settings.sudo else "",
    ]  # fmt: skip
    return argv


def _sudo(host: Host, argv: list[str]) -> list[str]:
    return ["sudo", "-n", *argv] if host.haproxy.sudo else argv


async def push_config(pool: SSHPool, host: str, text: str) -> HostLbResult:
    """Install and reload one host's config. Raises HAProxyConfigError if HAProxy rejects
    it (the old config stays), RemoteError if the host is unreachable or a step fails."""
    started = time.monotonic()
    settings = pool.host(host)
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    result = await pool.run(host, install_argv(settings, digest), stdin=data, check=False)
    found = parse_install_output(result.text)
    method = found.get("method", "")
    if result.exit_status == EXIT_REJECTED:
        raise HAProxyConfigError(
            f"{host}: HAProxy rejected the config: {rejection_reason(result.error_text)}"
        )
    if not result.ok:
        detail = result.error_text.strip().splitlines()
        raise RemoteError(
            host, f"installing the HAProxy config failed (exit {result.exit_status}): "
            f"{detail[-1] if detail else 'no error output'}"
        )
    state = found.get("state")
    took = time.monotonic() - started
    if state == "unchanged":
        return HostLbResult(host, LbOutcome.unchanged, method=method, seconds=took)
    if state == "reloaded":
        return HostLbResult(host, LbOutcome.reloaded, method=method, seconds=took)
    if method == "master-socket":
        assert settings.haproxy.master_socket is not None
        try:
            await reload_master(pool, host, settings.haproxy.master_socket)
        except ReloadFailed as exc:
            # passed `haproxy -c` but would not start: keep the file that runs on disk, so
            # a restart (or reboot) does not load a config that cannot start
            await pool.run(host, ["sh", "-c", RESTORE_SCRIPT, "fleet-lb",
                                  settings.haproxy.config, "sudo" if settings.haproxy.sudo else ""])
            raise ReloadFailed(host, f"{exc.message}; the previous config was put back") from None
        clear = ["rm", "-f", settings.haproxy.config + PENDING_SUFFIX]
        await pool.run(host, _sudo(settings, clear))
        return HostLbResult(
            host, LbOutcome.reloaded, method=method, seconds=time.monotonic() - started
        )
    raise RemoteError(
        host, "the new HAProxy config is installed but HAProxy cannot be reloaded: no master "
        f"socket at {settings.haproxy.master_socket or '(none configured)'} and no active "
        "systemd unit `haproxy`",
    )


async def apply_lb(
    pool: SSHPool, inventory: Inventory | None, rendered: Mapping[str, str]
) -> LbReport:
    """Push each host's config (hosts in parallel): unchanged / reloaded / rejected /
    unreachable / failed per host. Never raises for one host's trouble."""

    async def one(host: str, text: str) -> HostLbResult:
        started = time.monotonic()
        try:
            return await push_config(pool, host, text)
        except HAProxyConfigError as exc:
            reason = str(exc).split("HAProxy rejected the config: ", 1)[-1]
            return HostLbResult(host, LbOutcome.rejected, reason,
                                seconds=time.monotonic() - started)
        except (UnreachableError, HostKeyError) as exc:
            return HostLbResult(host, LbOutcome.unreachable, exc.message,
                                seconds=time.monotonic() - started)
        except RemoteError as exc:
            return HostLbResult(host, LbOutcome.failed, exc.message,
                                seconds=time.monotonic() - started)

    if inventory is not None:
        unknown = sorted(set(rendered) - set(inventory.hosts))
        if unknown:
            raise KeyError(f"not hosts of the inventory: {', '.join(unknown)}")
    hosts = sorted(rendered)
    done = await asyncio.gather(*(one(h, rendered[h]) for h in hosts))
    return LbReport({r.host: r for r in done})


async def wait_drained(
    pool: SSHPool, hosts: Iterable[str], *, timeout: float, interval: float = 0.1
) -> dict[str, bool]:
    """After pushing a config without some pods: wait until no old HAProxy worker (which
    may still carry requests to them) is left, on every host; `timeout` bounds it (the
    pods' terminationGracePeriodSeconds; hard-stop-after ends old workers anyway).

    Per host: True once drained; False at the deadline, or when the host's workers
    cannot be seen (no master socket reachable, e.g. a systemd host with a root-only one).
    """

    async def one(host: str) -> bool:
        socket = pool.host(host).haproxy.master_socket
        if not socket:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                if not (await show_proc(pool, host, socket)).old_workers:
                    return True
            except RemoteError:
                return False
            if loop.time() + interval > deadline:
                return False
            await asyncio.sleep(interval)

    names = sorted(set(hosts))
    done = await asyncio.gather(*(one(h) for h in names))
    return dict(zip(names, done, strict=True))
