"""The lecture's zwitscher Deployment and Service validate as written.

They are read out of the seed text (shared/seeds/ beside the repository, or the
copy in fixtures/ when that is not there). The lecture's resources and probe
snippets are spliced into the container as a fixture: the probe snippet as
written; the resources snippet lost its indentation on the slide (`cpu:` is
deeper than `memory:`), which is not valid YAML, so its indentation is
restored by the one rule it breaks (section keys at 2, quantities at 4).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.errors import SpecErrors
from fleet.spec.blueprint import Deployment, Service
from fleet.spec.loader import load_blueprints

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "seeds"
FIXTURE = Path(__file__).parent / "fixtures" / "seed-lecture.txt"


def seed_text() -> str:
    for path in sorted(SHARED.glob("*.txt")) if SHARED.is_dir() else []:
        text = path.read_text()
        if "kind: Deployment" in text:
            return text
    return FIXTURE.read_text()


def blocks() -> list[str]:
    return re.findall(r"```\n(.*?)```", seed_text(), re.S)


def block_with(marker: str) -> str:
    found = [b for b in blocks() if marker in b]
    assert len(found) == 1, f"expected one block with {marker!r}"
    return found[0]


def repaired_resources(snippet: str) -> dict[str, Any]:
    lines = [line for line in snippet.splitlines() if not line.lstrip().startswith("#")]
    fixed = []
    for line in lines:
        key = line.strip()
        if line == "resources:":
            fixed.append(line)
        elif key.endswith(":"):
            fixed.append("  " + key)  # requests: / limits:
        elif key:
            fixed.append("    " + key)  # memory: / cpu:
    data = yaml.safe_load("\n".join(fixed))
    assert isinstance(data, dict)
    return data


def test_the_vendored_copy_is_the_seed() -> None:
    if not SHARED.is_dir():
        pytest.skip("shared/seeds is not beside the repository")
    assert seed_text() == FIXTURE.read_text()


def test_seed_deployment_and_service_validate_unchanged(tmp_path: Path) -> None:
    deployment, service = block_with("kind: Deployment"), block_with("kind: Service")
    path = tmp_path / "zwitscher.yaml"
    path.write_text(deployment + "---\n" + service)
    blueprint = load_blueprints([path])
    dep = blueprint.deployments["zwitscher-service"]
    svc = blueprint.services["zwitscher-service"]
    assert dep.api_version == "extensions/v1beta1"
    assert dep.spec.replicas == 3
    assert dep.spec.match_labels == {"zwitscher": "service"}  # v1beta1: the template labels
    assert dep.main_container.image == "hitchhikersguide/zwitscher-service:1.0.1"
    assert [(e.name, e.value) for e in dep.main_container.env] == [
        ("CONSUL_HOST", "zwitscher-consul")
    ]
    assert svc.spec.type == "NodePort"
    assert svc.listen_ports()[0][1] == 8080
    assert blueprint.deployment_for(svc) is dep
    assert blueprint.warnings == []


def test_seed_resources_snippet_as_printed_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "snippet.yaml"
    path.write_text(block_with("resources:"))
    with pytest.raises(SpecErrors, match=r"snippet.yaml:8: not valid YAML"):
        load_blueprints([path])


def spliced() -> dict[str, Any]:
    deployment = yaml.safe_load(block_with("kind: Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container.update(repaired_resources(block_with("resources:")))
    container.update(yaml.safe_load(block_with("readinessProbe:")))
    return deployment


def test_seed_with_resources_and_probes_validates(tmp_path: Path) -> None:
    path = tmp_path / "zwitscher.yaml"
    path.write_text(yaml.safe_dump(spliced()) + "---\n" + block_with("kind: Service"))
    dep = load_blueprints([path]).deployments["zwitscher-service"]
    main = dep.main_container
    assert main.resources.requests.cpu == 250 and main.resources.limits.cpu == 500
    assert main.resources.requests.memory == 128_000_000
    assert main.resources.limits.memory == 192_000_000
    assert main.readiness_probe is not None and main.liveness_probe is not None
    assert main.readiness_probe.http_get is not None
    assert main.readiness_probe.http_get.path == "/admin/info"
    assert main.readiness_probe.initial_delay_seconds == 30
    assert main.readiness_probe.timeout_seconds == 5
    assert main.liveness_probe.initial_delay_seconds == 90
    assert main.liveness_probe.period_seconds == 10  # Kubernetes' default


def test_blueprints_zwitscher_is_the_seed_with_its_snippets() -> None:
    blueprint = load_blueprints([ROOT / "blueprints" / "zwitscher.yaml"])
    expected = Deployment.model_validate(spliced(), by_alias=True, context={"yaml": True})
    assert blueprint.deployments["zwitscher-service"] == _with_app(expected, "zwitscher")
    service = Service.model_validate(yaml.safe_load(block_with("kind: Service")), by_alias=True)
    assert blueprint.services["zwitscher-service"] == _with_app(service, "zwitscher")


def _with_app(obj: Any, app: str) -> Any:
    obj.set_app(app)
    return obj
