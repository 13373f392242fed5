"""Turning pydantic's validation errors into SpecErrors people can act on.

Each error gets the file and line of the field it is about, the field path as
written in YAML (`spec.template.spec.containers[0].image`), and a message in
the operator's words: unknown fields come with a did-you-mean, types with what
was expected and what was found.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from fleet.errors import SpecError
from fleet.spec.base import FieldError, show
from fleet.spec.schema import allowed_keys, did_you_mean, model_at
from fleet.spec.yamlsrc import Document, Path_

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "float_type": "a number",
}


def clean_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """pydantic's `loc` reduced to the keys and indexes that exist in the YAML data."""
    out: list[str | int] = []
    value = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            continue
        in_dict = isinstance(value, dict) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_dict or in_list:
            out.append(part)
            value = value[part]
        elif last and isinstance(part, str) and isinstance(value, dict):
            out.append(part)  # a missing field: not in the data, still the right name
        # anything else is a union branch or validator tag: not a place in the file
    return tuple(out)


def _expected(ctx: dict[str, Any]) -> str:
    return re.sub(r"'([^']*)'", r'"\1"', str(ctx.get("expected", "")))


def message_for(error: Any, root: type[BaseModel], data: Any, path: Path_) -> str:
    """The operator-facing text of one pydantic error at `path`."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        model = model_at(root, data, path[:-1])
        text = f"unknown field {show(key)}"
        if model is not None:
            guess = did_you_mean(key, allowed_keys(model))
            if guess:
                return f"{text}; did you mean {show(guess)}?"
            return f"{text} (allowed here: {', '.join(allowed_keys(model))})"
        return text
    if kind == "missing":
        return "required field is missing"
    if kind in ("value_error", "assertion_error"):
        inner = ctx.get("error")
        return str(inner) if inner is not None else re.sub(r"^Value error, ", "", error["msg"])
    if kind == "literal_error" or kind == "enum":
        return f"{show(value)} is not allowed here (expected {_expected(ctx)})"
    if kind in _TYPE_WORDS:
        text = f"expected {_TYPE_WORDS[kind]}, got {show(value)}"
        if kind == "string_type" and isinstance(value, bool | int | float) and value is not None:
            text += " (put it in quotes to make it text)"
        if kind.startswith("int") and isinstance(value, str) and value.strip().isdigit():
            text += " (write the number without quotes)"
        return text
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {show(value)}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}, got {show(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {show(value)}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"needs at least {n} item{'s' if n != 1 else ''}"
    return str(error["msg"])


def spec_errors(
    exc: ValidationError, document: Document, root: type[BaseModel], data: Any, base: Path_ = ()
) -> list[SpecError]:
    """All errors of one validation, located in `document` (data validated at `base`)."""
    found: list[tuple[Path_, str, str]] = []
    for error in exc.errors(include_url=False):
        path = clean_path(tuple(error["loc"]), data)
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, FieldError):
            path = (*path, *inner.path)
        found.append((path, error["type"], message_for(error, root, data, path)))
    # `container_port:` gives "unknown field; did you mean containerPort" and "containerPort
    # missing": the first says it all
    suggested = {
        (*path[:-1], msg.rsplit('"', 2)[-2])
        for path, kind, msg in found
        if kind == "extra_forbidden" and "did you mean" in msg
    }
    errors = []
    for path, kind, message in found:
        if kind == "missing" and path in suggested:
            continue
        errors.append(SpecError(message, document.locate((*base, *path))))
    return errors
