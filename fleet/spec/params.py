"""Parameters like Helm values: `${name}`, `${name:-default}`, `${name:?message}`, `$${x}`.

Values come from `-f values.yaml` files (nested keys are addressed as `a.b`)
and `--set key=value` (later wins). Substitution happens in string values
after YAML parsing, never in keys or comments, so a value cannot inject YAML
structure. A value that is the whole scalar keeps its type (`replicas: ${n}`
with n=3 gives the number 3; a list or mapping value is inserted as such);
inside a longer string it is inserted as text. `$${x}` is a literal `${x}`.

Compose files may also take values from the controller's environment (as
docker compose does); blueprints do not, so they stay reproducible (use
`valueFrom: {env: VAR}` for a container variable from the environment).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import Location, SpecError
from fleet.spec.yamlsrc import Document, Path_, parse_documents

_REF = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_EXPR = re.compile(r"(?P<name>[^:?-]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>.*))?", re.S)


@dataclass
class Values:
    """Parameter values by dotted name, and which of them were used."""

    values: dict[str, Any] = field(default_factory=dict)
    from_set: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)

    def unused_sets(self) -> list[str]:
        """`--set` keys no blueprint referred to (probably a typo)."""
        return sorted(self.from_set - self.used)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if prefix:
            out[prefix] = value
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def load_values(files: list[Path], sets: list[str]) -> Values:
    """Read values files and `--set key=value` items (values parsed as YAML scalars)."""
    result = Values()
    errors: list[SpecError] = []
    for path in files:
        try:
            text = path.read_text()
        except OSError as exc:
            errors.append(
                SpecError(f"cannot read values file: {exc.strerror}", Location(str(path)))
            )
            continue
        try:
            docs = parse_documents(text, str(path))
        except SpecError as exc:
            errors.append(exc)
            continue
        data = docs[0].data if docs else {}
        if data is None:
            continue
        if not isinstance(data, dict):
            errors.append(SpecError("a values file must be a mapping", Location(str(path), 1)))
            continue
        _flatten("", data, result.values)
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not _NAME.fullmatch(key):
            errors.append(
                SpecError(f"--set {item!r} is not key=value (like replicas=3)", Location("--set"))
            )
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, list | dict):
            value = raw  # --set gives scalars; structures come from values files
        result.values[key] = value
        result.from_set.add(key)
    if errors:
        from fleet.errors import SpecErrors

        raise SpecErrors(errors)
    return result


def substitute(
    document: Document, values: Values, environ: Mapping[str, str] | None = None
) -> list[SpecError]:
    """Fill `${...}` in every string of the document in place; returns the problems found."""
    errors: list[SpecError] = []
    document.data = _walk(document.data, (), document, values, environ, errors)
    return errors


def _walk(
    value: Any,
    path: Path_,
    doc: Document,
    values: Values,
    environ: Mapping[str, str] | None,
    errors: list[SpecError],
) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), doc, values, environ, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), doc, values, environ, errors) for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value:
        return _fill(value, path, doc, values, environ, errors)
    return value


def _lookup(
    expr: str, where: Location, values: Values, environ: Mapping[str, str] | None
) -> tuple[Any, bool]:
    """(value, whether the text came from a default) for the inside of `${...}`."""
    match = _EXPR.fullmatch(expr)
    assert match is not None  # the pattern matches any text
    name, op, arg = match["name"], match["op"], match["arg"]
    if not _NAME.fullmatch(name):
        raise SpecError(
            f"${{{expr}}} is not a parameter (like ${{name}} or ${{name:-default}})", where
        )
    found = name in values.values
    value = values.values.get(name)
    if not found and environ is not None and name in environ:
        found, value = True, environ[name]
    empty = value is None or value == ""
    if found and not (op in (":-", ":?") and empty):
        values.used.add(name)
        return value, False
    if op in (":-", "-"):
        return arg, True
    if op in (":?", "?"):
        raise SpecError(f"parameter {name!r}: {arg or 'is required'}", where)
    raise SpecError(
        f"parameter {name!r} has no value: give it with --set {name}=... or in a values file "
        f"(-f), or write ${{{name}:-default}}",
        where,
    )


def _fill(
    text: str,
    path: Path_,
    doc: Document,
    values: Values,
    environ: Mapping[str, str] | None,
    errors: list[SpecError],
) -> Any:
    where = doc.locate(path)
    whole = _REF.fullmatch(text)
    try:
        if whole and whole.group(0) != "$$" and whole.group(1) is not None:
            value, is_default = _lookup(whole.group(1), where, values, environ)
            if is_default and isinstance(value, str):
                try:  # `${replicas:-3}` gives the number 3, as a value would
                    parsed = yaml.safe_load(value) if value.strip() else value
                    value = parsed if not isinstance(parsed, list | dict) else value
                except yaml.YAMLError:
                    pass
            return value

        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            if match.group(1) is None:
                raise SpecError("unclosed ${ (write $$ for a literal $)", where)
            value, _ = _lookup(match.group(1), where, values, environ)
            if isinstance(value, list | dict):
                raise SpecError(
                    f"parameter ${{{match.group(1)}}} is a list or mapping: it can only be "
                    "the whole value, not part of a text",
                    where,
                )
            return _as_text(value)

        return _REF.sub(one, text)
    except SpecError as exc:
        errors.append(exc)
        return text


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
