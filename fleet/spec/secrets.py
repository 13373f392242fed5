"""Secrets: values that come from files or the controller's environment, never from YAML.

```yaml
apiVersion: v1
kind: Secret
metadata: {name: db}
sources:                         # fleet: where each key's value is read at apply time
  password: {file: secrets/db-password}   # relative to this blueprint file
  token: {env: DB_TOKEN}                  # a variable of the controller's environment
```

A container refers to a key with Kubernetes' `valueFrom.secretKeyRef`, or reads
a file or variable directly with fleet's `valueFrom: {file: ...}` /
`valueFrom: {env: ...}`. Resolved values are `SecretValue`s: they print as
`***` in reprs, plan output, JSON and logs; `.reveal()` is the one way to the
text (used only where the value goes to the engine). A file's value is its
content without one trailing newline (what `echo x > file` adds).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import model_validator

from fleet.errors import Location, SpecError
from fleet.spec.base import EnvName, FieldError, K8sModel, Text
from fleet.spec.meta import ObjectMeta, TopLevel

if TYPE_CHECKING:
    from fleet.spec.blueprint import Blueprint, Deployment
    from fleet.spec.pod import Container, EnvVarSource

MASK = "***"


class SecretValue:
    """A secret string that never shows itself: repr, str, format and JSON give `***`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret text itself. Call only where the value must reach the engine."""
        return self._value

    def digest(self) -> str:
        """A SHA-256 of the value (for revision hashes: changes show, the value does not)."""
        return hashlib.sha256(self._value.encode()).hexdigest()

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.digest())

    def __reduce__(self) -> Any:  # pickling would be a way around the mask: refuse
        raise TypeError("SecretValue cannot be pickled")


class SecretSource(K8sModel):
    """Where one key of a Secret comes from: a file or an environment variable."""

    file: Text | None = None
    env: EnvName | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        if (self.file is None) == (self.env is None):
            raise ValueError("a secret source needs exactly one of file, env")
        return self


_INLINE_HELP = (
    "inline secret values are not allowed (they would end up in git, logs and plan output); "
    "read each key from a file or the controller's environment instead: "
    "sources: {KEY: {file: path/to/file}} or sources: {KEY: {env: VARIABLE}}"
)


class Secret(TopLevel):
    """`kind: Secret`: named keys whose values fleet reads at apply time."""

    unsupported_fields = frozenset({"status", "immutable"})

    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    metadata: ObjectMeta
    type: Literal["Opaque"] = "Opaque"
    sources: dict[str, SecretSource]

    @model_validator(mode="before")
    @classmethod
    def _no_inline(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("stringData", "data"):
                if key in data:
                    raise FieldError(_INLINE_HELP, key)
        return data

    @model_validator(mode="after")
    def _keys(self) -> Secret:
        from fleet.spec.pod import _SECRET_KEY

        for key in self.sources:
            if not _SECRET_KEY.fullmatch(key):
                raise FieldError(
                    f"secret key {key!r} is not valid (letters, digits, -._)", "sources", key
                )
        return self


def read_source(
    source: SecretSource | EnvVarSource,
    base: Path,
    where: Location,
    environ: Mapping[str, str] | None = None,
) -> SecretValue:
    """Read a file or environment source now; SpecError (with `where`) when it is missing."""
    env = os.environ if environ is None else environ
    if source.file is not None:
        path = Path(source.file).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read secret file {path}: {exc.strerror}", where) from None
        return SecretValue(text[:-1] if text.endswith("\n") else text)
    if source.env is not None:
        if source.env not in env:
            raise SpecError(
                f"environment variable {source.env} is not set on the controller", where
            )
        return SecretValue(env[source.env])
    raise SpecError("no source to read", where)  # pragma: no cover - models forbid it


def resolve_env(
    container: Container,
    blueprint: Blueprint,
    deployment: Deployment | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, SecretValue | str]]:
    """The container's environment with every `valueFrom` read now.

    Literal values stay `str`; anything from a secret, file or the controller's
    environment is a `SecretValue`. An optional secretKeyRef whose key is missing
    is left out (as Kubernetes does). Raises SpecError naming the blueprint place.
    """
    if deployment is None:
        deployment = blueprint.deployment_of(container)
    where = blueprint.source(deployment)
    base = Path(where.file).parent
    result: list[tuple[str, SecretValue | str]] = []
    for var in container.env:
        if var.value_from is None:
            result.append((var.name, var.value or ""))
            continue
        ref = var.value_from.secret_key_ref
        place = Location(where.file, where.line, f"env {var.name}")
        if ref is None:
            result.append((var.name, read_source(var.value_from, base, place, environ)))
            continue
        secret = blueprint.secrets.get(ref.name)
        source = secret.sources.get(ref.key) if secret is not None else None
        if secret is None or source is None:
            if ref.optional:
                continue
            missing = (
                f"secret {ref.name!r}"
                if secret is None
                else f"key {ref.key!r} of secret {ref.name!r}"
            )
            raise SpecError(f"{missing} does not exist", place)
        secret_where = blueprint.source(secret)
        result.append(
            (var.name, read_source(source, Path(secret_where.file).parent, place, environ))
        )
    return result
