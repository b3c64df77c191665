"""AWS JSON 1.1 bodies in and out, driven by botocore's service model.

Each operation's input and output shapes are compiled once, at construction, into small decoder
and encoder objects, so the per-request work is one ``orjson`` call plus a walk over the members
that are present. Decoding does what AWS's front end (Coral) does before a handler runs:

* wrong JSON types, bad base64 and unparsable bodies raise ``SerializationException`` at once;
* constraint violations (required, length, range, enum, pattern) are collected over the whole
  input in model member order and raised together as one ``ValidationException`` using Coral's
  "N validation errors detected: ..." wording and lowerCamel member paths.

Messages never carry the value of a blob or of anything the model marks ``sensitive``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import pybase64

from trent.api.java_regex import java_regex
from trent.api.model import LENGTH_TYPES, NUMBER_TYPES, ServiceModel, Shape, load_model
from trent.domain.errors import (
    SerializationException,
    ValidationException,
    constraint_violation,
    missing_member,
    validation_summary,
)

# ----------------------------------------------------------------- Coral's wording

# Deserialization failures as AWS JSON 1.1 services word them (observed on other Coral services;
# KMS itself was not recorded). None of them echoes the offending value.
_START_OF_LIST: Final = "Start of list found where not expected"
_START_OF_MAP: Final = "Start of structure or map found where not expected."
_EXPECTED_LIST: Final = "Expected list or null"
_EXPECTED_MAP: Final = "Expected map or null"
_EXPECTED_STRUCTURE: Final = "Expected null"
# No AWS wording was recorded for unparsable JSON or base64; these are short and echo nothing.
_MALFORMED_JSON: Final = "Malformed request body: not valid JSON"
_BAD_BASE64: Final = "Invalid base64 value for a blob member"
_BAD_UNION: Final = "Exactly one member of a union must be set"
_NULL_MAP_VALUE: Final = "Map values must not be null"

_INT32: Final = (-(2**31), 2**31 - 1)
_INT64: Final = (-(2**63), 2**63 - 1)


def _token(value: Any) -> str:
    """The name Coral's JSON reader gives a scalar token."""
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    return "NUMBER_VALUE"


def _mismatch(value: Any, target: str) -> SerializationException:
    """A scalar member got a value of another JSON type; ``target`` is e.g. 'a String'."""
    if isinstance(value, list):
        return SerializationException(_START_OF_LIST)
    if isinstance(value, dict):
        return SerializationException(_START_OF_MAP)
    return SerializationException(f"{_token(value)} can not be converted to {target}")


def _render(value: Any) -> str:
    """A value as Coral prints it: Java's toString of the deserialized object."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_render(item)}" for key, item in value.items()) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _violation(value: Any, path: str, constraint: str, redact: bool) -> str:
    """One element of Coral's message; ``constraint`` starts with 'Member must ...' or 'Map ...'."""
    return constraint_violation(path, constraint, None if redact else _render(value))


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


# ----------------------------------------------------------------- decoders

Errors = list[str]


class _Decoder:
    """Turns one JSON value into its Python value, appending constraint violations to ``errors``."""

    __slots__ = ("redact",)

    def __init__(self, redact: bool) -> None:
        # Leave the value out of messages: blobs, sensitive shapes and containers holding them.
        self.redact = redact

    def decode(self, value: Any, path: str, errors: Errors) -> Any:
        raise NotImplementedError


class _Scalar(_Decoder):
    """A leaf: type conversion plus the shape's own constraints."""

    __slots__ = ("rules", "target")

    def __init__(self, shape: Shape, redact: bool, target: str) -> None:
        super().__init__(redact)
        self.target = target
        # Every rule, in the order Coral lists them for collection members: max, min, pattern, enum.
        rules = []
        noun = "length" if shape.type_name in LENGTH_TYPES else "value"
        if shape.max is not None:
            rules.append(f"Member must have {noun} less than or equal to {shape.max}")
        if shape.min is not None:
            rules.append(f"Member must have {noun} greater than or equal to {shape.min}")
        if shape.pattern is not None:
            rules.append(f"Member must satisfy regular expression pattern: {shape.pattern}")
        if shape.enum:
            rules.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        self.rules: tuple[str, ...] = tuple(rules)

    def convert(self, value: Any) -> Any:
        raise NotImplementedError

    def failures(self, value: Any) -> list[str]:
        """The rules a converted value breaks; only called when ``rules`` is not empty."""
        raise NotImplementedError

    def decode(self, value: Any, path: str, errors: Errors) -> Any:
        converted = self.convert(value)
        if self.rules:
            for rule in self.failures(converted):
                errors.append(_violation(converted, path, rule, self.redact))
        return converted


class _Sized(_Scalar):
    """Strings and blobs: length bounds, and for strings enum and pattern."""

    __slots__ = ("enum", "enum_rule", "max", "max_rule", "min", "min_rule", "pattern_rule", "regex")

    def __init__(self, shape: Shape, redact: bool, target: str) -> None:
        super().__init__(shape, redact, target)
        self.min = shape.min
        self.max = shape.max
        self.min_rule = f"Member must have length greater than or equal to {shape.min}"
        self.max_rule = f"Member must have length less than or equal to {shape.max}"
        self.enum = frozenset(shape.enum)
        self.regex = None if shape.pattern is None else java_regex(shape.pattern)
        self.pattern_rule = f"Member must satisfy regular expression pattern: {shape.pattern}"
        self.enum_rule = f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"

    def failures(self, value: Any) -> list[str]:
        found = []
        size = len(value)
        if self.max is not None and size > self.max:
            found.append(self.max_rule)
        if self.min is not None and size < self.min:
            found.append(self.min_rule)
        if self.regex is not None and self.regex.fullmatch(value) is None:
            found.append(self.pattern_rule)
        if self.enum and value not in self.enum:
            found.append(self.enum_rule)
        return found


class _String(_Sized):
    __slots__ = ()

    def convert(self, value: Any) -> Any:
        if type(value) is str:
            return value
        raise _mismatch(value, self.target)


class _Blob(_Sized):
    __slots__ = ()

    def convert(self, value: Any) -> Any:
        if type(value) is not str:
            raise _mismatch(value, self.target)
        try:
            return pybase64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error, and non-ASCII text
            raise SerializationException(_BAD_BASE64) from None


class _Number(_Scalar):
    """Integers, longs, doubles and floats: value bounds."""

    __slots__ = ("bounds", "integral", "max", "max_rule", "min", "min_rule")

    def __init__(self, shape: Shape, redact: bool, target: str) -> None:
        super().__init__(shape, redact, target)
        self.integral = shape.type_name in ("integer", "long")
        # Java's int and long widths: beyond them Coral's reader cannot build the value at all.
        self.bounds = _INT32 if shape.type_name == "integer" else _INT64
        self.min = shape.min
        self.max = shape.max
        self.min_rule = f"Member must have value greater than or equal to {shape.min}"
        self.max_rule = f"Member must have value less than or equal to {shape.max}"

    def convert(self, value: Any) -> Any:
        kind = type(value)
        if not self.integral:
            if kind is float or kind is int:
                return float(value)
            raise _mismatch(value, self.target)
        if kind is float and value.is_integer():
            value = int(value)
        elif kind is not int:
            raise _mismatch(value, self.target)
        low, high = self.bounds
        if not low <= value <= high:
            raise SerializationException(f"NUMBER_VALUE can not be converted to {self.target}")
        return value

    def failures(self, value: Any) -> list[str]:
        found = []
        if self.max is not None and value > self.max:
            found.append(self.max_rule)
        if self.min is not None and value < self.min:
            found.append(self.min_rule)
        return found


class _Boolean(_Scalar):
    __slots__ = ()

    def convert(self, value: Any) -> Any:
        if type(value) is bool:
            return value
        raise _mismatch(value, self.target)

    def failures(self, value: Any) -> list[str]:
        return []


class _Timestamp(_Scalar):
    """Epoch seconds (what SDKs send) or ISO-8601 text, as an aware UTC datetime."""

    __slots__ = ()

    def convert(self, value: Any) -> Any:
        kind = type(value)
        try:
            if kind is int or kind is float:
                return datetime.fromtimestamp(value, UTC)
            if kind is str:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=UTC)
                return parsed.astimezone(UTC)
        except (ValueError, OverflowError, OSError):
            raise SerializationException(f"{_token(value)} can not be converted to {self.target}") from None
        raise _mismatch(value, self.target)

    def failures(self, value: Any) -> list[str]:
        return []


def _collection_rule(prefix: str, element: _Scalar) -> str:
    """Coral reports constrained scalars inside a list or map once, listing all their rules."""
    return f"{prefix} must satisfy constraint: [{', '.join(element.rules)}]"


class _Collection(_Decoder):
    """Lists and maps: bounds on the number of entries."""

    __slots__ = ("max", "max_rule", "min", "min_rule")

    def __init__(self, shape: Shape, redact: bool) -> None:
        super().__init__(redact)
        self.min = shape.min
        self.max = shape.max
        self.min_rule = f"Member must have length greater than or equal to {shape.min}"
        self.max_rule = f"Member must have length less than or equal to {shape.max}"


class _List(_Collection):
    __slots__ = ("element", "element_rule")

    def __init__(self, shape: Shape, redact: bool, element: _Decoder) -> None:
        super().__init__(shape, redact)
        self.element = element
        self.element_rule = _collection_rule("Member", element) if isinstance(element, _Scalar) else ""

    def decode(self, value: Any, path: str, errors: Errors) -> Any:
        if type(value) is not list:
            raise SerializationException(_START_OF_MAP if isinstance(value, dict) else _EXPECTED_LIST)
        if None in value:
            # Coral drops null entries of a list rather than failing the request.
            value = [item for item in value if item is not None]
        size = len(value)
        if self.max is not None and size > self.max:
            errors.append(_violation(value, path, self.max_rule, self.redact))
        if self.min is not None and size < self.min:
            errors.append(_violation(value, path, self.min_rule, self.redact))
        element = self.element
        if isinstance(element, _Scalar):
            items = [element.convert(item) for item in value]
            if element.rules and any(element.failures(item) for item in items):
                errors.append(_violation(items, path, self.element_rule, self.redact))
            return items
        return [element.decode(item, f"{path}.{index}.member", errors) for index, item in enumerate(value, 1)]


class _Map(_Collection):
    __slots__ = ("key", "key_rule", "value", "value_rule")

    def __init__(self, shape: Shape, redact: bool, key: _Scalar, value: _Decoder) -> None:
        super().__init__(shape, redact)
        self.key = key
        self.value = value
        self.key_rule = _collection_rule("Map keys", key)
        self.value_rule = _collection_rule("Map value", value) if isinstance(value, _Scalar) else ""

    def decode(self, value: Any, path: str, errors: Errors) -> Any:
        if type(value) is not dict:
            raise SerializationException(_START_OF_LIST if isinstance(value, list) else _EXPECTED_MAP)
        size = len(value)
        if self.max is not None and size > self.max:
            errors.append(_violation(value, path, self.max_rule, self.redact))
        if self.min is not None and size < self.min:
            errors.append(_violation(value, path, self.min_rule, self.redact))
        key = self.key
        if key.rules and any(key.failures(name) for name in value):
            errors.append(_violation(value, path, self.key_rule, self.redact))
        element = self.value
        if None in value.values():
            # Unlike a list entry, a dropped map entry would silently change an encryption context.
            raise SerializationException(_NULL_MAP_VALUE)
        if isinstance(element, _Scalar):
            # JSON object keys are always strings, and map keys in the models are strings too.
            items = {name: element.convert(item) for name, item in value.items()}
            if element.rules and any(element.failures(item) for item in items.values()):
                errors.append(_violation(items, path, self.value_rule, self.redact))
            return items
        return {name: element.decode(item, f"{path}.{name}", errors) for name, item in value.items()}


class _Structure(_Decoder):
    """Fields are filled after construction so that recursive shapes can refer to themselves."""

    __slots__ = ("fields", "union")

    def __init__(self, redact: bool, union: bool) -> None:
        super().__init__(redact)
        self.union = union
        # (member name, lowerCamel path segment, decoder, required)
        self.fields: tuple[tuple[str, str, _Decoder, bool], ...] = ()

    def decode(self, value: Any, path: str, errors: Errors) -> Any:
        if type(value) is not dict:
            raise SerializationException(_START_OF_LIST if isinstance(value, list) else _EXPECTED_STRUCTURE)
        out: dict[str, Any] = {}
        get = value.get
        for name, segment, decoder, required in self.fields:
            item = get(name)
            if item is None:  # JSON null means absent
                if required:
                    errors.append(missing_member(f"{path}.{segment}" if path else segment))
                continue
            out[name] = decoder.decode(item, f"{path}.{segment}" if path else segment, errors)
        if self.union and len(out) != 1:
            raise SerializationException(_BAD_UNION)
        return out


# ----------------------------------------------------------------- encoders

Encoder = Callable[[Any], Any]


def _encode_blob(value: Any) -> Any:
    return pybase64.b64encode_as_string(value)


def _encode_timestamp(value: Any) -> Any:
    """Epoch seconds as a JSON number, the way AWS JSON 1.1 sends timestamps."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # Trent's clock is UTC; a naive value means UTC, not local time
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"timestamp member must be a datetime, not {type(value).__name__}")


class _StructureEncoder:
    """Drops None members and refuses names the model lacks, so handlers cannot leak fields."""

    __slots__ = ("encoders", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.encoders: dict[str, Encoder | None] = {}

    def __call__(self, value: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        encoders = self.encoders
        for key, item in value.items():
            if item is None:
                continue
            try:
                encoder = encoders[key]
            except KeyError:
                raise TypeError(f"{self.name} has no member {key!r}") from None
            out[key] = item if encoder is None else encoder(item)
        return out


# ----------------------------------------------------------------- compiling the model

_TARGETS: Final = {
    "string": "a String",
    "blob": "a Blob",
    "integer": "an Integer",
    "long": "a Long",
    "double": "a Double",
    "float": "a Float",
    "boolean": "a Boolean",
    "timestamp": "a Timestamp",
}


def _contains(shape: Shape, test: Callable[[Shape], bool], seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``test`` holds for the shape or anything nested in it (cycle-safe)."""
    if test(shape):
        return True
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    kind = shape.type_name
    if kind == "structure":
        return any(_contains(member, test, seen) for member in shape.members().values())
    if kind == "list":
        return _contains(shape.list_member(), test, seen)
    if kind == "map":
        return _contains(shape.map_key(), test, seen) or _contains(shape.map_value(), test, seen)
    return False


def _is_sensitive(shape: Shape) -> bool:
    return shape.sensitive


def _is_blob(shape: Shape) -> bool:
    return shape.type_name == "blob"


def _hides_value(shape: Shape) -> bool:
    return shape.sensitive or shape.type_name == "blob"


class _Compiler:
    """Builds decoders and encoders for one model; structures are shared and may be recursive."""

    def __init__(self) -> None:
        self._structures: dict[tuple[str, bool], _Structure] = {}
        self._structure_encoders: dict[str, _StructureEncoder] = {}

    def decoder(self, shape: Shape) -> _Decoder:
        redact = _contains(shape, _hides_value)
        kind = shape.type_name
        if kind == "structure":
            cache_key = (shape.name, redact)
            cached = self._structures.get(cache_key)
            if cached is not None:
                return cached
            structure = _Structure(redact, shape.union)
            self._structures[cache_key] = structure
            structure.fields = tuple(
                (name, _lower_camel(name), self.decoder(member), name in shape.required)
                for name, member in shape.members().items()
            )
            return structure
        if kind == "list":
            return _List(shape, redact, self.decoder(shape.list_member()))
        if kind == "map":
            key = self.decoder(shape.map_key())
            if not isinstance(key, _Scalar):
                raise TypeError(f"map {shape.name} has non-scalar keys")
            return _Map(shape, redact, key, self.decoder(shape.map_value()))
        target = _TARGETS.get(kind)
        if target is None:
            raise TypeError(f"shape {shape.name} has unsupported type {kind}")
        if kind == "string":
            return _String(shape, redact, target)
        if kind == "blob":
            return _Blob(shape, redact, target)
        if kind in NUMBER_TYPES:
            return _Number(shape, redact, target)
        if kind == "boolean":
            return _Boolean(shape, redact, target)
        return _Timestamp(shape, redact, target)

    def encoder(self, shape: Shape) -> Encoder | None:
        """None means the value passes to orjson as it is (strings, numbers, booleans, enums)."""
        kind = shape.type_name
        if kind == "structure":
            cached = self._structure_encoders.get(shape.name)
            if cached is not None:
                return cached
            structure = _StructureEncoder(shape.name)
            self._structure_encoders[shape.name] = structure
            structure.encoders = {name: self.encoder(member) for name, member in shape.members().items()}
            return structure
        if kind == "list":
            element = self.encoder(shape.list_member())
            if element is None:
                return None
            return functools.partial(_encode_list, element)
        if kind == "map":
            element = self.encoder(shape.map_value())
            if element is None:
                return None
            return functools.partial(_encode_map, element)
        if kind == "blob":
            return _encode_blob
        if kind == "timestamp":
            return _encode_timestamp
        return None


def _encode_list(element: Encoder, value: Any) -> Any:
    return [element(item) for item in value]


def _encode_map(element: Encoder, value: Any) -> Any:
    return {key: element(item) for key, item in value.items()}


# ----------------------------------------------------------------- public API


class OperationCodec:
    """Decoder and encoder for one operation's request and response bodies."""

    __slots__ = (
        "_input",
        "_output",
        "binary_inputs",
        "binary_outputs",
        "has_output",
        "input_members",
        "name",
        "output_members",
        "sensitive_inputs",
        "sensitive_outputs",
    )

    def __init__(self, name: str, input_shape: Shape | None, output_shape: Shape | None, compiler: _Compiler) -> None:
        self.name = name
        self._input = None if input_shape is None else compiler.decoder(input_shape)
        self._output = None if output_shape is None else compiler.encoder(output_shape)
        # Operations with no output shape answer with an empty body, not "{}".
        self.has_output = output_shape is not None
        inputs = {} if input_shape is None else input_shape.members()
        outputs = {} if output_shape is None else output_shape.members()
        self.input_members: tuple[str, ...] = tuple(inputs)
        self.output_members: tuple[str, ...] = tuple(outputs)
        # Top-level members holding something the model marks sensitive (at any depth) ...
        self.sensitive_inputs = frozenset(n for n, s in inputs.items() if _contains(s, _is_sensitive))
        self.sensitive_outputs = frozenset(n for n, s in outputs.items() if _contains(s, _is_sensitive))
        # ... and those holding blobs (ciphertexts, public keys), which audit records leave out too.
        self.binary_inputs = frozenset(n for n, s in inputs.items() if _contains(s, _is_blob))
        self.binary_outputs = frozenset(n for n, s in outputs.items() if _contains(s, _is_blob))

    def decode(self, body: bytes) -> dict[str, Any]:
        """Parse and validate a request body; raises SerializationException or ValidationException."""
        if not body or body.isspace():
            data: Any = {}  # some SDKs send nothing for an operation without arguments
        else:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise SerializationException(_MALFORMED_JSON) from None
            if type(data) is not dict:
                kind = _START_OF_LIST if isinstance(data, list) else _EXPECTED_STRUCTURE
                raise SerializationException(kind)
        if self._input is None:
            return {}
        errors: Errors = []
        result: dict[str, Any] = self._input.decode(data, "", errors)
        if errors:
            raise ValidationException(validation_summary(errors))
        return result

    def encode(self, result: Mapping[str, Any] | None) -> bytes:
        """Serialize a handler's result; unknown member names raise TypeError (a Trent bug)."""
        if self._output is None:
            if result:
                raise TypeError(f"{self.name} has no output members, got {sorted(result)}")
            return b""
        if result is None:
            return b""
        return orjson.dumps(self._output(result))


class ServiceCodec:
    """Every operation of one service, compiled once from botocore's model."""

    __slots__ = ("_operations", "model", "operation_names")

    def __init__(self, service_name: str = "kms") -> None:
        self.model: ServiceModel = load_model(service_name)
        compiler = _Compiler()
        model = self.model
        self._operations: dict[str, OperationCodec] = {
            name: OperationCodec(name, model.input_shape(name), model.output_shape(name), compiler)
            for name in model.operation_names
        }
        self.operation_names: tuple[str, ...] = model.operation_names

    def operation(self, name: str) -> OperationCodec | None:
        """The codec for an operation, or None when the model has no such operation."""
        return self._operations.get(name)

    def is_sensitive_member(self, operation: str, member: str, *, output: bool = False) -> bool:
        """Whether a top-level member carries the model's ``sensitive`` trait at any depth."""
        codec = self._operations[operation]
        return member in (codec.sensitive_outputs if output else codec.sensitive_inputs)

    def is_binary_member(self, operation: str, member: str, *, output: bool = False) -> bool:
        """Whether a top-level member is or contains a blob."""
        codec = self._operations[operation]
        return member in (codec.binary_outputs if output else codec.binary_inputs)

    def unloggable_members(self, operation: str, *, output: bool = False) -> frozenset[str]:
        """Top-level members an audit record must leave out: sensitive ones and blobs."""
        codec = self._operations[operation]
        if output:
            return codec.sensitive_outputs | codec.binary_outputs
        return codec.sensitive_inputs | codec.binary_inputs
