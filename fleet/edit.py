"""Editing blueprint files in place, keeping their comments and layout (`fleet scale`).

ruamel.yaml's round-trip mode rewrites only the value that changed; the
operator's comments, key order, quoting and the other documents of a
multi-document file stay as they were.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fleet.errors import Location, SpecError
from fleet.spec.documents import blueprint_files


def set_replicas(paths: Sequence[Path], deployment: str, replicas: int) -> Path:
    """Write `spec.replicas: N` into the file that defines the Deployment; returns that file."""
    from ruamel.yaml import YAML

    if replicas < 0:
        raise SpecError(f"replicas must not be negative (got {replicas})")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    for path in blueprint_files(list(paths)):
        text = path.read_text()
        documents = list(yaml.load_all(text))
        for doc in documents:
            if not _is_deployment(doc, deployment):
                continue
            spec = doc.get("spec")
            current = spec.get("replicas") if spec is not None else None
            if isinstance(current, str):
                line = spec.lc.data["replicas"][0] + 1 if hasattr(spec, "lc") else None
                raise SpecError(
                    f"replicas is {current!r}, a parameter: set it with --set or a values file",
                    Location(str(path), line, "spec.replicas"),
                )
            spec["replicas"] = replicas
            out = io.StringIO()
            yaml.dump_all(documents, out)
            _write_atomic(path, out.getvalue())
            return path
    raise SpecError(f"no Deployment named {deployment!r} in {', '.join(str(p) for p in paths)}")


def _is_deployment(doc: Any, name: str) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("kind") == "Deployment"
        and isinstance(doc.get("metadata"), dict)
        and doc["metadata"].get("name") == name
    )


def _write_atomic(path: Path, text: str) -> None:
    """Temp file in the same folder, then rename: a crash never leaves half a blueprint."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
