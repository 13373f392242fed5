"""`fleet validate` and `fleet convert`, run through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fleet.cli.main import main
from tests.unit.spec.helpers import ROOT, WEB, write

DEMO = str(ROOT / "blueprints" / "demo.yaml")
LAB = str(ROOT / "inventories" / "lab.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture(autouse=True)
def _no_inventory_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEET_INVENTORY", raising=False)


def test_validate_examples_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("demo.yaml", "zwitscher.yaml", "shop-compose.yaml"):
        code, out, err = run(capsys, "validate", "-i", LAB, str(ROOT / "blueprints" / name))
        assert code == 0, err
        assert out.startswith("ok: ") and "0 warning(s)" in out and err == ""


def test_validate_reports_every_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(
        tmp_path,
        "web.yaml",
        WEB.replace("replicas: 3", "replicas: x").replace("lab/web:1", "'lab/web:1;id'")
        + "        - name: web\n          image: lab/web:1\n",
    )
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 1 and out == ""
    assert f"error: {bad}:6 spec.replicas: expected a whole number" in err
    assert f"error: {bad}:15 spec.template.spec.containers[0].image" in err
    assert err.rstrip().endswith("2 error(s)")


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "-o", "json", "-i", LAB, DEMO)
    data = json.loads(out)
    assert code == 0 and data["schema"] == "fleet.validate/v1" and data["ok"] is True
    assert data["apps"] == ["demo"] and data["deployments"] == ["api", "kv", "web", "worker"]
    bad = write(tmp_path, "web.yaml", WEB.replace("replicas: 3", "replica: 3"))
    code, out, _ = run(capsys, "validate", "--output", "json", str(bad))
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert data["errors"] == [
        {
            "file": str(bad),
            "line": 6,
            "field": "spec.replica",
            "message": 'unknown field "replica"; did you mean "replicas"?',
        }
    ]


def test_validate_with_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = write(tmp_path, "web.yaml", WEB.replace("replicas: 3", "replicas: ${n}"))
    values = write(tmp_path, "values.yaml", "n: 2\n")
    assert run(capsys, "validate", str(text), "-f", str(values))[0] == 0
    assert run(capsys, "validate", str(text), "--set", "n=4")[0] == 0
    code, _, err = run(capsys, "validate", str(text))
    assert code == 1 and "parameter 'n' has no value" in err


def test_validate_warnings_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = write(
        tmp_path,
        "web.yaml",
        WEB.replace("      containers:\n", "      hostNetwork: true\n      containers:\n"),
    )
    code, out, err = run(capsys, "validate", str(text))
    assert code == 0 and "1 warning(s)" in out
    assert "warning: " in err and "hostNetwork" in err


def test_convert_compose(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", "compose", str(ROOT / "blueprints" / "shop-compose.yaml"))
    assert code == 0 and out.startswith("# Blueprint converted from")
    docs = list(yaml.safe_load_all(out))
    kinds = [(d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs]
    assert ("Deployment", "storefront", "shop") in kinds and ("Service", "stock", "shop") in kinds


def test_convert_compose_output_loads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fleet.spec.loader import load_blueprints

    compose = ROOT / "blueprints" / "shop-compose.yaml"
    _, out, _ = run(capsys, "convert", "compose", str(compose))
    converted = load_blueprints([write(tmp_path, "anything.yaml", out)])
    original = load_blueprints([compose])
    assert list(converted.objects()) == list(original.objects())


def test_convert_k8s(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", "k8s", DEMO)
    assert code == 0 and out.startswith("# Kubernetes manifests")
    kinds = [d["kind"] for d in yaml.safe_load_all(out) if d]
    assert kinds.count("Deployment") == 4 and kinds.count("Service") == 3


def test_convert_k8s_of_a_bad_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "web.yaml", "kind: Nope\n")
    code, out, err = run(capsys, "convert", "k8s", str(bad))
    assert code == 1 and out == "" and "kind 'Nope' is not supported" in err
