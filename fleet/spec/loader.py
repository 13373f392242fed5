"""Loading YAML files into models, with every error naming file, line and field.

Public API that the rest of fleet relies on:
    load_inventory(path) -> Inventory          raises SpecError / SpecErrors
    load_blueprints(paths, *, values_files, sets, inventory) -> Blueprint
                                               raises SpecErrors (all problems at once)

Loading an inventory does not import the blueprint models (`fleet status`
only needs the inventory and should start fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fleet.errors import Location, SpecError, SpecErrors
from fleet.spec.errmap import spec_errors
from fleet.spec.inventory import Inventory, InventoryDocument
from fleet.spec.yamlsrc import parse_documents

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file; every problem names the file, line and field."""
    file = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read inventory: {exc.strerror}", Location(file)) from None
    documents = parse_documents(text, file)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        where = Location(file, documents[1].line if len(documents) > 1 else 1)
        raise SpecError("an inventory is one YAML mapping with a hosts: list", where)
    document = documents[0]
    try:
        parsed = InventoryDocument.model_validate(document.data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise SpecErrors(spec_errors(exc, document, InventoryDocument, document.data)) from None
    return Inventory(parsed, path)


def load_blueprints(
    paths: list[Path],
    *,
    values_files: list[Path] | None = None,
    sets: list[str] | None = None,
    inventory: Inventory | None = None,
    environ: Any = None,
) -> Blueprint:
    """Load blueprint and Compose files (see fleet.spec.documents); SpecErrors lists all."""
    from fleet.spec.documents import load_blueprints as load

    return load(paths, values_files=values_files, sets=sets, inventory=inventory, environ=environ)
