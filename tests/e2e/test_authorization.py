"""Who may use and manage each key: key policies, IAM policies and grants, through a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.e2e.test_iam_sts import admin, new_user, session_credentials, trent_iam, trust

pytestmark = pytest.mark.e2e

OTHER_ACCOUNT = "777788889999"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("authz") / "data", dev=False).start()
    yield srv
    srv.stop()


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect: str, principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, "Resource": "*"}
    body.update(extra)
    return body


def identity(effect: str, action: Any, **extra: Any) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*", **extra}]}
    )


def denied(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException", info.value.response
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(info.value.response["Error"]["Message"])


def user_with(server: TrentServer, name: str, *policies: str) -> tuple[str, Any]:
    user, creds = new_user(server, name)
    iam = server.client("iam", **admin(server))
    for i, document in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=document)
    return user["Arn"], server.client("kms", **creds)


def test_default_policy_delegates_to_iam(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    arn, plain = user_with(secure, "no-policy")
    message = denied(plain.encrypt, KeyId=key_id, Plaintext=b"x")
    assert message == (
        f"User: {arn} is not authorized to perform: kms:Encrypt on resource: "
        f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{key_id} "
        "because no identity-based policy allows the kms:Encrypt action"
    )
    _, encrypter = user_with(secure, "encrypter", identity("Allow", "kms:Encrypt"))
    blob = encrypter.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    denied(encrypter.decrypt, CiphertextBlob=blob)
    assert kms_admin.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_key_policy_naming_a_user_needs_no_iam_policy(secure: TrentServer) -> None:
    arn, user_kms = user_with(secure, "named")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(
        Policy=policy(
            stmt("Allow", {"AWS": ROOT}, "kms:*"), stmt("Allow", {"AWS": arn}, ["kms:Encrypt", "kms:Decrypt"])
        )
    )["KeyMetadata"]["KeyId"]
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"y")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"
    denied(user_kms.schedule_key_deletion, KeyId=key_id)
    other_key = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    denied(user_kms.encrypt, KeyId=other_key, Plaintext=b"y")


def test_explicit_deny_wins(secure: TrentServer) -> None:
    _, user_kms = user_with(secure, "denied-user", identity("Allow", "kms:*"), identity("Deny", "kms:Decrypt"))
    key_id = secure.client("kms", **admin(secure)).create_key()["KeyMetadata"]["KeyId"]
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"z")["CiphertextBlob"]
    message = denied(user_kms.decrypt, CiphertextBlob=blob)
    assert message.endswith("with an explicit deny in an identity-based policy")
    kms_admin = secure.client("kms", **admin(secure))
    deny_key = kms_admin.create_key(
        Policy=policy(stmt("Allow", {"AWS": ROOT}, "kms:*"), stmt("Deny", "*", "kms:Decrypt"))
    )["KeyMetadata"]["KeyId"]
    blob = kms_admin.encrypt(KeyId=deny_key, Plaintext=b"q")["CiphertextBlob"]
    message = denied(kms_admin.decrypt, CiphertextBlob=blob)
    assert message.endswith("with an explicit deny in a resource-based policy")


def test_encryption_context_condition(secure: TrentServer) -> None:
    arn, user_kms = user_with(secure, "ec-user")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(
        Policy=policy(
            stmt("Allow", {"AWS": ROOT}, "kms:*"),
            stmt(
                "Allow",
                {"AWS": arn},
                ["kms:Encrypt", "kms:Decrypt"],
                Condition={"StringEquals": {"kms:EncryptionContext:app": "shop"}},
            ),
        )
    )["KeyMetadata"]["KeyId"]
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"app": "shop"})["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "shop"})["Plaintext"] == b"p"
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"p", EncryptionContext={"app": "blog"})
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"p")


def test_decrypt_is_authorized_against_the_key_in_the_ciphertext(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    mine = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    secret_key = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    blob = kms_admin.encrypt(KeyId=secret_key, Plaintext=b"s")["CiphertextBlob"]
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{mine}"
    _, user_kms = user_with(
        secure, "one-key", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]})
    )  # fmt: skip
    message = denied(user_kms.decrypt, CiphertextBlob=blob)
    assert secret_key in message


def test_lockout_safety_check(secure: TrentServer) -> None:
    arn, _ = user_with(secure, "only-admin-of-nothing")
    kms_admin = secure.client("kms", **admin(secure))
    lockout = policy(stmt("Allow", {"AWS": arn}, "kms:*"))
    with pytest.raises(ClientError) as info:
        kms_admin.create_key(Policy=lockout)
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert info.value.response["Error"]["Message"] == (
        "The new key policy will not allow you to update the key policy in the future."
    )
    key_id = kms_admin.create_key(Policy=lockout, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    denied(kms_admin.get_key_policy, KeyId=key_id, PolicyName="default")
    other = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as info:
        kms_admin.put_key_policy(KeyId=other, PolicyName="default", Policy=lockout)
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"Version": "2012-10-17"}),
        policy({"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}),
        policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
        policy(stmt("Allow", {"AWS": ROOT}, "kms:*", Condition={"StringEqualsMaybe": {"kms:CallerAccount": "1"}})),
        policy(stmt("Allow", {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-by-this-name"}, "kms:*")),
    ],
)
def test_malformed_policies(secure: TrentServer, document: str) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    with pytest.raises(ClientError) as info:
        kms_admin.create_key(Policy=document, BypassPolicyLockoutSafetyCheck=True)
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"


def test_key_policy_round_trip(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    document = policy(stmt("Allow", {"AWS": ROOT}, "kms:*"))
    kms_admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=document)
    assert kms_admin.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == document


def test_cross_account_use_needs_key_policy_and_identity_policy(secure: TrentServer) -> None:
    made = trent_iam(secure.data_dir, "create-account", "--account-id", OTHER_ACCOUNT)
    other_root = {"access_key": made["AccessKey"]["AccessKeyId"], "secret_key": made["AccessKey"]["SecretAccessKey"]}
    kms_admin = secure.client("kms", **admin(secure))
    other_root_arn = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
    shared = kms_admin.create_key(
        Policy=policy(
            stmt("Allow", {"AWS": ROOT}, "kms:*"),
            stmt("Allow", {"AWS": other_root_arn}, ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]),
        )
    )["KeyMetadata"]["Arn"]
    private = kms_admin.create_key()["KeyMetadata"]["Arn"]
    other_kms = secure.client("kms", **other_root)
    blob = other_kms.encrypt(KeyId=shared, Plaintext=b"cross")["CiphertextBlob"]
    assert other_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"cross"
    denied(other_kms.encrypt, KeyId=private, Plaintext=b"cross")
    # A bare key id always means the caller's own account.
    with pytest.raises(ClientError) as info:
        other_kms.encrypt(KeyId=shared.split("/")[-1], Plaintext=b"x")
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    # Account B's users also need B's identity policies.
    b_iam = secure.client("iam", **other_root)
    b_iam.create_user(UserName="b-user")
    key = b_iam.create_access_key(UserName="b-user")["AccessKey"]
    b_user = secure.client("kms", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    denied(b_user.encrypt, KeyId=shared, Plaintext=b"x")
    b_iam.put_user_policy(UserName="b-user", PolicyName="use", PolicyDocument=identity("Allow", "kms:Encrypt"))
    assert b_user.encrypt(KeyId=shared, Plaintext=b"x")["KeyId"] == shared


def test_grants_allow_the_grantee_within_their_constraints(secure: TrentServer) -> None:
    arn, user_kms = user_with(secure, "grantee")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"g", EncryptionContext={"app": "shop"})
    created = kms_admin.create_grant(
        KeyId=key_id,
        GranteePrincipal=arn,
        Operations=["Encrypt", "Decrypt", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"app": "shop"}},
        Name="shop-grant",
    )
    assert len(created["GrantId"]) == 64
    blob = user_kms.encrypt(
        KeyId=key_id, Plaintext=b"g", EncryptionContext={"app": "shop", "x": "1"}, GrantTokens=[created["GrantToken"]]
    )["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "shop", "x": "1"})["Plaintext"] == b"g"
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"g", EncryptionContext={"app": "blog"})
    denied(user_kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", EncryptionContext={"app": "shop"})
    # Same name and parameters: the same grant, a new token.
    again = kms_admin.create_grant(
        KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt", "Decrypt", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"app": "shop"}}, Name="shop-grant",
    )  # fmt: skip
    assert again["GrantId"] == created["GrantId"]
    assert again["GrantToken"] != created["GrantToken"]
    grants = kms_admin.list_grants(KeyId=key_id)["Grants"]
    assert len(grants) == 1
    entry = grants[0]
    assert entry["GranteePrincipal"] == arn
    assert entry["IssuingAccount"] == ROOT
    assert entry["Constraints"] == {"EncryptionContextSubset": {"app": "shop"}}
    assert entry["KeyId"].endswith(key_id)
    # The grantee retires it (the grant includes RetireGrant); access ends at once.
    user_kms.retire_grant(GrantToken=created["GrantToken"])
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"g", EncryptionContext={"app": "shop"})
    assert kms_admin.list_grants(KeyId=key_id)["Grants"] == []


def test_revoke_grant_and_errors(secure: TrentServer) -> None:
    arn, user_kms = user_with(secure, "revoked")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    grant_id = kms_admin.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["DescribeKey"])["GrantId"]
    assert user_kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    denied(user_kms.revoke_grant, KeyId=key_id, GrantId=grant_id)
    kms_admin.revoke_grant(KeyId=key_id, GrantId=grant_id)
    denied(user_kms.describe_key, KeyId=key_id)
    with pytest.raises(ClientError) as info:
        kms_admin.revoke_grant(KeyId=key_id, GrantId="f" * 64)
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as info:
        kms_admin.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=["not-a-token"])
    assert info.value.response["Error"]["Code"] == "InvalidGrantTokenException"
    with pytest.raises(ClientError) as info:
        kms_admin.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Sign"])
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_list_retirable_grants(secure: TrentServer) -> None:
    arn, _ = user_with(secure, "retirer")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    grant_id = kms_admin.create_grant(
        KeyId=key_id, GranteePrincipal=ROOT, RetiringPrincipal=arn, Operations=["Encrypt"]
    )["GrantId"]
    grants = kms_admin.list_retirable_grants(RetiringPrincipal=arn)["Grants"]
    assert [g["GrantId"] for g in grants] == [grant_id]


def test_aws_cli_create_grant(secure: TrentServer) -> None:
    arn, _ = user_with(secure, "cli-grantee")
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    creds = admin(secure)
    env = {"AWS_ACCESS_KEY_ID": creds["access_key"], "AWS_SECRET_ACCESS_KEY": creds["secret_key"]}
    out = secure.aws(
        "kms", "create-grant", "--key-id", key_id, "--grantee-principal", arn, "--operations", "Encrypt", env=env
    )
    assert len(out["GrantId"]) == 64
    listed = secure.aws("kms", "list-grants", "--key-id", key_id, env=env)
    assert listed["Grants"][0]["GrantId"] == out["GrantId"]


def test_session_with_role_policy(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    user, creds = new_user(secure, "role-taker")
    user_arn = user["Arn"]
    role = iam.create_role(RoleName="encryptor", AssumeRolePolicyDocument=trust(user_arn))["Role"]
    iam.put_role_policy(RoleName="encryptor", PolicyName="p", PolicyDocument=identity("Allow", "kms:Encrypt"))
    session = secure.client("sts", **creds).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    session_kms = secure.client("kms", **session_credentials(session))
    key_id = secure.client("kms", **admin(secure)).create_key()["KeyMetadata"]["KeyId"]
    session_kms.encrypt(KeyId=key_id, Plaintext=b"r")
    message = denied(session_kms.schedule_key_deletion, KeyId=key_id)
    assert f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/encryptor/s1" in message


def test_identity_policies_are_validated_by_the_engine_when_stored(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    iam.create_user(UserName="validated")
    bad = identity("Deny", "kms:Decrypt", Condition={"StringEqualsMaybe": {"aws:username": "x"}})
    with pytest.raises(ClientError) as info:
        iam.put_user_policy(UserName="validated", PolicyName="p", PolicyDocument=bad)
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_lockout_check_counts_statements_scoped_to_the_key(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key = kms_admin.create_key()["KeyMetadata"]
    scoped = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": key["Arn"]},
            ],
        }
    )
    kms_admin.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=scoped)
    assert kms_admin.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == scoped


def test_keyless_actions_are_authorized_by_identity_policies(secure: TrentServer) -> None:
    _, nobody = user_with(secure, "keyless-nobody")
    message = denied(nobody.list_keys)
    assert message.endswith("because no identity-based policy allows the kms:ListKeys action")
    denied(nobody.create_key)
    denied(nobody.generate_random, NumberOfBytes=8)
    _, creator = user_with(
        secure, "key-creator", identity("Allow", ["kms:CreateKey", "kms:ListKeys", "kms:DescribeKey"])
    )
    key = creator.create_key()["KeyMetadata"]
    assert key["KeyId"] in [
        k["KeyId"] for k in creator.get_paginator("list_keys").paginate().build_full_result()["Keys"]
    ]
    # The new key has the default policy: the account delegates to IAM, which allows DescribeKey only.
    assert creator.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    denied(creator.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
