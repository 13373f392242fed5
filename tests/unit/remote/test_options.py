"""Connection options: built once per run, host key policy per host, errors in plain words."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleet.errors import UnreachableError
from fleet.remote.hostkeys import key_line
from fleet.remote.options import ConnectOptions, describe_connect_error
from fleet.spec.inventory import Host


@pytest.fixture
def identity(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(path))
    return path


def make(tmp_path: Path, name: str, **kw: Any) -> Host:
    values: dict[str, Any] = {"name": name, "address": f"10.0.0.{len(name)}",
                              "known_hosts": tmp_path / "known_hosts"}
    values.update(kw)
    return Host(**values)


def test_identity_and_known_hosts_loaded_once_for_all_hosts(tmp_path: Path,
                                                            identity: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    (tmp_path / "known_hosts").write_text(f"node1 {key_line(key)}\n")
    options = ConnectOptions()
    a = options.for_host(make(tmp_path, "node1", identity=identity, user="deploy", port=2200))
    b = options.for_host(make(tmp_path, "node2", identity=identity))
    assert a.options.client_keys[0] is b.options.client_keys[0]  # one load, shared
    assert a.options.username == "deploy" and a.options.port == 2200
    assert a.trusted is not None and a.trusted.keys == [key]
    assert b.trusted is not None and b.trusted.empty
    assert options.for_host(make(tmp_path, "node1", identity=identity)) is a  # cached per run


def test_host_key_check_off_is_per_host(tmp_path: Path, identity: Path) -> None:
    options = ConnectOptions()
    off = options.for_host(make(tmp_path, "node1", identity=identity, host_key_check="off"))
    on = options.for_host(make(tmp_path, "node2", identity=identity))
    assert off.trusted is None and off.options.known_hosts is None
    assert on.trusted is not None and on.options.known_hosts is not None


def test_missing_identity_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UnreachableError, match="cannot read identity file"):
        ConnectOptions().for_host(make(tmp_path, "node1", identity=tmp_path / "nope"))


def test_ciphers_prefer_aes_gcm_and_stay_strong(tmp_path: Path, identity: Path) -> None:
    opts = ConnectOptions().for_host(make(tmp_path, "node1", identity=identity)).options
    algs = [a.decode() if isinstance(a, bytes) else a for a in opts.encryption_algs]
    assert algs[0] == "aes128-gcm@openssh.com"
    assert not any("cbc" in a or "arcfour" in a or "3des" in a for a in algs)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (TimeoutError(), "timed out after 5.0 s"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "no route to host"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "cannot resolve"),
        (asyncssh.PermissionDenied("no"), "auth failed"),
        (asyncssh.ConnectionLost("gone"), "connection lost"),
    ],
)
def test_connect_errors_in_plain_words(error: BaseException, words: str) -> None:
    assert words in describe_connect_error(error, 5.0)
