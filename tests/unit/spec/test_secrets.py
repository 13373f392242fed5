"""Secret values: read at apply time, never shown."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.spec.blueprint import SecretValue, resolve_env
from fleet.spec.digest import pod_spec_digest
from tests.unit.spec.helpers import WEB, load_text, write

SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: db}
sources:
  password: {file: db-password}
  token: {env: DB_TOKEN}
---
"""
ENV = """\
          env:
            - {name: PLAIN, value: hello}
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: db, key: token}}
            - name: FROM_FILE
              valueFrom: {file: extra.txt}
            - name: FROM_ENV
              valueFrom: {env: OTHER}
"""


def test_secret_value_never_shows() -> None:
    value = SecretValue("hunter2")
    assert repr(value) == str(value) == f"{value}" == "***"
    assert json.dumps({"v": value}, default=str) == '{"v": "***"}'
    assert "hunter2" not in repr([value, {"k": value}])
    assert value.reveal() == "hunter2" and value == SecretValue("hunter2")
    with pytest.raises(TypeError):
        pickle.dumps(value)


def test_resolve_env(tmp_path: Path) -> None:
    write(tmp_path, "db-password", "s3cret\n")
    write(tmp_path, "extra.txt", "from a file")
    bp = load_text(tmp_path, SECRET + WEB + ENV)
    web = bp.deployments["web"]
    environ = {"DB_TOKEN": "tok", "OTHER": "other"}
    env = resolve_env(web.main_container, bp, environ=environ)
    assert [name for name, _ in env] == ["PLAIN", "PASSWORD", "TOKEN", "FROM_FILE", "FROM_ENV"]
    assert env[0] == ("PLAIN", "hello")
    revealed = {n: v.reveal() for n, v in env if isinstance(v, SecretValue)}
    assert revealed == {
        "PASSWORD": "s3cret",
        "TOKEN": "tok",
        "FROM_FILE": "from a file",
        "FROM_ENV": "other",
    }
    assert "s3cret" not in repr(env)


def test_missing_sources_warn_at_load_and_fail_at_resolve(tmp_path: Path) -> None:
    bp = load_text(tmp_path, SECRET + WEB + ENV)
    assert len(bp.warnings) == 4  # the password file, DB_TOKEN, extra.txt, OTHER
    assert all("apply will fail until it is there" in w for w in bp.warnings)
    with pytest.raises(SpecError, match="cannot read secret file"):
        resolve_env(bp.deployments["web"].main_container, bp, environ={})


def test_secret_changes_change_the_revision(tmp_path: Path) -> None:
    write(tmp_path, "db-password", "one")
    write(tmp_path, "extra.txt", "x")
    bp = load_text(tmp_path, SECRET + WEB + ENV)
    web = bp.deployments["web"]
    environ = {"DB_TOKEN": "t", "OTHER": "o"}
    before = pod_spec_digest(web, bp, environ)
    assert before == pod_spec_digest(web, bp, environ)
    write(tmp_path, "db-password", "two")
    assert pod_spec_digest(web, bp, environ) != before
    assert pod_spec_digest(web) == pod_spec_digest(web)  # without a blueprint: refs only
