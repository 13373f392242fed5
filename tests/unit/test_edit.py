"""`fleet scale` edits blueprints in place, keeping comments and layout."""

from __future__ import annotations

import pytest

from fleet.edit import set_replicas
from fleet.errors import SpecError

BLUEPRINT = """\
# the demo application
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # the front end
spec:
  replicas: 3   # scaled by hand
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "lab/web:1"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers: [{name: worker, image: "lab/worker:1"}]
"""


def test_scale_changes_only_the_replica_count(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(BLUEPRINT)
    assert set_replicas([path], "web", 4) == path
    assert path.read_text() == BLUEPRINT.replace("replicas: 3   #", "replicas: 4   #")


def test_scale_finds_the_document_in_a_folder(tmp_path):
    (tmp_path / "demo.yaml").write_text(BLUEPRINT)
    set_replicas([tmp_path], "worker", 0)
    assert "  replicas: 0\n" in (tmp_path / "demo.yaml").read_text()


def test_scale_of_an_unknown_deployment_names_the_files(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(BLUEPRINT)
    with pytest.raises(SpecError, match="no Deployment named 'api'"):
        set_replicas([path], "api", 2)
    assert path.read_text() == BLUEPRINT


def test_scale_refuses_a_parameterised_count(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(BLUEPRINT.replace("replicas: 3", "replicas: ${web_replicas}"))
    with pytest.raises(
        SpecError, match=r"demo.yaml:7 spec.replicas: replicas is '\$\{web_replicas\}'"
    ):
        set_replicas([path], "web", 2)
