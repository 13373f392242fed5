from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import SpecErrors
from tests.unit.spec.helpers import WEB, load_text, write

TEMPLATE = WEB.replace("replicas: 3", "replicas: ${replicas}").replace(
    "image: lab/web:1", "image: lab/web:${tag:-1}"
)


def test_values_file_and_set(tmp_path: Path) -> None:
    values = write(tmp_path, "values.yaml", "replicas: 5\nweb:\n  tag: '2'\n")
    text = TEMPLATE.replace("${tag:-1}", "${web.tag}")
    bp = load_text(tmp_path, text, values_files=[values])
    web = bp.deployments["web"]
    assert web.spec.replicas == 5  # whole-scalar values keep their type
    assert web.main_container.image == "lab/web:2"
    bp = load_text(tmp_path, text, values_files=[values], sets=["replicas=7", "web.tag=3"])
    assert bp.deployments["web"].spec.replicas == 7
    assert bp.deployments["web"].main_container.image == "lab/web:3"


def test_defaults_are_typed_like_values(tmp_path: Path) -> None:
    bp = load_text(tmp_path, TEMPLATE.replace("${replicas}", "${replicas:-4}"))
    assert bp.deployments["web"].spec.replicas == 4
    assert bp.deployments["web"].main_container.image == "lab/web:1"


def test_missing_value_names_parameter_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors) as caught:
        load_text(tmp_path, TEMPLATE)
    (error,) = caught.value.errors
    assert str(error).startswith(f"{tmp_path / 'app.yaml'}:6 spec.replicas: parameter 'replicas'")


def test_escape_and_plain_dollars(tmp_path: Path) -> None:
    text = WEB + "          command: [sh, -c, 'echo $${HOME} $HOME']\n"
    bp = load_text(tmp_path, text)
    assert bp.deployments["web"].main_container.command == ["sh", "-c", "echo ${HOME} $HOME"]


def test_a_value_cannot_inject_yaml(tmp_path: Path) -> None:
    text = WEB + "          args: ['${arg}']\n"
    bp = load_text(tmp_path, text, sets=["arg=x\n  - injected: true"])
    assert bp.deployments["web"].main_container.args == ["x\n  - injected: true"]


def test_lists_from_values_files(tmp_path: Path) -> None:
    values = write(tmp_path, "v.yaml", "args: [--port, '8080']\n")
    bp = load_text(tmp_path, WEB + "          args: ${args}\n", values_files=[values])
    assert bp.deployments["web"].main_container.args == ["--port", "8080"]


def test_unused_set_is_a_warning(tmp_path: Path) -> None:
    bp = load_text(tmp_path, WEB, sets=["replcas=3"])
    assert bp.warnings == ["--set replcas: no blueprint uses ${replcas}"]


def test_bad_set_and_values(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors, match="is not key=value"):
        load_text(tmp_path, WEB, sets=["novalue"])
    with pytest.raises(SpecErrors, match="a values file must be a mapping"):
        load_text(tmp_path, WEB, values_files=[write(tmp_path, "v.yaml", "- 1\n")])


def test_compose_falls_back_to_the_environment(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: lab/web:${TAG}\n"
    bp = load_text(tmp_path, text, name="shop.yaml", environ={"TAG": "2"})
    assert bp.deployments["web"].main_container.image == "lab/web:2"
    with pytest.raises(SpecErrors, match="parameter 'TAG' has no value"):
        load_text(tmp_path, text, name="shop.yaml", environ={})
