from __future__ import annotations

import pytest

from fleet.errors import SpecError
from fleet.spec.yamlsrc import format_path, parse_documents


def test_lines_of_keys_and_items() -> None:
    text = "a: 1\nb:\n  - x: 1\n    y: [1, 2]\n  - z\n---\nc: 3\n"
    first, second = parse_documents(text, "f.yaml")
    assert first.data == {"a": 1, "b": [{"x": 1, "y": [1, 2]}, "z"]}
    assert first.lines[("b",)] == 2
    assert first.lines[("b", 0, "x")] == 3
    assert first.lines[("b", 0, "y")] == 4
    assert first.lines[("b", 1)] == 5
    assert second.data == {"c": 3} and second.line == 7 and second.index == 1


def test_locate_falls_back_to_the_deepest_known_parent() -> None:
    (doc,) = parse_documents("spec:\n  replicas: 3\n", "f.yaml")
    where = doc.locate(("spec", "template", "spec"))
    assert (where.line, where.field) == (1, "spec.template.spec")
    assert str(doc.locate(("spec", "replicas"))) == "f.yaml:2 spec.replicas"


def test_merge_keys_and_aliases() -> None:
    (doc,) = parse_documents("base: &b {k: 1}\nuse:\n  <<: *b\n  j: 2\nsame: *b\n", "f")
    assert doc.data["use"] == {"k": 1, "j": 2}
    assert doc.data["same"] == {"k": 1}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: 1\na: 2\n", 'key "a" appears twice in this mapping (first on line 1)', 2),
        ("a: [1\n", "not valid YAML", 2),
        ("a: &x [*x]\n", "recursive YAML alias", 1),
        ("a:\n\tb: 1\n", "indent with spaces, not tabs", 2),
        ("? [1, 2]\n: x\n", "a mapping key must be a plain value", 1),
    ],
)
def test_errors_have_lines(text: str, message: str, line: int) -> None:
    with pytest.raises(SpecError) as caught:
        parse_documents(text, "f.yaml")
    assert message in caught.value.message
    assert caught.value.location is not None and caught.value.location.line == line


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    with pytest.raises(SpecError, match="alias bomb"):
        parse_documents("\n".join(lines) + "\n", "bomb.yaml")


def test_format_path() -> None:
    assert format_path(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert format_path(("metadata", "labels", "app.kubernetes.io/name")) == (
        'metadata.labels["app.kubernetes.io/name"]'
    )
