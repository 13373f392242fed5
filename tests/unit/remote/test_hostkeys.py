"""known_hosts: matching by address and name (and [addr]:port), refusals, recording keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleet.errors import HostKeyError
from fleet.remote.hostkeys import (
    KnownHostsFiles,
    fingerprint,
    host_patterns,
    key_line,
    mismatch_error,
    record_host_key,
    remove_host_lines,
    unknown_key_error,
)
from fleet.spec.inventory import Host


def new_key() -> Any:
    return asyncssh.generate_private_key("ssh-ed25519").convert_to_public()


def host(tmp_path: Path, **kw: Any) -> Host:
    values: dict[str, Any] = {"name": "node2", "address": "10.0.0.12",
                              "known_hosts": tmp_path / "known_hosts"}
    values.update(kw)
    return Host(**values)


def hashed(name: str) -> str:
    salt = b"0123456789abcdefghij"
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_patterns_address_then_name_and_port_syntax(tmp_path: Path) -> None:
    assert host_patterns(host(tmp_path)) == ["10.0.0.12", "node2"]
    assert host_patterns(host(tmp_path, port=2222)) == ["[10.0.0.12]:2222", "[node2]:2222"]


@pytest.mark.parametrize("pattern", ["10.0.0.12", "node2", "node2,other", "10.0.0.*"])
def test_a_key_is_found_by_address_or_name(tmp_path: Path, pattern: str) -> None:
    key = new_key()
    other = new_key()
    (tmp_path / "known_hosts").write_text(f"{pattern} {key_line(key)}\nnode3 {key_line(other)}\n")
    trusted = KnownHostsFiles().trusted(host(tmp_path))
    assert trusted.keys == [key]


def test_hashed_entries_match(tmp_path: Path) -> None:
    key = new_key()
    (tmp_path / "known_hosts").write_text(f"{hashed('node2')} {key_line(key)}\n")
    assert KnownHostsFiles().trusted(host(tmp_path)).keys == [key]


def test_port_entries_only_match_that_port(tmp_path: Path) -> None:
    on_port, plain = new_key(), new_key()
    (tmp_path / "known_hosts").write_text(
        f"[10.0.0.12]:2222 {key_line(on_port)}\n10.0.0.12 {key_line(plain)}\n")
    assert KnownHostsFiles().trusted(host(tmp_path, port=2222)).keys == [on_port]
    assert KnownHostsFiles().trusted(host(tmp_path)).keys == [plain]


def test_missing_file_is_empty_and_unknown(tmp_path: Path) -> None:
    trusted = KnownHostsFiles().trusted(host(tmp_path))
    assert trusted.empty and trusted.path == tmp_path / "known_hosts"


def test_each_file_is_read_once(tmp_path: Path) -> None:
    key = new_key()
    path = tmp_path / "known_hosts"
    path.write_text(f"node2 {key_line(key)}\n")
    files = KnownHostsFiles()
    files.trusted(host(tmp_path))
    path.write_text("")  # a second lookup in the same run uses what was read
    assert files.trusted(host(tmp_path)).keys == [key]


def test_a_broken_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("@bogus-marker node2 ssh-ed25519 AAAA\n")
    with pytest.raises(HostKeyError, match="known_hosts"):
        KnownHostsFiles().trusted(host(tmp_path))


def test_mismatch_message_names_host_and_both_fingerprints(tmp_path: Path) -> None:
    recorded, presented = new_key(), new_key()
    (tmp_path / "known_hosts").write_text(f"node2 {key_line(recorded)}\n")
    h = host(tmp_path)
    error = mismatch_error(h, KnownHostsFiles().trusted(h), presented)
    text = str(error)
    assert text.startswith("node2: ")
    assert fingerprint(recorded) in text and fingerprint(presented) in text
    assert fingerprint(recorded).startswith("SHA256:")
    assert "nothing ran there" in text


def test_unknown_message_says_how_to_trust(tmp_path: Path) -> None:
    presented = new_key()
    text = str(unknown_key_error(host(tmp_path), presented, tmp_path / "kh", Path("inv.yaml")))
    assert "node2" in text and fingerprint(presented) in text
    assert "fleet hosts trust node2 -i inv.yaml" in text


def test_record_adds_under_address_and_name(tmp_path: Path) -> None:
    key = new_key()
    h = host(tmp_path)
    outcome = record_host_key(h, key, KnownHostsFiles().trusted(h))
    assert outcome.action == "added"
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert lines == [f"10.0.0.12 {key_line(key)}", f"node2 {key_line(key)}"]
    assert (tmp_path / "known_hosts").stat().st_mode & 0o777 == 0o600
    assert KnownHostsFiles().trusted(h).keys == [key]
    again = record_host_key(h, key, KnownHostsFiles().trusted(h))
    assert again.action == "already"


def test_record_refuses_a_different_key_unless_replace(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    other = new_key()
    (tmp_path / "known_hosts").write_text(
        f"# comment\n10.0.0.12,node2 {key_line(old)}\nnode3 {key_line(other)}\n"
        f"{hashed('node2')} {key_line(old)}\n")
    h = host(tmp_path)
    with pytest.raises(HostKeyError, match="--replace") as caught:
        record_host_key(h, new, KnownHostsFiles().trusted(h))
    assert fingerprint(old) in str(caught.value) and fingerprint(new) in str(caught.value)
    outcome = record_host_key(h, new, KnownHostsFiles().trusted(h), replace=True)
    assert outcome.action == "replaced"
    text = (tmp_path / "known_hosts").read_text()
    assert "# comment" in text and f"node3 {key_line(other)}" in text
    assert key_line(old) not in text
    assert KnownHostsFiles().trusted(h).keys == [new]


def test_remove_host_lines_keeps_other_hosts_on_shared_lines() -> None:
    text = "a,node2,b ssh-ed25519 AAA\n@cert-authority node2 ssh-ed25519 BBB\nnode2 ssh-rsa CCC\n"
    assert remove_host_lines(text, ["node2"]) == \
        "a,b ssh-ed25519 AAA\n@cert-authority node2 ssh-ed25519 BBB\n"
