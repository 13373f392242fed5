"""Canonical YAML for a loaded blueprint set: what `fleet convert compose` prints.

Objects in a stable order (Secrets, Deployments, Services, autoscalers; by name),
fields in Kubernetes' order, defaults left out, quantities in canonical form
("250m", "128Mi"). Loading the output gives back equal objects; values filled
in by loading (the selector, requests from limits, targetPort) are written out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from fleet.spec.blueprint import AnyObject, Blueprint


_PARAMETER_LIKE = re.compile(r"\$(?=[${])")


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as `|` blocks, lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # repeated values are written out, never as &anchors


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted scalar where a block would not keep the text exactly
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def escape_parameters(value: Any) -> Any:
    """Strings as they must be written so that loading (which fills `${...}` and turns `$$`
    into `$`) gives them back: a `$` before `$` or `{` is doubled."""
    if isinstance(value, str):
        return _PARAMETER_LIKE.sub("$$", value)
    if isinstance(value, dict):
        return {k: escape_parameters(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_parameters(v) for v in value]
    return value


def object_data(obj: AnyObject, *, namespace: bool = False) -> dict[str, Any]:
    """One object as plain YAML data (camelCase keys, defaults left out)."""
    data = escape_parameters(obj.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    out: dict[str, Any] = {"apiVersion": obj.api_version, "kind": obj.kind}
    out.update((k, v) for k, v in data.items() if k not in ("apiVersion", "kind"))
    if namespace:
        out["metadata"] = {
            "name": obj.name,
            "namespace": obj.app,
            **{k: v for k, v in out["metadata"].items() if k != "name"},
        }
    return out


def dump_objects(objects: list[dict[str, Any]], header: str = "") -> str:
    """Several objects as one multi-document YAML text."""
    body = yaml.dump_all(
        objects,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        explicit_start=True,
        width=100,
    )
    return header + body


def dump_blueprint(blueprint: Blueprint, *, namespaces: bool = False, header: str = "") -> str:
    """The whole set as canonical YAML; `namespaces=True` writes each object's application
    as metadata.namespace (so the text means the same in a file of any name)."""
    return dump_objects([object_data(o, namespace=namespaces) for o in blueprint.objects()], header)
