"""pod_spec_digest: stable, and changed exactly by what needs new containers."""

from __future__ import annotations

from pathlib import Path

from fleet.spec.digest import pod_spec_digest
from tests.unit.spec.helpers import WEB, load_text


def digest(tmp_path: Path, text: str) -> str:
    return pod_spec_digest(load_text(tmp_path, text).deployments["web"])


def test_stable_and_short(tmp_path: Path) -> None:
    first = digest(tmp_path, WEB)
    assert first == digest(tmp_path, WEB) and len(first) == 10
    assert all(c in "0123456789abcdef" for c in first)


def test_key_order_and_explicit_defaults_do_not_matter(tmp_path: Path) -> None:
    reordered = WEB.replace(
        "        - name: web\n          image: lab/web:1\n",
        "        - image: lab/web:1\n          name: web\n",
    )
    explicit = WEB.replace(
        "{name: http, containerPort: 8080}", "{name: http, containerPort: 8080, protocol: TCP}"
    )
    assert digest(tmp_path, reordered) == digest(tmp_path, WEB) == digest(tmp_path, explicit)


def test_what_does_not_count(tmp_path: Path) -> None:
    base = digest(tmp_path, WEB)
    for old, new in [
        ("replicas: 3", "replicas: 7"),
        ("      containers:\n", "      nodeSelector: {disk: ssd}\n      containers:\n"),
        ("      containers:\n", "      terminationGracePeriodSeconds: 5\n      containers:\n"),
        ("spec:\n  replicas", "spec:\n  minReadySeconds: 5\n  replicas"),
        ("  name: web\n", "  name: web\n  labels: {team: a}\n"),
    ]:
        assert digest(tmp_path, WEB.replace(old, new, 1)) == base, new


def test_what_counts(tmp_path: Path) -> None:
    base = digest(tmp_path, WEB)
    seen = {base}
    for old, new in [
        ("lab/web:1", "lab/web:2"),
        ("containerPort: 8080", "containerPort: 8081"),
        ("          image: lab/web:1\n", "          image: lab/web:1\n          args: [x]\n"),
        (
            "          image: lab/web:1\n",
            "          image: lab/web:1\n          env: [{name: A, value: b}]\n",
        ),
        (
            "          image: lab/web:1\n",
            "          image: lab/web:1\n          resources: {limits: {memory: 64Mi}}\n",
        ),
        (
            "          image: lab/web:1\n",
            "          image: lab/web:1\n          readinessProbe: {tcpSocket: {port: 8080}}\n",
        ),
    ]:
        changed = digest(tmp_path, WEB.replace(old, new, 1))
        assert changed not in seen, new
        seen.add(changed)
