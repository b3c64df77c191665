"""The API's operations for a caller inside the process (the web console).

A console action is an API request in all but its wire format: its members are checked against
botocore's model by the same codec, recorded in CloudTrail's requestParameters by the same shaper,
and, for ``run``, handled by the same handler whose result is shaped into responseElements. So a
description too long or a tag key too wide is refused with the API's ValidationException, and the
audit record of a console CreateKey is the record of an SDK's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from trent.api.audit_records import RecordShaper, is_read_only
from trent.api.codec import ServiceCodec
from trent.api.handlers.cloudtrail import CloudTrailApi
from trent.api.handlers.kms import HANDLERS as KMS_HANDLERS
from trent.api.query import QueryHandler, iam_response_elements, is_read_only_action, record_parameters
from trent.domain.errors import UnsupportedOperationException, ValidationException
from trent.domain.iam_errors import ValidationError
from trent.services.kms import Kms
from trent.services.request import RequestContext

KMS = "kms.amazonaws.com"
IAM = "iam.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
_T = TypeVar("_T")


class InProcessApi:
    """Implements ``trent.console.core.ApiOperations`` for KMS, IAM and CloudTrail."""

    def __init__(self, kms: Kms, query: QueryHandler, cloudtrail: CloudTrailApi) -> None:
        self._kms = kms
        self._kms_codec = ServiceCodec("kms")
        self._kms_shaper = RecordShaper(self._kms_codec.model)
        self._query = query
        self._cloudtrail = cloudtrail

    @staticmethod
    def read_only(source: str, operation: str) -> bool:
        """CloudTrail's readOnly for the operation, as the API decides it."""
        if source == IAM:
            return is_read_only_action(operation)
        return source == CLOUDTRAIL or is_read_only(operation)

    def prepare(self, request: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``params`` (as an SDK sends them: the model's member names, blobs in base64) for the
        request's operation, record them on the request; the decoded members (blobs as bytes)."""
        operation, source = request.operation, request.event_source
        if source == KMS:
            codec = self._kms_codec.operation(operation)
            if codec is None:  # pragma: no cover - the console names operations of the model
                raise UnsupportedOperationException(f"{operation} is not a KMS operation.")
            decoded = codec.decode(_body(params))
            request.request_parameters = self._kms_shaper.request_parameters(operation, decoded)
            return decoded
        if source == IAM:
            request.request_parameters = record_parameters(params)
            return _in_iam_words(lambda: self._query.operation("iam", operation).validate(params))
        if source == CLOUDTRAIL:
            decoded = self._cloudtrail.decode(operation, _body(params))
            request.request_parameters = self._cloudtrail.shaper.request_parameters(operation, decoded)
            return decoded
        raise UnsupportedOperationException(f"{source} has no operations here.")  # pragma: no cover

    def run(self, request: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """``prepare``, then the API's handler; its result unencoded (blobs as bytes, times as datetimes)."""
        operation, source = request.operation, request.event_source
        if source == IAM:
            # QueryHandler.invoke checks the members itself: they are recorded, not checked twice.
            request.request_parameters = record_parameters(params)
            answer = _in_iam_words(lambda: self._query.invoke("iam", request.caller, operation, params))
            request.response_elements = iam_response_elements(operation, answer)
            return answer
        decoded = self.prepare(request, params)
        if source == KMS:
            result = KMS_HANDLERS[operation](self._kms, request, decoded)
            if request.response_elements is None:
                request.response_elements = self._kms_shaper.response_elements(operation, result)
            return dict(result or {})
        return self._cloudtrail.handle(operation, request.caller, decoded) or {}


def _body(params: Mapping[str, Any]) -> bytes:
    """``params`` as the JSON an SDK would send."""
    try:
        return orjson.dumps(params)
    except TypeError:
        # An integer beyond 64 bits (a form's "99999999999999999999"): orjson cannot write it; the
        # standard library can, and the codec then answers it as the API answers such a body.
        return json.dumps(params).encode()


def _in_iam_words(run: Callable[[], _T]) -> _T:
    """The model's refusal with IAM's own error code (ValidationError), as the query API sends it."""
    try:
        return run()
    except ValidationException as error:
        raise ValidationError(error.message) from None
