"""AWS's console key policy for picked key administrators and users, by key usage."""

from __future__ import annotations

import json

from trent.domain.policy import compile_cached
from trent.domain.policy.defaults import console_key_policy

ADMIN = "arn:aws:iam::111122223333:user/admin"
USER = "arn:aws:iam::111122223333:role/app"


def _statements(**kwargs: object) -> dict[str, dict[str, object]]:
    text = console_key_policy("111122223333", "us-east-1", administrators=[ADMIN], users=[USER], **kwargs)  # type: ignore[arg-type]
    return {s["Sid"]: s for s in json.loads(text)["Statement"]}


def test_symmetric_users_encrypt_and_attach_through_grants() -> None:
    statements = _statements(key_spec="SYMMETRIC_DEFAULT", key_usage="ENCRYPT_DECRYPT")
    assert statements["Allow use of the key"]["Action"] == [
        "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
    ]  # fmt: skip
    grants = statements["Allow attachment of persistent resources"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert statements["Allow access for Key Administrators"]["Principal"] == {"AWS": [ADMIN]}
    assert "kms:Encrypt" not in statements["Allow access for Key Administrators"]["Action"]  # type: ignore[operator]


def test_each_usage_gets_its_own_operations_and_hmac_no_grant_statement() -> None:
    signing = _statements(key_spec="ECC_NIST_P256", key_usage="SIGN_VERIFY")["Allow use of the key"]
    assert signing["Action"] == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]
    agreement = _statements(key_spec="ECC_NIST_P384", key_usage="KEY_AGREEMENT")["Allow use of the key"]
    assert agreement["Action"] == ["kms:DescribeKey", "kms:GetPublicKey", "kms:DeriveSharedSecret"]
    rsa = _statements(key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT")["Allow use of the key"]
    assert "kms:GetPublicKey" in rsa["Action"]  # type: ignore[operator]
    assert "kms:GenerateDataKey*" not in rsa["Action"]  # type: ignore[operator]
    hmac = _statements(key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC")
    assert hmac["Allow use of the key"]["Action"] == ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]
    assert "Allow attachment of persistent resources" not in hmac


def test_the_policy_parses_and_without_people_is_the_account_statement_alone() -> None:
    text = console_key_policy(
        "111122223333",
        "us-east-1",
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        administrators=[],
        users=[],
    )
    compile_cached(text, "key")  # MalformedPolicyDocumentException if it were not a key policy
    assert [s["Sid"] for s in json.loads(text)["Statement"]] == ["Enable IAM User Permissions"]


def test_a_console_policy_is_read_back_as_its_people_and_anything_else_is_not() -> None:
    from trent.domain.policy.defaults import console_policy_people, default_key_policy

    kwargs = {"key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT"}
    text = console_key_policy("111122223333", "us-east-1", administrators=[ADMIN], users=[USER, ADMIN], **kwargs)
    assert console_policy_people(text, "111122223333", "us-east-1", **kwargs) == ([ADMIN], [USER, ADMIN])
    # The API's default policy: nobody picked yet.
    assert console_policy_people(
        default_key_policy("111122223333", "us-east-1"), "111122223333", "us-east-1", **kwargs
    ) == ([], [])
    # One action more, a condition, another statement, not JSON: only the JSON can say it.
    document = json.loads(text)
    document["Statement"][2]["Action"].append("kms:Sign")
    assert console_policy_people(json.dumps(document), "111122223333", "us-east-1", **kwargs) is None
    document = json.loads(text)
    document["Statement"].append(
        {"Sid": "extra", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
    )
    assert console_policy_people(json.dumps(document), "111122223333", "us-east-1", **kwargs) is None
    assert console_policy_people("{", "111122223333", "us-east-1", **kwargs) is None
