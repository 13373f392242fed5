"""Small builders for the spec tests: write YAML to a file and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from fleet.spec.blueprint import Blueprint
from fleet.spec.loader import load_blueprints

ROOT = Path(__file__).resolve().parents[3]

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: lab/web:1
          ports:
            - {name: http, containerPort: 8080}
"""

WEB_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
    - port: 8080
      targetPort: http
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def load_text(directory: Path, text: str, name: str = "app.yaml", **kwargs: Any) -> Blueprint:
    kwargs.setdefault("environ", {})
    return load_blueprints([write(directory, name, text)], **kwargs)
