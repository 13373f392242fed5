"""The corpus of bad inputs: each file says which message it must produce, and where.

Every `bad/NN-*.yaml` starts with a header:

    # expect: <a substring of the message>
    # line: <the line the message must name>       (the line marked `# <- here`)
    # kind: warning            (optional: loads, but must warn)
    # inventory: _inventory.yaml   (optional: validate against this inventory)
    # also: _dup-first.yaml        (optional: loaded before the case)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.errors import SpecErrors
from fleet.spec.loader import load_blueprints, load_inventory

BAD = Path(__file__).parent / "bad"
CASES = sorted(p for p in BAD.glob("*.yaml") if not p.name.startswith("_"))


def header(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"# (\w+): (.*)", line)
        if not match:
            break
        fields[match[1]] = match[2]
    return fields


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input_names_file_line_and_problem(path: Path) -> None:
    case = header(path)
    expect, line = case["expect"], int(case["line"])
    paths = [BAD / case["also"], path] if "also" in case else [path]
    inventory = load_inventory(BAD / case["inventory"]) if "inventory" in case else None
    place = f"{path}:{line}"
    if case.get("kind") == "warning":
        blueprint = load_blueprints(paths, inventory=inventory, environ={})
        found = [w for w in blueprint.warnings if w.startswith(place)]
        assert any(expect in w for w in found), "\n".join(blueprint.warnings)
        return
    with pytest.raises(SpecErrors) as caught:
        load_blueprints(paths, inventory=inventory, environ={})
    messages = [str(e) for e in caught.value.errors]
    assert any(m.startswith(place) and expect in m for m in messages), "\n".join(messages)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_case_marks_its_line(path: Path) -> None:
    # the header's line is the marked one (or the document's first line when none is)
    lines = path.read_text().splitlines()
    marked = [i + 1 for i, text in enumerate(lines) if text.rstrip().endswith("# <- here")]
    assert marked in ([int(header(path)["line"])], [])
