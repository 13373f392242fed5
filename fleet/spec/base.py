"""Building blocks of the blueprint models: the strict base class and checked field types.

Every blueprint model is a `K8sModel`: frozen, strict (no "3" for 3), unknown
fields rejected, snake_case attributes in Python and Kubernetes' camelCase in
YAML. Names that can reach a shell or a config file are typed with the
`Annotated` aliases below, so they pass `fleet.names` before anything else
sees them.

`FieldError` lets a model-level check point at the field it is about (the
loader turns its `path` into a line number).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
)
from pydantic.alias_generators import to_camel

from fleet import names
from fleet.errors import UnsafeNameError
from fleet.spec.quantity import format_cpu, format_memory, parse_cpu, parse_memory


class FieldError(ValueError):
    """A validation problem about a field below the model that raised it.

    `path` is relative to that model, as YAML keys (camelCase) and list indexes.
    """

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path: tuple[str | int, ...] = path


class K8sModel(BaseModel):
    """Base of blueprint models: strict, frozen, unknown fields rejected, camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
    )

    # Kubernetes fields fleet knows but does not implement: the loader drops them
    # with a warning naming each one instead of rejecting the file.
    unsupported_fields: ClassVar[frozenset[str]] = frozenset()


# Upper bound of durations in seconds (probe periods, grace periods): HAProxy's timers
# overflow beyond about 24 days, and nothing sensible waits longer than a day.
DAY = 86400


def from_yaml(info: ValidationInfo) -> bool:
    """True when validating a file (the loader passes a context), False for Python callers."""
    return isinstance(info.context, dict) and bool(info.context.get("yaml"))


def _name_check(check: Any, what: str) -> Any:
    def run(value: str) -> str:
        try:
            return str(check(value, what))
        except UnsafeNameError as exc:
            raise ValueError(str(exc)) from None

    return AfterValidator(run)


DNSLabel = Annotated[str, _name_check(names.dns_label, "name")]
Namespace = Annotated[str, _name_check(names.dns_label, "namespace")]
ContainerName = Annotated[str, _name_check(names.dns_label, "container name")]
VolumeName = Annotated[str, _name_check(names.dns_label, "volume name")]
ServiceRef = Annotated[str, _name_check(names.dns_label, "service name")]
ImageRef = Annotated[str, _name_check(names.image_ref, "image")]
EnvName = Annotated[str, _name_check(names.env_name, "environment variable name")]
LabelKey = Annotated[str, _name_check(names.label_key, "label key")]
LabelValue = Annotated[str, _name_check(names.label_value, "label value")]

_PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _port_name(value: str) -> str:
    # IANA_SVC_NAME as Kubernetes checks it: <= 15 chars, a letter somewhere, no '--'
    if (
        len(value) > 15
        or not _PORT_NAME.fullmatch(value)
        or "--" in value
        or not re.search("[a-z]", value)
    ):
        raise ValueError(
            f"port name {value!r} is not valid (at most 15 lowercase letters, digits and '-', "
            "with at least one letter, like 'http')"
        )
    return value


PortName = Annotated[str, AfterValidator(_port_name)]

# Paths that become `docker run -v SRC:DST` arguments: ':' and ',' would split the
# argument, and whitespace or quotes invite trouble in configs and logs.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._@%+=~/-]*")


def _abs_path(value: str) -> str:
    if not _SAFE_PATH.fullmatch(value) or "/../" in f"{value}/":
        raise ValueError(
            f"path {value!r} is not allowed: it must be absolute and use only letters, "
            "digits and . _ - @ % + = ~ / (no '..', spaces, ':' or ',')"
        )
    return value


AbsPath = Annotated[str, AfterValidator(_abs_path)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def _int_or_string(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a number or a name, got {show(value)}")
    return value


IntOrString = Annotated[int | str, BeforeValidator(_int_or_string)]


def _port_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        raise ValueError(f"port {value} is out of range (1-65535)")
    return value


PortNumber = Annotated[int, BeforeValidator(_port_number)]


def _cpu(value: object, info: ValidationInfo) -> int | None:
    if value is None:
        return None
    # In Python an int is already millicores (what the attribute holds); in a file
    # `cpu: 2` means two cores, as in Kubernetes.
    if isinstance(value, int) and not isinstance(value, bool) and not from_yaml(info):
        if value < 0:
            raise ValueError(f"{value} is not a CPU quantity: must not be negative")
        return value
    return parse_cpu(value)  # type: ignore[arg-type]


def _memory(value: object) -> int | None:
    return None if value is None else parse_memory(value)  # type: ignore[arg-type]


# ints in Python; canonical quantity strings ("250m", "128Mi") in JSON and YAML output
_Millicores = Annotated[int, PlainSerializer(format_cpu, return_type=str, when_used="json")]
_Bytes = Annotated[int, PlainSerializer(format_memory, return_type=str, when_used="json")]
CPU = Annotated[_Millicores | None, BeforeValidator(_cpu)]
Memory = Annotated[_Bytes | None, BeforeValidator(_memory)]


def show(value: object) -> str:
    """A value as the operator wrote it, for messages: strings in double quotes."""
    if isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        return text if len(text) <= 60 else text[:56] + '..."'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def check_labels(labels: dict[str, str], what: str = "label") -> dict[str, str]:
    """Validate label keys and values (raise FieldError at the bad key)."""
    for key, value in labels.items():
        try:
            names.label_key(key, f"{what} key")
            names.label_value(value, f"value of {what} {key!r}")
        except UnsafeNameError as exc:
            raise FieldError(str(exc), key) from None
    return labels
