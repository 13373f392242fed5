"""Object metadata and label selectors, shared by every blueprint kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from fleet import names
from fleet.errors import UnsafeNameError
from fleet.spec.base import (
    DNSLabel,
    FieldError,
    K8sModel,
    LabelKey,
    LabelValue,
    Namespace,
    Text,
    check_labels,
)


class ObjectMeta(K8sModel):
    """`metadata`: name, namespace (fleet's application), labels, annotations."""

    unsupported_fields = frozenset(
        {
            "generateName",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
            "finalizers",
            "managedFields",
            "selfLink",
            "clusterName",
        }
    )

    name: DNSLabel
    # fleet reads the namespace as the application the object belongs to
    namespace: Namespace | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, Text] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return check_labels(value)

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            try:
                names.label_key(key, "annotation key")
            except UnsafeNameError as exc:
                raise FieldError(str(exc), key) from None
        return value


class LabelSelectorRequirement(K8sModel):
    """One `matchExpressions` entry: key In/NotIn values, Exists, DoesNotExist."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a set of labels satisfies this requirement."""
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels

    @model_validator(mode="after")
    def _values(self) -> LabelSelectorRequirement:
        needs_values = self.operator in ("In", "NotIn")
        if needs_values and not self.values:
            raise FieldError(f"operator {self.operator} needs at least one value", "values")
        if not needs_values and self.values:
            raise FieldError(f"operator {self.operator} takes no values", "values")
        return self


class LabelSelector(K8sModel):
    """`selector`: matchLabels and matchExpressions, all of which must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    @field_validator("match_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return check_labels(value)

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether an object with these labels is selected (an empty selector selects none)."""
        if self.is_empty():
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


class TopLevel(K8sModel):
    """Base of the kinds a blueprint file holds: a name, and the application it belongs to."""

    unsupported_fields = frozenset({"status"})

    # the blueprint file's stem, set by the loader; metadata.namespace wins over it
    _app: str | None = PrivateAttr(default=None)

    @property
    def meta(self) -> ObjectMeta:
        meta = getattr(self, "metadata", None)
        assert isinstance(meta, ObjectMeta)
        return meta

    @property
    def name(self) -> str:
        """metadata.name"""
        return self.meta.name

    @property
    def app(self) -> str:
        """The application: metadata.namespace if set, else the blueprint file's stem."""
        return self.meta.namespace or self._app or "default"

    def set_app(self, app: str | None) -> None:
        """Record the application the loader found this object in (its file's stem)."""
        self._app = app
