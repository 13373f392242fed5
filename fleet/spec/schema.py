"""Walking raw YAML data alongside the model classes that will validate it.

Two uses: drop the Kubernetes fields fleet knows but does not implement (each
becomes a warning naming it, not an error and not silence), and find the model
class at an error's path so an unknown field gets a did-you-mean from the
fields that are allowed there.
"""

from __future__ import annotations

import difflib
import functools
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

Path_ = tuple[str | int, ...]


@functools.cache
def _aliases(cls: type[BaseModel]) -> dict[str, str]:
    """YAML key -> attribute name for a model."""
    return {(f.alias or name): name for name, f in cls.model_fields.items()}


def allowed_keys(cls: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping for this model may have."""
    return list(_aliases(cls))


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of a type: Annotated and Optional/Union peeled off."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _child_type(annotation: Any, value: Any) -> Any | None:
    """The type of a value inside `annotation` that matches the value's shape."""
    for option in _unwrap(annotation):
        origin = get_origin(option)
        if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(value, dict):
            return option
        if origin is list and isinstance(value, list):
            return option
        if origin is dict and isinstance(value, dict):
            return option
    return None


def strip_unsupported(cls: type[BaseModel], data: Any, path: Path_ = ()) -> tuple[Any, list[Path_]]:
    """A copy of `data` without known-but-unsupported fields, and the paths removed."""
    removed: list[Path_] = []
    return _strip_model(cls, data, path, removed), removed


def _strip_model(cls: type[BaseModel], data: Any, path: Path_, removed: list[Path_]) -> Any:
    if not isinstance(data, dict):
        return data
    unsupported: frozenset[str] = getattr(cls, "unsupported_fields", frozenset())
    fields = _aliases(cls)
    out: dict[Any, Any] = {}
    for key, value in data.items():
        if key in unsupported and key not in fields:
            removed.append((*path, key))
            continue
        attr = fields.get(key) if isinstance(key, str) else None
        if attr is None:
            out[key] = value
            continue
        out[key] = _strip_value(cls.model_fields[attr].annotation, value, (*path, key), removed)
    return out


def _strip_value(annotation: Any, value: Any, path: Path_, removed: list[Path_]) -> Any:
    kind = _child_type(annotation, value)
    if kind is None:
        return value
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return _strip_model(kind, value, path, removed)
    args = get_args(kind)
    if get_origin(kind) is list and args:
        return [_strip_value(args[0], item, (*path, i), removed) for i, item in enumerate(value)]
    if get_origin(kind) is dict and len(args) == 2:
        return {k: _strip_value(args[1], v, (*path, k), removed) for k, v in value.items()}
    return value


def model_at(cls: type[BaseModel], data: Any, path: Path_) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path` of `data` (None if not a model)."""
    current: Any = cls
    value = data
    for part in path:
        value = _index(value, part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            attr = _aliases(current).get(part) if isinstance(part, str) else None
            if attr is None:
                return None
            annotation = current.model_fields[attr].annotation
        elif get_origin(current) is list and isinstance(part, int):
            annotation = get_args(current)[0]
        elif get_origin(current) is dict:
            annotation = get_args(current)[1]
        else:
            return None
        current = _child_type(annotation, value) if value is not None else _first_model(annotation)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _index(value: Any, part: str | int) -> Any:
    if isinstance(value, dict):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


def _first_model(annotation: Any) -> Any | None:
    for option in _unwrap(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
        if get_origin(option) in (list, dict):
            return option
    return None


def did_you_mean(key: str, candidates: list[str]) -> str | None:
    """The allowed key closest to a misspelt one (case, '_' and '-' ignored first)."""

    def squash(text: str) -> str:
        return text.replace("_", "").replace("-", "").lower()

    for candidate in candidates:
        if squash(candidate) == squash(key):
            return candidate
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None
