"""Loading blueprint files: YAML documents -> parameters filled -> models -> a Blueprint.

Each file may hold several documents (`---`), each with a `kind`: Deployment,
Service, HorizontalPodAutoscaler or Secret. A Compose file (a top-level
`services:` mapping and no `kind`) is converted on the way in. A directory
stands for the *.yaml and *.yml files in it. The application of an object is
its `metadata.namespace`, or else the file's stem (Compose: its `name:`).

Everything that is wrong is collected and raised together as SpecErrors, each
with file, line and field path. Kubernetes fields fleet does not implement are
dropped with a warning naming them (Blueprint.warnings).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fleet import names
from fleet.errors import Location, SpecError, SpecErrors, UnsafeNameError
from fleet.spec.blueprint import (
    Blueprint,
    Deployment,
    HorizontalPodAutoscaler,
    Secret,
    Service,
)
from fleet.spec.errmap import spec_errors
from fleet.spec.params import Values, load_values, substitute
from fleet.spec.schema import did_you_mean, strip_unsupported
from fleet.spec.yamlsrc import Document, format_path, parse_documents

KINDS: dict[str, type[BaseModel]] = {
    "Deployment": Deployment,
    "Service": Service,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "Secret": Secret,
}
# Kubernetes kinds that carry no workload fleet would run: skipped with a warning
SKIPPED_KINDS = {"Namespace"}


def blueprint_files(paths: list[Path]) -> list[Path]:
    """Files to load: each path, or the *.yaml / *.yml files of a directory (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            out.append(path)
    return out


def is_compose(documents: list[Document]) -> bool:
    """A Compose file: one document, a `services:` mapping at the top, no `kind`."""
    if len(documents) != 1:
        return False
    data = documents[0].data
    return isinstance(data, dict) and isinstance(data.get("services"), dict) and "kind" not in data


class Loader:
    """Collects objects, errors and warnings over several files."""

    def __init__(self, values: Values, environ: Mapping[str, str] | None = None) -> None:
        self.values = values
        self.environ = os.environ if environ is None else environ
        self.blueprint = Blueprint()
        self.errors: list[SpecError] = []
        self.warnings: list[str] = []
        # (kind, app) of documents that failed: checks that need them stay quiet
        self.incomplete: set[tuple[str, str]] = set()

    def load_file(self, path: Path) -> None:
        """Read one file (blueprint or Compose) into the blueprint set."""
        file = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            self.errors.append(SpecError(f"cannot read blueprint: {exc.strerror}", Location(file)))
            return
        try:
            documents = parse_documents(text, file)
        except SpecError as exc:
            self.errors.append(exc)
            return
        app = path.stem
        if is_compose(documents):
            from fleet.spec.compose import compose_documents

            source = documents[0]
            problems = substitute(source, self.values, self.environ)
            if problems:
                self.errors.extend(problems)
                return
            converted = compose_documents(source, path)
            self.errors.extend(converted.errors)
            self.warnings.extend(converted.warnings)
            documents, app = converted.documents, converted.app
        else:
            failed = []
            for document in documents:
                problems = substitute(document, self.values)
                self.errors.extend(problems)
                if problems:  # the raw ${...} would only fail again as a wrong value
                    failed.append(document)
            documents = [d for d in documents if all(d is not f for f in failed)]
        for document in documents:
            self.load_document(document, app)

    def load_document(self, document: Document, app: str) -> None:
        """Validate one document and add its object."""
        data = document.data
        if data is None:
            return
        if not isinstance(data, dict):
            self.errors.append(
                SpecError(
                    "a blueprint document must be a mapping with apiVersion, kind, metadata "
                    "and spec",
                    document.locate(),
                )
            )
            return
        kind = data.get("kind")
        if kind in SKIPPED_KINDS:
            self.warnings.append(
                f"{document.locate(('kind',))}: kind {kind} is not used by "
                "fleet (an application is the namespace or the file name); "
                "skipped"
            )
            return
        if not isinstance(kind, str) or kind not in KINDS:
            self.errors.append(SpecError(_kind_message(kind), document.locate(("kind",))))
            return
        cls = KINDS[kind]
        stripped, removed = strip_unsupported(cls, data)
        for path in removed:
            self.warnings.append(
                f"{document.locate(path)}: {path[-1]} is a Kubernetes field fleet does not "
                "support; ignored"
            )
        if kind == "Deployment" and data.get("apiVersion") == "apps/v1":
            spec = data.get("spec")
            if isinstance(spec, dict) and "selector" not in spec:
                self.warnings.append(
                    f"{document.locate(('spec',))}: apps/v1 Deployments need spec.selector in "
                    "Kubernetes; fleet uses the template labels"
                )
        try:
            obj = cls.model_validate(stripped, by_alias=True, by_name=False, context={"yaml": True})
        except ValidationError as exc:
            self.errors.extend(spec_errors(exc, document, cls, stripped))
            metadata = stripped.get("metadata")
            namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
            self.incomplete.add((kind, namespace if isinstance(namespace, str) else app))
            return
        assert isinstance(obj, Deployment | Service | HorizontalPodAutoscaler | Secret)
        if obj.meta.namespace is None:
            try:
                names.dns_label(app, "application name")
            except UnsafeNameError:
                self.errors.append(
                    SpecError(
                        f"the application name {app!r} (from the file name) is not a DNS-1123 "
                        "label: rename the file or set metadata.namespace",
                        document.locate(("metadata",)),
                    )
                )
                return
            obj.set_app(app)
        existing = self.blueprint.get(kind, obj.name)
        if existing is not None:
            first = self.blueprint.source(existing)
            self.errors.append(
                SpecError(
                    f"{kind} {obj.name!r} is defined twice; first at {first}",
                    document.locate(("metadata", "name")),
                )
            )
            return
        self.blueprint.add(obj, Location(document.file, document.line), document)


def _kind_message(kind: Any) -> str:
    supported = ", ".join(KINDS)
    if kind is None:
        return f"kind is missing (one of {supported})"
    guess = did_you_mean(str(kind), list(KINDS))
    if guess:
        return f"kind {kind!r} is not supported; did you mean {guess!r}?"
    return f"kind {kind!r} is not supported by fleet (supported: {supported})"


def load_blueprints(
    paths: list[Path],
    *,
    values_files: list[Path] | None = None,
    sets: list[str] | None = None,
    inventory: Any = None,
    environ: Mapping[str, str] | None = None,
) -> Blueprint:
    """Load and validate blueprint (and Compose) files into one Blueprint.

    Raises SpecErrors with every problem found (file, line, field path each).
    `inventory` (an Inventory) enables the checks against hosts; `environ` is
    where Compose `${VAR}` falls back to (default: os.environ).
    """
    from fleet.spec.validate import check

    errors: list[SpecError] = []
    try:
        values = load_values(values_files or [], sets or [])
    except SpecErrors as exc:
        errors.extend(exc.errors)
        values = Values()
    loader = Loader(values, environ)
    for path in blueprint_files(paths):
        loader.load_file(path)
    errors.extend(loader.errors)
    blueprint = loader.blueprint
    cross_errors, cross_warnings = check(blueprint, inventory, loader.incomplete)
    errors.extend(cross_errors)
    blueprint.warnings = [*loader.warnings, *cross_warnings]
    for key in values.unused_sets():
        blueprint.warnings.append(f"--set {key}: no blueprint uses ${{{key}}}")
    if errors:
        raise BlueprintErrors(_in_file_order(errors), blueprint.warnings)
    return blueprint


class BlueprintErrors(SpecErrors):
    """SpecErrors of a blueprint load, with the warnings found on the way (for `validate`)."""

    def __init__(self, errors: list[SpecError], warnings: list[str]) -> None:
        super().__init__(errors)
        self.warnings = warnings


def _in_file_order(errors: list[SpecError]) -> list[SpecError]:
    files: dict[str, int] = {}
    for error in errors:
        files.setdefault(error.location.file if error.location else "", len(files))

    def key(error: SpecError) -> tuple[int, int]:
        where = error.location
        return (files[where.file if where else ""], (where.line or 0) if where else 0)

    return sorted(errors, key=key)


__all__ = [
    "KINDS",
    "BlueprintErrors",
    "blueprint_files",
    "format_path",
    "is_compose",
    "load_blueprints",
]
