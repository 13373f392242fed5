"""YAML loading that remembers where everything was: a line for every key and list item.

`parse_documents(text, file)` returns one `Document` per YAML document: the
plain data (dicts, lists, scalars, as `yaml.safe_load` gives) plus a side table
from paths like `("spec", "template", "spec", "containers", 0, "image")` to
1-based line numbers. Duplicate keys in a mapping are an error here (PyYAML
would silently keep the last one); so are recursive aliases and alias bombs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from fleet.errors import Location, SpecError

try:  # the C parser is much faster; fall back to the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]

# An alias can repeat a big subtree many times; cap the expanded size.
MAX_NODES = 200_000
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(path: Path_) -> str:
    """`spec.containers[0].image`; keys that are not plain words as `labels["a/b"]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass
class Document:
    """One YAML document with the line of every key and list item."""

    data: Any
    file: str
    line: int = 1
    index: int = 0
    lines: dict[Path_, int] = field(default_factory=dict)
    # paths shown differently than they are (a compose import shows the compose field)
    display: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest known prefix of `path`."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return line
        return self.line

    def field_of(self, path: Path_) -> str:
        for cut in range(len(path), -1, -1):
            shown = self.display.get(path[:cut])
            if shown is not None:
                return shown
        return format_path(path)

    def locate(self, path: Path_ = ()) -> Location:
        """Where `path` is: file, line, and the field path as the operator reads it."""
        return Location(self.file, self.line_of(path), self.field_of(path))


def yaml_error(exc: yaml.YAMLError, file: str, text: str = "") -> SpecError:
    """A SpecError with the line PyYAML points at."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    source = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "\t" in source[: len(source) - len(source.lstrip())]:
        message += "; indent with spaces, not tabs"
    return SpecError(message, Location(file, line))


class _Builder:
    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path_, active: set[int]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(
                f"document expands to more than {MAX_NODES} values (alias bomb?)",
                Location(self.file, node.start_mark.line + 1),
            )
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node)
        if id(node) in active:
            raise SpecError("recursive YAML alias", Location(self.file, node.start_mark.line + 1))
        active = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, child in enumerate(node.value):
                self.lines.setdefault((*path, index), child.start_mark.line + 1)
                items.append(self.build(child, (*path, index), active))
            return items
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves `<<: *merge` keys
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise SpecError(
                        "a mapping key must be a plain value", Location(self.file, line)
                    )
                key = self.loader.construct_object(key_node)
                if isinstance(key, list | dict):  # pragma: no cover - scalar nodes only
                    raise SpecError(
                        "a mapping key must be a plain value", Location(self.file, line)
                    )
                if key in mapping:
                    first = self.lines.get((*path, key))
                    raise SpecError(
                        f"key {json.dumps(str(key))} appears twice in this mapping"
                        + (f" (first on line {first})" if first else ""),
                        Location(self.file, line, format_path((*path, str(key)))),
                    )
                self.lines[(*path, key)] = line
                mapping[key] = self.build(value_node, (*path, key), active)
            return mapping
        raise SpecError(  # pragma: no cover - PyYAML has only these three node kinds
            "unexpected YAML node", Location(self.file, node.start_mark.line + 1)
        )


def parse_documents(text: str, file: str) -> list[Document]:
    """All documents of a YAML stream, with line tables. Raises SpecError on bad YAML."""
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            builder = _Builder(loader, file)
            data = builder.build(node, (), set())
            documents.append(Document(data, file, node.start_mark.line + 1, index, builder.lines))
            index += 1
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file, text) from None
    finally:
        loader.dispose()
    return documents
