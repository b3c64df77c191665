"""Request and response members as CloudTrail records them, derived from botocore's model.

CloudTrail writes members in lowerCamel case and leaves out what must never be logged: every blob
(plaintext, ciphertext, messages, signatures, key material, import tokens, public keys) and every
member the model marks ``sensitive``, at any depth. Map keys (encryption context) are the
caller's own and stay as sent. Grant tokens are bearer secrets and are left out too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from trent.api.model import ServiceModel, Shape

Transform = Callable[[Any], Any]

# Never recorded, whatever the model says about them: grant tokens are bearer credentials.
_ALWAYS_HIDDEN: Final = frozenset({"GrantTokens", "GrantToken"})

# CloudTrail's KMS records mark these read-only; everything else changes state.
_READ_ONLY_PREFIXES: Final = ("Describe", "List", "Get")
_READ_ONLY_KMS: Final = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        "LookupEvents",
    }
)

# Operations whose record carries their response (the rest record responseElements: null):
# what a change produced, never the result of a cryptographic or read operation.
_RESPONSE_RECORDED: Final = frozenset(
    {
        "CreateKey",
        "CreateGrant",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "ReplicateKey",
        "CreateCustomKeyStore",
        "ImportKeyMaterial",
        "RotateKeyOnDemand",
        "DeleteImportedKeyMaterial",
    }
)

# Members CloudTrail shows with their default when the request left them out.
_DEFAULTS: Final = {
    "Encrypt": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "Decrypt": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "ReEncrypt": {
        "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    },
}
# Member names CloudTrail keeps as the model spells them instead of lowerCamel-casing them.
_VERBATIM_NAMES: Final = frozenset({"AWSAccountId"})


def is_read_only(operation: str) -> bool:
    return operation in _READ_ONLY_KMS or operation.startswith(_READ_ONLY_PREFIXES)


def cloudtrail_date(moment: datetime) -> str:
    """Dates inside CloudTrail's request and response elements, e.g. 'Dec 3, 2020, 12:00:00 AM'."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def _lower_camel(name: str) -> str:
    return name if name in _VERBATIM_NAMES else name[:1].lower() + name[1:]


def _hidden(shape: Shape) -> bool:
    return shape.sensitive or shape.type_name == "blob"


def _compile(shape: Shape, seen: dict[str, Transform]) -> Transform:
    """A function turning a decoded (or handler-produced) value of ``shape`` into its record form."""
    cached = seen.get(shape.name)
    if cached is not None:
        return cached
    kind = shape.type_name
    if kind == "structure":
        members: dict[str, tuple[str, Transform]] = {}

        def structure(value: Any) -> Any:
            # type() first: decoded JSON is a plain dict, and isinstance() on an ABC costs ~0.15 µs.
            if type(value) is not dict and not isinstance(value, Mapping):
                return value
            out = {}
            for name, item in value.items():
                entry = members.get(name)
                if entry is None or item is None:
                    continue
                out[entry[0]] = entry[1](item)
            return out

        seen[shape.name] = structure  # before the members: recursive shapes refer back to it
        for name, member in shape.members().items():
            if name not in _ALWAYS_HIDDEN and not _hidden(member):
                members[name] = (_lower_camel(name), _compile(member, seen))
        return structure
    if kind == "list":
        element = _compile(shape.list_member(), seen)

        def as_list(value: Any) -> Any:
            return [element(item) for item in value] if isinstance(value, list | tuple) else value

        return as_list
    if kind == "map":
        item_transform = _compile(shape.map_value(), seen)

        def as_map(value: Any) -> Any:
            return {key: item_transform(item) for key, item in value.items()} if isinstance(value, Mapping) else value

        return as_map
    if kind == "timestamp":
        return lambda value: cloudtrail_date(value) if isinstance(value, datetime) else value
    return lambda value: value


class RecordShaper:
    """Per operation: its requestParameters and responseElements, compiled once from the model."""

    def __init__(self, model: ServiceModel) -> None:
        seen: dict[str, Transform] = {}
        self._inputs: dict[str, Transform] = {}
        self._outputs: dict[str, Transform] = {}
        for name in model.operation_names:
            input_shape = model.input_shape(name)
            output_shape = model.output_shape(name)
            if input_shape is not None:
                self._inputs[name] = _compile(input_shape, seen)
            if output_shape is not None:
                self._outputs[name] = _compile(output_shape, seen)

    def request_parameters(self, operation: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        transform = self._inputs.get(operation)
        if transform is None or params is None:
            return None
        shaped: dict[str, Any] = transform(params)
        defaults = _DEFAULTS.get(operation)
        if defaults:
            for member, default in defaults.items():
                shaped.setdefault(member, default)
        return shaped or None

    def response_elements(self, operation: str, result: Mapping[str, Any] | None) -> dict[str, Any] | None:
        transform = self._outputs.get(operation)
        if transform is None or result is None or operation not in _RESPONSE_RECORDED:
            return None
        shaped: dict[str, Any] = transform(result)
        return shaped or None


def key_arns_in(result: Mapping[str, Any] | None) -> list[str]:
    """Key ARNs a response names (KeyId, SourceKeyId, KeyMetadata.Arn), in that order."""
    if not result:
        return []
    found: list[str] = []
    for value in (result.get("SourceKeyId"), result.get("KeyId")):
        if isinstance(value, str) and ":key/" in value and value not in found:
            found.append(value)
    metadata = result.get("KeyMetadata")
    if metadata is not None and isinstance(metadata, Mapping):  # most responses have none: skip the ABC check
        arn = metadata.get("Arn")
        if isinstance(arn, str) and arn not in found:
            found.append(arn)
    return found
