"""Grants in the domain: tokens and encryption-context constraints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trent.domain.errors import InvalidGrantTokenException
from trent.domain.grants import Grant, grant_id_from_token, make_grant_token

GRANT_ID = "ab" * 32


def _grant(equals: dict[str, str] | None = None, subset: dict[str, str] | None = None) -> Grant:
    return Grant(
        grant_id=GRANT_ID,
        key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
        region="us-east-1",
        key_account_id="111122223333",
        name=None,
        grantee_principal="arn:aws:iam::111122223333:user/alice",
        retiring_principal=None,
        operations=("Encrypt", "Decrypt", "DescribeKey"),
        encryption_context_equals=equals,
        encryption_context_subset=subset,
        creation_date=datetime.now(UTC),
        issuing_account="arn:aws:iam::111122223333:root",
    )


def test_tokens_name_their_grant_and_differ_per_call() -> None:
    a = make_grant_token(GRANT_ID, bytes(16), b"\x01" * 16)
    b = make_grant_token(GRANT_ID, bytes(16), b"\x02" * 16)
    assert a != b
    assert grant_id_from_token(a) == grant_id_from_token(b) == GRANT_ID


@pytest.mark.parametrize(
    "token", ["", "not-base64!!", "AAAA", "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(InvalidGrantTokenException):
        grant_id_from_token(token)


def test_equals_constraint_is_exact_with_case_insensitive_keys() -> None:
    grant = _grant(equals={"Dept": "IT"})
    assert grant.allows_context("Encrypt", {"dept": "IT"})
    assert not grant.allows_context("Encrypt", {"Dept": "it"})
    assert not grant.allows_context("Encrypt", {"Dept": "IT", "extra": "x"})
    assert not grant.allows_context("Encrypt", None)


def test_subset_constraint_allows_extra_pairs() -> None:
    grant = _grant(subset={"Dept": "IT"})
    assert grant.allows_context("Decrypt", {"DEPT": "IT", "extra": "x"})
    assert not grant.allows_context("Decrypt", {"extra": "x"})


def test_constraints_do_not_apply_to_operations_without_context() -> None:
    assert _grant(equals={"Dept": "IT"}).allows_context("DescribeKey", None)


def test_same_request_ignores_order_but_not_parameters() -> None:
    a = _grant(equals={"a": "1"})
    assert a.same_request(_grant(equals={"a": "1"}))
    assert not a.same_request(_grant(subset={"a": "1"}))
