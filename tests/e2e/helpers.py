"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError


class Caught:
    message: str = ""


@contextmanager
def aws_error(client: Any, code: str, message: str | None = None) -> Iterator[Caught]:
    """Expect ``code`` as boto3's modeled exception class when there is one, else a ClientError."""
    caught = Caught()
    error_class = getattr(client.exceptions, code, ClientError)
    with pytest.raises(error_class) as info:
        yield caught
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] == code, response["Error"]
    if message is not None:
        assert response["Error"]["Message"] == message, response["Error"]
    caught.message = response["Error"]["Message"]


def body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def new_key(kms: Any, **kwargs: Any) -> dict[str, Any]:
    return dict(kms.create_key(**kwargs)["KeyMetadata"])
