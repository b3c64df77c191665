"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import time
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


def rotate_on_demand(kms: Any, key_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """RotateKeyOnDemand, then wait until the rotation it starts is done (AWS rotates asynchronously)."""
    response = dict(kms.rotate_key_on_demand(KeyId=key_id))
    wait_on_demand_rotation(kms, key_id, timeout)
    return response


def wait_on_demand_rotation(kms: Any, key_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while "OnDemandRotationStartDate" in kms.get_key_rotation_status(KeyId=key_id):
        assert time.monotonic() < deadline, f"on-demand rotation of {key_id} did not finish in {timeout} s"
        time.sleep(0.05)
