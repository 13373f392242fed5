"""Loading YAML files into models (minimal first version; see issue 3 for the full loader).

Public API that the rest of fleet relies on:
    load_inventory(path) -> Inventory          raises SpecError / SpecErrors
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from fleet.errors import Location, SpecError, SpecErrors
from fleet.spec.inventory import Inventory, InventoryDocument


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file; every problem names the file and field."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read inventory: {exc.strerror}", Location(str(path))) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(f"not valid YAML: {exc}", Location(str(path), line)) from None
    try:
        document = InventoryDocument.model_validate(data)
    except ValidationError as exc:
        raise SpecErrors(
            [
                SpecError(err["msg"], Location(str(path), None, ".".join(map(str, err["loc"]))))
                for err in exc.errors()
            ]
        ) from None
    return Inventory(document, path)
