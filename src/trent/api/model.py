"""botocore's service models, loaded once per service and seen through small typed views.

The model is the source of the operation list, member names and constraints (DESIGN principle 4).
botocore ships no type information, so everything it returns is ``Any``; this module is the one
place that reads botocore objects and turns what the rest of ``trent.api`` needs into typed values.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session

# Shape types whose min/max bound a length (characters, bytes or entries) rather than a value.
LENGTH_TYPES = frozenset({"string", "blob", "list", "map"})
# Shape types whose min/max bound the numeric value.
NUMBER_TYPES = frozenset({"integer", "long", "double", "float"})


class Shape:
    """A read-only view of one botocore shape, with the member's own traits already merged.

    Nested shapes are resolved on demand, so recursive shapes never loop at construction.
    """

    __slots__ = (
        "_raw",
        "enum",
        "max",
        "min",
        "name",
        "pattern",
        "required",
        "sensitive",
        "type_name",
        "union",
    )

    def __init__(self, raw: Any) -> None:
        meta: dict[str, Any] = raw.metadata
        self._raw = raw
        self.name: str = raw.name
        self.type_name: str = raw.type_name
        self.min: int | float | None = meta.get("min")
        self.max: int | float | None = meta.get("max")
        self.pattern: str | None = meta.get("pattern")
        self.enum: tuple[str, ...] = tuple(meta.get("enum", ()))
        self.sensitive: bool = bool(meta.get("sensitive", False))
        self.required: frozenset[str] = frozenset(meta.get("required", ()))
        self.union: bool = bool(meta.get("union", False))

    def members(self) -> dict[str, Shape]:
        """A structure's members in model order (the order AWS reports validation errors in)."""
        if self.type_name != "structure":
            raise TypeError(f"{self.name} is a {self.type_name}, not a structure")
        return {name: Shape(raw) for name, raw in self._raw.members.items()}

    def list_member(self) -> Shape:
        if self.type_name != "list":
            raise TypeError(f"{self.name} is a {self.type_name}, not a list")
        return Shape(self._raw.member)

    def map_key(self) -> Shape:
        if self.type_name != "map":
            raise TypeError(f"{self.name} is a {self.type_name}, not a map")
        return Shape(self._raw.key)

    def map_value(self) -> Shape:
        if self.type_name != "map":
            raise TypeError(f"{self.name} is a {self.type_name}, not a map")
        return Shape(self._raw.value)

    def __repr__(self) -> str:
        return f"Shape({self.name}: {self.type_name})"


class ServiceModel:
    """The parts of one botocore service model that Trent reads."""

    __slots__ = (
        "_operations",
        "_raw",
        "api_version",
        "error_shape_names",
        "json_version",
        "operation_names",
        "protocol",
        "service_name",
        "signing_name",
        "target_prefix",
    )

    def __init__(self, service_name: str, raw: Any) -> None:
        meta: dict[str, Any] = raw.metadata
        self._raw = raw
        self.service_name = service_name
        self.protocol: str = meta["protocol"]
        self.api_version: str = meta["apiVersion"]
        # Only JSON protocols have these; query protocols (STS, IAM) leave them None.
        self.target_prefix: str | None = meta.get("targetPrefix")
        self.json_version: str | None = meta.get("jsonVersion")
        self.signing_name: str = meta.get("signingName") or meta["endpointPrefix"]
        self.operation_names: tuple[str, ...] = tuple(raw.operation_names)
        self._operations: dict[str, Any] = {name: raw.operation_model(name) for name in self.operation_names}
        self.error_shape_names: tuple[str, ...] = tuple(shape.name for shape in raw.error_shapes)

    def has_operation(self, name: str) -> bool:
        return name in self._operations

    def input_shape(self, operation: str) -> Shape | None:
        raw = self._operations[operation].input_shape
        return None if raw is None else Shape(raw)

    def output_shape(self, operation: str) -> Shape | None:
        raw = self._operations[operation].output_shape
        return None if raw is None else Shape(raw)

    def operation_error_names(self, operation: str) -> tuple[str, ...]:
        """The error shapes the model lists for one operation."""
        return tuple(shape.name for shape in self._operations[operation].error_shapes)

    def shape(self, name: str) -> Shape:
        return Shape(self._raw.shape_for(name))


@functools.cache
def load_model(service_name: str = "kms") -> ServiceModel:
    """Load a service model from botocore's data directory; cached because parsing costs ~50 ms."""
    session = botocore.session.get_session()
    return ServiceModel(service_name, session.get_service_model(service_name))
