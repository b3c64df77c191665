"""Behaviours found in review against the AWS spec: key spec/usage pairs, DryRun without ciphertext, grant limits."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID
from tests.e2e.helpers import aws_error, new_key

pytestmark = pytest.mark.e2e

DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "KEY_AGREEMENT"), ("HMAC_256", "ENCRYPT_DECRYPT"), ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
     ("ECC_NIST_EDWARDS25519", "ENCRYPT_DECRYPT"), ("SYMMETRIC_DEFAULT", "SIGN_VERIFY")],
)  # fmt: skip
def test_incompatible_spec_and_usage(kms: Any, spec: str, usage: str) -> None:
    with aws_error(kms, "ValidationException", f"KeyUsage {usage} is not compatible with KeySpec {spec}"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


def test_decrypt_dry_run_ignoring_ciphertext(kms: Any) -> None:
    key = new_key(kms)
    with aws_error(kms, "DryRunOperationException", DRY_RUN_MESSAGE):
        kms.decrypt(KeyId=key["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    with aws_error(kms, "ValidationException"):
        kms.decrypt(DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    kms.disable_key(KeyId=key["KeyId"])
    with aws_error(kms, "DisabledException", f"{key['Arn']} is disabled."):
        kms.decrypt(KeyId=key["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])


def test_re_encrypt_dry_run_ignoring_ciphertext(kms: Any) -> None:
    source, destination = new_key(kms), new_key(kms)
    with aws_error(kms, "DryRunOperationException", DRY_RUN_MESSAGE):
        kms.re_encrypt(
            SourceKeyId=source["KeyId"],
            DestinationKeyId=destination["KeyId"],
            DryRun=True,
            DryRunModifiers=["IGNORE_CIPHERTEXT"],
        )
    with aws_error(kms, "ValidationException"):
        kms.re_encrypt(DestinationKeyId=destination["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])


def test_grant_constraint_limits(kms: Any) -> None:
    key = new_key(kms)
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:root"
    nine = {f"k{i}": "v" for i in range(9)}
    with aws_error(kms, "ValidationException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Encrypt"],
                         Constraints={"EncryptionContextEquals": nine})  # fmt: skip
    with aws_error(kms, "ValidationException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Encrypt"],
                         Constraints={"EncryptionContextSubset": {"k": "v" * 385}})  # fmt: skip
    eight = {f"k{i}": "v" * 384 for i in range(8)}
    created = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee,
        Operations=["Encrypt"],
        Constraints={"EncryptionContextEquals": eight},
    )
    assert len(created["GrantId"]) == 64


@pytest.mark.parametrize(
    "principal",
    [f"arn:aws:iam::{ACCOUNT_ID}:federated-user/bob", f"arn:aws:sts::{ACCOUNT_ID}:federated-user/bob"],
)
def test_federated_users_can_be_grantees(kms: Any, principal: str) -> None:
    key = new_key(kms)
    grant_id = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=principal, Operations=["Decrypt"])["GrantId"]
    grants = kms.list_grants(KeyId=key["KeyId"], GrantId=grant_id)["Grants"]
    assert grants[0]["GranteePrincipal"] == principal


def test_unsupported_grant_operation_message(kms: Any) -> None:
    key = new_key(kms)
    with aws_error(kms, "ValidationException") as caught:
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:root", Operations=["Sign"])
    assert "[Sign]" in caught.message
