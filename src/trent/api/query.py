"""The AWS query protocol (STS, IAM) on the KMS endpoint: form-encoded requests in, XML out.

Requests are what botocore's ``QuerySerializer`` sends: ``Action``, ``Version`` and the input
members flattened into dotted names (structures ``A.B``, lists ``A.member.N``, maps
``A.entry.N.key``/``.value``, booleans ``true``/``false``, timestamps ISO-8601, blobs base64).
The form is first rebuilt into the JSON-shaped value the model describes and then checked by the
same model-driven codec as KMS's JSON requests, so constraints and AWS's "N validation errors
detected: ..." wording come from one place; the query protocol only names the error
``ValidationError`` instead of ``ValidationException``.

Responses follow the query protocol's XML: ``<ActionResponse xmlns=...><ActionResult>...``
members in model order, lists as ``<member>``, timestamps ISO-8601, and IAM's policy documents
URL-encoded (botocore decodes them). The XML is built with ``xml.etree`` (it escapes); no
untrusted XML is ever parsed.
"""

from __future__ import annotations

import base64
import contextvars
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote
from xml.etree import ElementTree

import orjson

from trent.api.audit_records import cloudtrail_date
from trent.api.codec import OperationCodec, ServiceCodec
from trent.api.handlers.iam import HANDLERS as IAM_HANDLERS
from trent.api.handlers.iam import Handler
from trent.api.handlers.sts import HANDLERS as STS_HANDLERS
from trent.api.model import Shape
from trent.domain.errors import TrentError, constraint_violation, validation_summary
from trent.domain.iam_errors import InvalidAction, MalformedQueryString, MissingAction, ValidationError
from trent.domain.identity import Caller
from trent.services.iam import IamService
from trent.services.request import RequestContext

log = logging.getLogger("trent.api.query")

_MAX_FIELDS: Final = 10_000
_MAX_DEPTH: Final = 16  # segments of a field name; the IAM and STS inputs need at most 7
_POLICY_DOCUMENT_SHAPE: Final = "policyDocumentType"
_INTEGER: Final = re.compile(r"[+-]?[0-9]{1,20}")
# Characters XML 1.0 cannot carry at all (not even escaped); they are replaced, never sent.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Errors raised before an IAM/STS handler runs (SigV4, body size) carry the KMS/JSON names; the
# query protocol sends the CommonErrors codes instead, with these HTTP statuses.
_TRANSLATED: Final[dict[str, tuple[str, int]]] = {
    "UnrecognizedClientException": ("InvalidClientTokenId", 403),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "ExpiredTokenException": ("ExpiredToken", 403),
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "MissingAuthenticationTokenException": ("MissingAuthenticationToken", 403),
    "AccessDeniedException": ("AccessDenied", 403),
    "ValidationException": ("ValidationError", 400),
    "SerializationException": ("ValidationError", 400),
    "UnknownOperationException": ("InvalidAction", 400),
    "ThrottlingException": ("Throttling", 400),
    "RequestEntityTooLargeException": ("RequestEntityTooLarge", 413),
}
# Codes of trent.domain.iam_errors, with the statuses of the IAM model's error shapes.
_STATUS: Final[dict[str, int]] = {
    "NoSuchEntity": 404,
    "EntityAlreadyExists": 409,
    "DeleteConflict": 409,
    "LimitExceeded": 409,
    "MalformedPolicyDocument": 400,
    "InvalidInput": 400,
    "ValidationError": 400,
    "InvalidAction": 400,
    "MissingAction": 400,
    "MalformedQueryString": 404,
}
_INTERNAL_CODE: Final = {"sts": "InternalFailure", "iam": "ServiceFailure"}
_INTERNAL_MESSAGE: Final = "We encountered an internal error. Please try again."

# (request id, service) of the request being handled, so that render_error, which the app calls
# without the service, can answer in that service's namespace.
_CURRENT: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("trent_query_request")


def namespace(service: str, api_version: str) -> str:
    return f"https://{service}.amazonaws.com/doc/{api_version}/"


# ----------------------------------------------------------------- form decoding


def decode_form(body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (a repeated name: the last)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError:  # includes UnicodeDecodeError
        raise MalformedQueryString.malformed() from None
    return dict(pairs)


def _prefixes(fields: Mapping[str, str]) -> frozenset[str]:
    """Every dotted prefix of every field name: 'A.member.1.Key' gives 'A', 'A.member', ...

    Only the first _MAX_DEPTH segments count (deeper names match no member of the models), so
    the set stays within a few times the body's size whatever names a client sends.
    """
    found: set[str] = set()
    for name in fields:
        parts = name.split(".", _MAX_DEPTH)[:_MAX_DEPTH]
        for end in range(1, len(parts) + 1):
            found.add(".".join(parts[:end]))
    return frozenset(found)


def _bad_scalar(value: str, path: str, kind: str) -> ValidationError:
    segments = path.split(".")
    segment = ".".join(s[:1].lower() + s[1:] for s in segments)
    return ValidationError(validation_summary([constraint_violation(segment, f"Member must be {kind}", value)]))


_ABSENT: Final = object()


def _unflatten(shape: Shape, fields: Mapping[str, str], present: frozenset[str], prefix: str) -> Any:
    """The JSON-shaped value of one member, or _ABSENT."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members().items():
            key = f"{prefix}.{name}" if prefix else name
            if key in present:
                value = _unflatten(member, fields, present, key)
                if value is not _ABSENT:
                    out[name] = value
        return out
    if kind == "list":
        if fields.get(prefix) == "":
            return []  # botocore sends an empty list as the bare name with no value
        element = shape.list_member()
        items: list[Any] = []
        index = 1
        while f"{prefix}.member.{index}" in present:
            value = _unflatten(element, fields, present, f"{prefix}.member.{index}")
            if value is not _ABSENT:
                items.append(value)
            index += 1
        return items
    if kind == "map":
        key_shape, value_shape = shape.map_key(), shape.map_value()
        entries: dict[str, Any] = {}
        index = 1
        while f"{prefix}.entry.{index}" in present:
            key = _unflatten(key_shape, fields, present, f"{prefix}.entry.{index}.key")
            value = _unflatten(value_shape, fields, present, f"{prefix}.entry.{index}.value")
            if isinstance(key, str) and value is not _ABSENT:
                entries[key] = value
            index += 1
        return entries
    text = fields.get(prefix)
    if text is None:
        return _ABSENT  # only deeper names were sent for a scalar member: ignored, as unknown names are
    if kind in ("integer", "long"):
        if _INTEGER.fullmatch(text) is None:
            raise _bad_scalar(text, prefix, "an integer")
        return int(text)
    if kind in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            raise _bad_scalar(text, prefix, "a number") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise _bad_scalar(text, prefix, "a boolean")
        return lowered == "true"
    return text  # strings; blobs stay base64 and timestamps ISO-8601 for the codec to check


# ----------------------------------------------------------------- XML encoding


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # Trent's clock is UTC; a naive value means UTC
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        if not isinstance(value, datetime):
            raise TypeError(f"{shape.name} must be a datetime, not {type(value).__name__}")
        return _timestamp(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if kind in ("integer", "long"):
        return str(int(value))
    if kind in ("double", "float"):
        return repr(float(value))
    text = str(value)
    if shape.name == _POLICY_DOCUMENT_SHAPE:
        text = quote(text, safe="")  # IAM sends policy documents URL-encoded
    return _text(text)


def _encode(parent: ElementTree.Element, name: str, shape: Shape, value: Any) -> None:
    element = ElementTree.SubElement(parent, name)
    kind = shape.type_name
    if kind == "structure":
        _encode_members(element, shape, value)
    elif kind == "list":
        item_shape = shape.list_member()
        for item in value:
            _encode(element, "member", item_shape, item)
    elif kind == "map":
        key_shape, value_shape = shape.map_key(), shape.map_value()
        for key, item in value.items():
            entry = ElementTree.SubElement(element, "entry")
            _encode(entry, "key", key_shape, key)
            _encode(entry, "value", value_shape, item)
    else:
        element.text = _scalar_text(shape, value)


def _encode_members(element: ElementTree.Element, shape: Shape, value: Mapping[str, Any]) -> None:
    """Members in model order; None is absent; a name the model lacks is a Trent bug."""
    members = shape.members()
    unknown = set(value) - set(members)
    if unknown:
        raise TypeError(f"{shape.name} has no member(s) {sorted(unknown)}")
    for name, member in members.items():
        item = value.get(name)
        if item is not None:
            _encode(element, name, member, item)


def _serialize(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="unicode").encode("utf-8")


# ----------------------------------------------------------------- operations


@dataclass(frozen=True, slots=True)
class QueryOperation:
    """One operation of a query-protocol service: decode the form, encode the XML response."""

    service: str
    name: str
    namespace: str
    input_shape: Shape | None
    output_shape: Shape | None
    codec: OperationCodec
    handler: Handler | None  # None: in the model, not served by Trent yet

    def decode(self, fields: Mapping[str, str]) -> dict[str, Any]:
        """Validated request members (Action and Version already removed)."""
        if self.input_shape is None:
            return {}
        value = _unflatten(self.input_shape, fields, _prefixes(fields), "")
        return self.validate(value)

    def validate(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """Model constraints, by the JSON codec: ValidationException with AWS's wording."""
        return self.codec.decode(orjson.dumps(value))

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> bytes:
        root = ElementTree.Element(f"{self.name}Response", {"xmlns": self.namespace})
        if self.output_shape is not None:
            wrapper = ElementTree.SubElement(root, f"{self.name}Result")
            _encode_members(wrapper, self.output_shape, result or {})
        elif result:
            raise TypeError(f"{self.name} has no output members, got {sorted(result)}")
        metadata = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(metadata, "RequestId").text = _text(request_id)
        return _serialize(root)


class _Service:
    def __init__(self, service: str, handlers: Mapping[str, Handler]) -> None:
        codec = ServiceCodec(service)
        model = codec.model
        self.name = service
        self.api_version = model.api_version
        self.namespace = namespace(service, model.api_version)
        self.operations: dict[str, QueryOperation] = {}
        for name in model.operation_names:
            operation_codec = codec.operation(name)
            if operation_codec is None:  # pragma: no cover - the codec compiles every operation
                continue
            self.operations[name] = QueryOperation(
                service,
                name,
                self.namespace,
                model.input_shape(name),
                model.output_shape(name),
                operation_codec,
                handlers.get(name),
            )

    def operation(self, action: str, version: str | None) -> QueryOperation:
        operation = self.operations.get(action)
        if operation is None or (version is not None and version != self.api_version):
            raise InvalidAction.unknown(action, version or self.api_version)
        return operation


def wire_error(error: TrentError, service: str) -> tuple[str, int, str]:
    """(code, HTTP status, message) of an error as the query protocol sends it."""
    code, message = error.code, error.message
    translated = _TRANSLATED.get(code)
    if translated is not None:
        return translated[0], translated[1], message
    status = _STATUS.get(code)
    if status is not None:
        return code, status, message
    # KMSInternalException, StorageError and anything unmapped: a server fault, no details.
    if code != "KMSInternalException":
        log.warning("%s has no query-protocol mapping; answering with an internal error", code)
    return _INTERNAL_CODE.get(service, "InternalFailure"), 500, _INTERNAL_MESSAGE


def _render(error: TrentError, request_id: str, service: str, xmlns: str) -> tuple[int, bytes]:
    code, status, message = wire_error(error, service)
    root = ElementTree.Element("ErrorResponse", {"xmlns": xmlns})
    body = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(body, "Type").text = "Receiver" if status >= 500 else "Sender"
    ElementTree.SubElement(body, "Code").text = code
    ElementTree.SubElement(body, "Message").text = _text(message)
    ElementTree.SubElement(root, "RequestId").text = _text(request_id)
    return status, _serialize(root)


class QueryHandler:
    """Implements ``trent.api.app.QueryProtocolHandler`` for STS and IAM."""

    services = frozenset({"sts", "iam"})

    def __init__(self, iam: IamService) -> None:
        self._iam = iam
        self._services = {"sts": _Service("sts", STS_HANDLERS), "iam": _Service("iam", IAM_HANDLERS)}

    @property
    def actions(self) -> frozenset[str]:
        """Every action Trent serves for STS and IAM (the metrics' operation labels)."""
        return frozenset(STS_HANDLERS) | frozenset(IAM_HANDLERS)

    def operation(self, service: str, action: str, version: str | None = None) -> QueryOperation:
        """InvalidAction when the service's model has no such operation (or another version)."""
        return self._services[service].operation(action, version)

    def handle(self, service: str, request: RequestContext, body: bytes, request_id: str) -> tuple[int, bytes]:
        _CURRENT.set((request_id, service))
        fields = decode_form(body)
        action = fields.pop("Action", "")
        version = fields.pop("Version", None)
        if not action:
            raise MissingAction.missing()
        operation = self.operation(service, action, version)
        params = operation.decode(fields)
        result = self._dispatch(operation, request.caller, params)
        if service == "iam":
            request.response_elements = iam_response_elements(action, result)
        return 200, operation.encode(result, request_id)

    def invoke(self, service: str, caller: Caller, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and run one operation from Python values (the admin CLI); the result unencoded."""
        operation = self.operation(service, action)
        return self._dispatch(operation, caller, operation.validate(params)) or {}

    def _dispatch(self, operation: QueryOperation, caller: Caller, params: dict[str, Any]) -> dict[str, Any] | None:
        if operation.handler is None:
            raise InvalidAction.not_yet(operation.name)
        return operation.handler(self._iam, caller, params)

    def render_error(self, error: TrentError, request_id: str) -> tuple[int, bytes]:
        current = _CURRENT.get(None)
        # Before a handler ran (SigV4, body size) the service is not known here: STS's namespace.
        service = current[1] if current is not None and current[0] == request_id else "sts"
        return _render(error, request_id, service, self._services[service].namespace)


__all__ = ["QueryHandler", "QueryOperation", "decode_form", "namespace", "wire_error"]


# Query-protocol members that may carry secrets are never recorded.
_SECRET_WORDS = ("Password", "Secret", "Token", "SAMLAssertion")
_READ_ONLY_PREFIXES = ("Get", "List", "Simulate")


def is_read_only_action(action: str) -> bool:
    """CloudTrail's readOnly for a query-protocol action (STS, IAM)."""
    return action.startswith(_READ_ONLY_PREFIXES)


def iam_response_elements(action: str, result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """CloudTrail's responseElements of an IAM call: what a change answered (CreateUser's user,
    CreateAccessKey's accessKey), lowerCamel, dates as CloudTrail writes them, never a secret.
    Reads record none, as in AWS."""
    if not result or is_read_only_action(action):
        return None
    shaped = _shape_response(result)
    return shaped if isinstance(shaped, dict) and shaped else None


def _shape_response(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            name[:1].lower() + name[1:]: _shape_response(member)
            for name, member in value.items()
            if member is not None and not any(word in name for word in _SECRET_WORDS)
        }
    if isinstance(value, list | tuple):
        return [_shape_response(member) for member in value]
    if isinstance(value, datetime):
        return cloudtrail_date(value)
    return value


def record_parameters(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """A query-protocol request's requestParameters: lowerCamel names, nothing that may be a secret."""
    shaped = {
        name[:1].lower() + name[1:]: value
        for name, value in fields.items()
        if name not in ("Action", "Version") and not any(word in name for word in _SECRET_WORDS)
    }
    return shaped or None
