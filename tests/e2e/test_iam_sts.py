"""IAM and STS through a real `trent serve` (not --dev): boto3, the AWS CLI and `trent iam`."""

from __future__ import annotations

import configparser
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BIN, REGION, TrentServer

pytestmark = pytest.mark.e2e

OTHER_ACCOUNT = "444455556666"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("iam") / "data", dev=False).start()
    yield srv
    srv.stop()


def admin(server: TrentServer) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    return {
        "access_key": parser["trent"]["aws_access_key_id"],
        "secret_key": parser["trent"]["aws_secret_access_key"],
    }


def code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def status_of(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def trent_iam(data_dir: Path, *args: str, check: bool = True) -> Any:
    """Run `trent iam ...` against a data directory; the printed JSON, parsed."""
    result = subprocess.run(
        [str(BIN / "trent"), "iam", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}],
        }
    )


def allow(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def new_user(server: TrentServer, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A user with an access key, made by the admin; the user and its credentials."""
    iam = server.client("iam", **admin(server))
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


def session_credentials(credentials: dict[str, Any]) -> dict[str, str]:
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }


# ===================================================================== users and keys


def test_user_access_key_and_caller_identity(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    assert secure.client("sts", **admin(secure)).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    user = iam.create_user(UserName="alice", Path="/eng/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/eng/alice"
    assert user["UserId"].startswith("AIDA")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    assert key["Status"] == "Active"
    listed = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]
    assert "alice" in [u["UserName"] for u in iam.list_users()["Users"]]
    assert iam.get_user(UserName="alice")["User"]["UserId"] == user["UserId"]

    sts = secure.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    identity = sts.get_caller_identity()
    assert (identity["Arn"], identity["Account"], identity["UserId"]) == (user["Arn"], ACCOUNT_ID, user["UserId"])

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName="alice")
    iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert (code_of(info.value), status_of(info.value)) == ("InvalidClientTokenId", 403)
    iam.delete_user(UserName="alice")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="alice")


def test_an_inactive_access_key_authenticates_nothing_until_made_active_again(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    iam.create_user(UserName="paused")
    key = iam.create_access_key(UserName="paused")["AccessKey"]
    sts = secure.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    kms = secure.client("kms", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(":user/paused")
    iam.update_access_key(UserName="paused", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert [k["Status"] for k in iam.list_access_keys(UserName="paused")["AccessKeyMetadata"]] == ["Inactive"]
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert (code_of(info.value), status_of(info.value)) == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError) as info:
        kms.list_keys()
    assert code_of(info.value) == "UnrecognizedClientException"
    iam.update_access_key(UserName="paused", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(":user/paused")
    with pytest.raises(ClientError) as info:
        iam.update_access_key(UserName="paused", AccessKeyId=key["AccessKeyId"], Status="Paused")
    assert (code_of(info.value), status_of(info.value)) == ("ValidationError", 400)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.update_access_key(UserName="paused", AccessKeyId="AKIAIOSFODNN7EXAMPLE", Status="Inactive")
    iam.delete_access_key(UserName="paused", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="paused")


def test_iam_errors_are_the_modeled_ones(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    iam.create_user(UserName="errors-user")
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="ERRORS-USER")
    iam.create_access_key(UserName="errors-user")
    iam.create_access_key(UserName="errors-user")
    with pytest.raises(iam.exceptions.LimitExceededException) as limit:
        iam.create_access_key(UserName="errors-user")
    assert status_of(limit.value) == 409
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_user_policy(UserName="errors-user", PolicyName="p", PolicyDocument="{not json")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as missing:
        iam.get_user_policy(UserName="errors-user", PolicyName="nope")
    assert missing.value.response["Error"]["Message"] == "The user policy with name nope cannot be found."
    with pytest.raises(ClientError) as invalid:
        iam.create_user(UserName="has space")
    assert (code_of(invalid.value), status_of(invalid.value)) == ("ValidationError", 400)
    assert invalid.value.response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'has space' at 'userName' failed to satisfy constraint"
    )


def test_inline_policies_round_trip(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    iam.create_user(UserName="policy-user")
    document = allow("kms:Encrypt")
    iam.put_user_policy(UserName="policy-user", PolicyName="enc", PolicyDocument=document)
    got = iam.get_user_policy(UserName="policy-user", PolicyName="enc")
    assert got["PolicyDocument"] == json.loads(document)  # botocore URL-decodes and parses it
    assert iam.list_user_policies(UserName="policy-user")["PolicyNames"] == ["enc"]
    iam.delete_user_policy(UserName="policy-user", PolicyName="enc")
    assert iam.list_user_policies(UserName="policy-user")["PolicyNames"] == []

    iam.create_role(RoleName="policy-role", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    iam.put_role_policy(RoleName="policy-role", PolicyName="all", PolicyDocument=allow("kms:*"))
    assert iam.get_role_policy(RoleName="policy-role", PolicyName="all")["PolicyDocument"]["Statement"][0][
        "Action"
    ] == ("kms:*")
    assert iam.list_role_policies(RoleName="policy-role")["PolicyNames"] == ["all"]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName="policy-role")
    iam.delete_role_policy(RoleName="policy-role", PolicyName="all")
    iam.delete_role(RoleName="policy-role")
    assert "policy-role" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


# ===================================================================== roles and sessions


def test_assume_role_gives_working_temporary_credentials(secure: TrentServer) -> None:
    user, credentials = new_user(secure, "bob")
    iam = secure.client("iam", **admin(secure))
    # Identity policies too, so the test holds once the policy engine evaluates them.
    iam.put_user_policy(UserName="bob", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
    role = iam.create_role(RoleName="kms-user", AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]
    assert role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName="kms-user")["Role"]["AssumeRolePolicyDocument"] == json.loads(trust(user["Arn"]))
    iam.put_role_policy(RoleName="kms-user", PolicyName="kms", PolicyDocument=allow("kms:*"))

    response = secure.client("sts", **credentials).assume_role(
        RoleArn=role["Arn"], RoleSessionName="bob-session", DurationSeconds=900
    )
    temporary = response["Credentials"]
    assert temporary["AccessKeyId"].startswith("ASIA")
    served_at = parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])
    lifetime = (temporary["Expiration"] - served_at).total_seconds()
    assert 898 <= lifetime <= 901
    assert response["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/kms-user/bob-session"
    assert response["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:bob-session"

    session = session_credentials(temporary)
    identity = secure.client("sts", **session).get_caller_identity()
    assert identity["Arn"] == response["AssumedRoleUser"]["Arn"]
    assert identity["UserId"] == response["AssumedRoleUser"]["AssumedRoleId"]
    assert "Keys" in secure.client("kms", **session).list_keys()


def test_bad_credentials_get_query_protocol_errors(secure: TrentServer) -> None:
    _, credentials = new_user(secure, "carol")
    iam = secure.client("iam", **admin(secure))
    role_arn = iam.create_role(
        RoleName="carol-role", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:user/carol")
    )["Role"]["Arn"]
    temporary = secure.client("sts", **credentials).assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    session = session_credentials(temporary)
    token = session["session_token"]
    tampered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    cases = [
        ({**session, "session_token": tampered}, "InvalidClientTokenId", 403),
        ({"access_key": session["access_key"], "secret_key": session["secret_key"]}, "InvalidClientTokenId", 403),
        ({**credentials, "session_token": token}, "InvalidClientTokenId", 403),
        ({**session, "secret_key": "wrong" + session["secret_key"][5:]}, "SignatureDoesNotMatch", 403),
        ({"access_key": "AKIAUNKNOWNUNKNOWN00", "secret_key": "x"}, "InvalidClientTokenId", 403),
    ]
    for creds, code, status in cases:
        for service in ("sts", "iam"):
            client = secure.client(service, **creds)
            with pytest.raises(ClientError) as info:
                client.get_caller_identity() if service == "sts" else client.list_users()
            assert (code_of(info.value), status_of(info.value)) == (code, status), (service, creds.keys())
    # The KMS JSON protocol keeps its own names for the same failure.
    with pytest.raises(ClientError) as info:
        secure.client("kms", **{**session, "session_token": tampered}).list_keys()
    assert code_of(info.value) == "UnrecognizedClientException"


def test_untrusted_callers_are_denied(secure: TrentServer) -> None:
    _, credentials = new_user(secure, "dave")
    iam = secure.client("iam", **admin(secure))
    role_arn = iam.create_role(
        RoleName="not-for-dave", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:user/someone-else")
    )["Role"]["Arn"]
    sts = secure.client("sts", **credentials)
    for arn in (role_arn, f"arn:aws:iam::{ACCOUNT_ID}:role/does-not-exist"):
        with pytest.raises(ClientError) as info:
            sts.assume_role(RoleArn=arn, RoleSessionName="s1")
        assert (code_of(info.value), status_of(info.value)) == ("AccessDenied", 403)
        assert info.value.response["Error"]["Message"] == (
            f"User: arn:aws:iam::{ACCOUNT_ID}:user/dave is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
    # botocore checks DurationSeconds itself; the server checks it too.
    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={role_arn}&RoleSessionName=s1&DurationSeconds=100"
    status, xml = signed_post(secure, "sts", body.encode(), credentials)
    assert status == 400
    assert b"<Code>ValidationError</Code>" in xml
    assert b"Member must have value greater than or equal to 900" in xml
    # Without identity policies a user may not administer IAM.
    with pytest.raises(ClientError) as info:
        secure.client("iam", **credentials).create_user(UserName="eve")
    assert (code_of(info.value), status_of(info.value)) == ("AccessDenied", 403)


def signed_post(server: TrentServer, service: str, body: bytes, credentials: dict[str, str]) -> tuple[int, bytes]:
    """A hand-made, correctly signed query request (for bodies boto3 would never send)."""
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(credentials["access_key"], credentials["secret_key"]), service, REGION).add_auth(request)
    prepared = request.prepare()
    outgoing = urllib.request.Request(server.endpoint + "/", data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(outgoing, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"Action=Nope&Version=2010-05-08", 400, b"InvalidAction"),
        (b"Version=2010-05-08", 400, b"MissingAction"),
        (b"Action=GetUser&Version=2010-05-08&UserName=%ff", 404, b"MalformedQueryString"),
        (b"Action=ListUsers&Version=2010-05-08&MaxItems=lots", 400, b"ValidationError"),
        (b"Action=ListUsers&Version=2010-05-08&MaxItems=0", 400, b"ValidationError"),
    ],
)
def test_malformed_requests_are_sender_errors(secure: TrentServer, body: bytes, status: int, code: bytes) -> None:
    got_status, xml = signed_post(secure, "iam", body, admin(secure))
    assert got_status == status
    assert xml.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender')
    assert b"<Code>" + code + b"</Code>" in xml


# ===================================================================== the AWS CLI


def test_aws_cli_sts_and_iam(secure: TrentServer) -> None:
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(secure.data_dir / "credentials"),
        "AWS_CONFIG_FILE": str(secure.data_dir / "config"),
        "AWS_PROFILE": "trent",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    identity = secure.aws("sts", "get-caller-identity", env=env)
    assert identity == {"UserId": ACCOUNT_ID, "Account": ACCOUNT_ID, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    user = secure.aws("iam", "create-user", "--user-name", "cli-user", env=env)["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/cli-user"
    failed = secure.aws("iam", "get-user", "--user-name", "cli-nobody", env=env, check=False)
    assert failed.returncode != 0
    assert "(NoSuchEntity)" in failed.stderr


# ===================================================================== the admin CLI


def test_admin_cli_keys_work_against_a_running_server(secure: TrentServer) -> None:
    created = trent_iam(secure.data_dir, "create-user", "--user-name", "frank")["User"]
    key = trent_iam(secure.data_dir, "create-access-key", "--user-name", "frank")["AccessKey"]
    assert key["SecretAccessKey"]
    identity = secure.client(
        "sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    ).get_caller_identity()
    assert identity["Arn"] == created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/frank"
    listed = trent_iam(secure.data_dir, "list-access-keys", "--user-name", "frank")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert key["SecretAccessKey"] not in json.dumps(listed)
    # Deleted offline, refused by the server on the next request.
    trent_iam(secure.data_dir, "delete-access-key", "--user-name", "frank", "--access-key-id", key["AccessKeyId"])
    with pytest.raises(ClientError) as info:
        secure.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]).get_caller_identity()
    assert code_of(info.value) == "InvalidClientTokenId"
    refused = trent_iam(secure.data_dir, "create-user", "--user-name", "bad name", check=False)
    assert refused.returncode == 1
    assert "(ValidationError)" in refused.stderr


def test_admin_cli_roles_and_policies(secure: TrentServer, tmp_path: Path) -> None:
    document = tmp_path / "trust.json"
    document.write_text(trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    role = trent_iam(
        secure.data_dir, "create-role", "--role-name", "cli-role", "--assume-role-policy-document", f"file://{document}"
    )["Role"]
    assert role["RoleId"].startswith("AROA")
    trent_iam(
        secure.data_dir,
        "put-role-policy",
        "--role-name",
        "cli-role",
        "--policy-name",
        "kms",
        "--policy-document",
        allow("kms:*"),
    )
    iam = secure.client("iam", **admin(secure))
    assert iam.list_role_policies(RoleName="cli-role")["PolicyNames"] == ["kms"]
    assert "cli-role" in [r["RoleName"] for r in trent_iam(secure.data_dir, "list-roles")["Roles"]]
    refused = trent_iam(secure.data_dir, "delete-role", "--role-name", "cli-role", check=False)
    assert "(DeleteConflict)" in refused.stderr


def test_admin_cli_before_the_first_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # Admin commands need a store: `trent init` makes it (and the admin key) before any server ran.
    subprocess.run([str(BIN / "trent"), "init", "--data-dir", str(data_dir)], check=True, capture_output=True)
    trent_iam(data_dir, "create-user", "--user-name", "early")
    key = trent_iam(data_dir, "create-access-key", "--user-name", "early")["AccessKey"]
    srv = TrentServer(data_dir, dev=False).start()
    try:
        # The admin key init wrote works against the server.
        root = srv.client("sts", **admin(srv)).get_caller_identity()
        assert root["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
        early = srv.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
        assert early.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/early"
    finally:
        srv.stop()


def test_a_second_account_has_its_own_identities_and_keys(secure: TrentServer) -> None:
    made = trent_iam(secure.data_dir, "create-account", "--account-id", OTHER_ACCOUNT)
    assert made["Account"]["AccountId"] == OTHER_ACCOUNT
    other = {"access_key": made["AccessKey"]["AccessKeyId"], "secret_key": made["AccessKey"]["SecretAccessKey"]}
    assert secure.client("sts", **other).get_caller_identity()["Account"] == OTHER_ACCOUNT
    again = trent_iam(secure.data_dir, "create-account", "--account-id", OTHER_ACCOUNT, check=False)
    assert "(EntityAlreadyExists)" in again.stderr

    # IAM: account B's user is not account A's.
    b_iam = secure.client("iam", **other)
    b_iam.create_user(UserName="only-in-b")
    a_iam = secure.client("iam", **admin(secure))
    with pytest.raises(a_iam.exceptions.NoSuchEntityException):
        a_iam.get_user(UserName="only-in-b")
    user_key = trent_iam(
        secure.data_dir, "create-access-key", "--user-name", "only-in-b", "--account-id", OTHER_ACCOUNT
    )["AccessKey"]
    b_user = secure.client("sts", access_key=user_key["AccessKeyId"], secret_key=user_key["SecretAccessKey"])
    assert b_user.get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:user/only-in-b"

    # KMS: a key made by account B is not found by account A.
    key_id = secure.client("kms", **other).create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as info:
        secure.client("kms", **admin(secure)).describe_key(KeyId=key_id)
    assert code_of(info.value) == "NotFoundException"
    assert key_id not in [k["KeyId"] for k in secure.client("kms", **admin(secure)).list_keys()["Keys"]]


def test_expiration_is_an_iso_timestamp(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    role_arn = iam.create_role(
        RoleName="root-trusting", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root")
    )["Role"]["Arn"]
    credentials = secure.client("sts", **admin(secure)).assume_role(RoleArn=role_arn, RoleSessionName="root-session")
    expiration = credentials["Credentials"]["Expiration"]
    assert isinstance(expiration, datetime)
    assert expiration.utcoffset() is not None


def test_admin_cli_changes_are_in_the_audit_trail(secure: TrentServer) -> None:
    """The CLI goes through the same audit broker as the API: its records join the one chain."""
    from tests.e2e.test_audit import all_records
    from tests.e2e.test_audit_cli import trent_audit

    trent_iam(secure.data_dir, "create-user", "--user-name", "audited")
    refused = trent_iam(secure.data_dir, "create-user", "--user-name", "audited", check=False)
    assert refused.returncode == 1
    secure.client("sts", **admin(secure)).get_caller_identity()  # the server appends after the CLI
    mine = [
        r
        for r in all_records(secure)
        if r["userAgent"] == "trent-cli" and (r.get("requestParameters") or {}).get("userName") == "audited"
    ]
    assert [(r["eventName"], r.get("errorCode")) for r in mine] == [
        ("CreateUser", None),
        ("CreateUser", "EntityAlreadyExists"),
    ]
    assert all(r["eventSource"] == "iam.amazonaws.com" for r in mine)
    assert mine[0]["requestParameters"] == {"userName": "audited"}
    assert mine[0]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert mine[0]["readOnly"] is False
    verified = trent_audit(secure.data_dir, "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
