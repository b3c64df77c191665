"""The query protocol (STS, IAM): botocore's form encoding in, XML that botocore parses out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trent.api.query import QueryHandler, QueryOperation, decode_form, namespace, wire_error
from trent.clock import SystemClock
from trent.domain import errors, iam_errors
from trent.domain.errors import TrentError, ValidationException
from trent.domain.iam_errors import InvalidAction, MalformedQueryString, MissingAction, ValidationError
from trent.domain.identity import Caller
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.iam import IamService
from trent.services.identity import IdentityService
from trent.services.request import RequestContext
from trent.storage.sqlite import SqliteStore

ACCOUNT = "111122223333"
ROOT = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", "Root", "us-east-1", principal_id=ACCOUNT)


def as_root(service: str = "iam", action: str = "") -> RequestContext:
    """A request authenticated as the account root, as the front end hands one to the handler."""
    request = RequestContext("rid", f"{service}.amazonaws.com", action, read_only=False)
    request.authenticate(ROOT)
    return request


SESSION = botocore.session.get_session()
BOTO_MODELS = {name: SESSION.get_service_model(name) for name in ("iam", "sts")}
SERIALIZER = botocore.serialize.create_serializer("query", include_validation=False)
PARSER = botocore.parsers.create_parser("query")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:*"}],
    }
)


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueryHandler]:
    folder = tmp_path_factory.mktemp("query")
    store = SqliteStore(folder / "t.db")
    clock = SystemClock()
    identities = IdentityService(store, LocalFileRootOfTrust.open_or_create(folder / "root.key"), clock)
    yield QueryHandler(IamService(store, identities, clock))
    store.close()


def form(service: str, action: str, params: dict[str, Any]) -> bytes:
    """The body botocore would send for these parameters."""
    request = SERIALIZER.serialize_to_request(params, BOTO_MODELS[service].operation_model(action))
    return urlencode(request["body"]).encode()


def parse(service: str, action: str, status: int, body: bytes) -> dict[str, Any]:
    """What botocore makes of a response (before its IAM policy-document handler)."""
    shape = BOTO_MODELS[service].operation_model(action).output_shape
    parsed: dict[str, Any] = PARSER.parse({"body": body, "headers": {}, "status_code": status}, shape)
    return parsed


def call(handler: QueryHandler, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    status, body = handler.handle(service, as_root(), form(service, action, params), "req-1")
    assert status == 200
    return parse(service, action, status, body)


def error_of(handler: QueryHandler, service: str, body: bytes) -> tuple[int, dict[str, Any]]:
    try:
        handler.handle(service, as_root(), body, "req-err")
    except TrentError as error:
        status, xml = handler.render_error(error, "req-err")
        return status, parse(service, "GetCallerIdentity" if service == "sts" else "GetUser", status, xml)
    raise AssertionError("no error raised")


# ===================================================================== form decoding


def test_decode_form_unquotes_plus_and_percent() -> None:
    assert decode_form(b"Action=GetUser&UserName=a%2Bb+c&Empty=") == {
        "Action": "GetUser",
        "UserName": "a+b c",
        "Empty": "",
    }


@pytest.mark.parametrize("body", [b"Action", b"a=%ff", b"\xff=1", b"a=1&&b=2"])
def test_malformed_forms_are_malformed_query_strings(body: bytes) -> None:
    with pytest.raises(MalformedQueryString):
        decode_form(body)


def test_botocore_forms_round_trip_through_the_decoder(handler: QueryHandler) -> None:
    params = {
        "UserName": "alice",
        "Path": "/team/",
        "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": ""}],
    }
    fields = decode_form(form("iam", "CreateUser", params))
    assert fields["Tags.member.2.Key"] == "cost"
    fields.pop("Action"), fields.pop("Version")
    assert handler.operation("iam", "CreateUser").decode(fields) == params


def test_lists_integers_and_empty_lists(handler: QueryHandler) -> None:
    params: dict[str, Any] = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "RoleSessionName": "s",
        "DurationSeconds": 900,
        "PolicyArns": [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/p1"}, {"arn": f"arn:aws:iam::{ACCOUNT}:policy/p2"}],
        "TransitiveTagKeys": [],
    }
    fields = decode_form(form("sts", "AssumeRole", params))
    assert fields["TransitiveTagKeys"] == ""
    assert fields["PolicyArns.member.2.arn"].endswith("p2")
    fields.pop("Action"), fields.pop("Version")
    with pytest.raises(ValidationException) as info:  # 's' is too short for RoleSessionName
        handler.operation("sts", "AssumeRole").decode(fields)
    assert str(info.value) == (
        "1 validation error detected: Value 's' at 'roleSessionName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2"
    )
    fields["RoleSessionName"] = "session"
    assert handler.operation("sts", "AssumeRole").decode(fields) == {**params, "RoleSessionName": "session"}


_NAME = st.from_regex(r"[A-Za-z0-9+=,.@_-]{1,64}", fullmatch=True)
_TAG = st.fixed_dictionaries(
    {"Key": st.from_regex(r"[A-Za-z0-9 _.:/=+@-]{1,20}", fullmatch=True), "Value": st.text("ab c=+/@é", max_size=8)}
)


@settings(max_examples=60, deadline=None)
@given(name=_NAME, tags=st.lists(_TAG, max_size=5))
def test_any_valid_create_user_round_trips(handler: QueryHandler, name: str, tags: list[dict[str, str]]) -> None:
    params: dict[str, Any] = {"UserName": name, "Tags": tags} if tags else {"UserName": name}
    fields = decode_form(form("iam", "CreateUser", params))
    fields.pop("Action"), fields.pop("Version")
    assert handler.operation("iam", "CreateUser").decode(fields) == params


def test_missing_required_member_uses_the_validation_wording(handler: QueryHandler) -> None:
    with pytest.raises(ValidationException) as info:
        handler.operation("iam", "CreateUser").decode({})
    assert str(info.value) == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(("value", "kind"), [("abc", "an integer"), ("1.5", "an integer"), ("", "an integer")])
def test_non_numbers_are_validation_errors(handler: QueryHandler, value: str, kind: str) -> None:
    fields = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "ss", "DurationSeconds": value}
    with pytest.raises(ValidationError) as info:
        handler.operation("sts", "AssumeRole").decode(fields)
    assert f"at 'durationSeconds' failed to satisfy constraint: Member must be {kind}" in str(info.value)


def test_unknown_members_are_ignored(handler: QueryHandler) -> None:
    assert handler.operation("iam", "GetUser").decode({"UserName": "a", "Bogus": "x", "UserName.x": "y"}) == {
        "UserName": "a"
    }


# ===================================================================== dispatch and encoding


def test_create_and_get_user_parse_in_botocore(handler: QueryHandler) -> None:
    created = call(handler, "iam", "CreateUser", {"UserName": "enc-user", "Path": "/p/"})
    user = created["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/p/enc-user"
    assert user["UserId"].startswith("AIDA")
    assert created["ResponseMetadata"]["RequestId"] == "req-1"
    fetched = call(handler, "iam", "GetUser", {"UserName": "ENC-USER"})  # names are case-insensitive
    assert fetched["User"] == user
    assert isinstance(user["CreateDate"], datetime)


def test_xml_shape_is_the_query_protocols(handler: QueryHandler) -> None:
    status, body = handler.handle("sts", as_root(), b"Action=GetCallerIdentity&Version=2011-06-15", "rid")
    assert status == 200
    assert body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><UserId>111122223333</UserId><Account>111122223333</Account>"
        b"<Arn>arn:aws:iam::111122223333:root</Arn></GetCallerIdentityResult>"
        b"<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    )


def test_operations_without_output_answer_only_metadata(handler: QueryHandler) -> None:
    call(handler, "iam", "CreateUser", {"UserName": "to-delete"})
    status, body = handler.handle("iam", as_root(), form("iam", "DeleteUser", {"UserName": "to-delete"}), "rid")
    assert status == 200
    assert body == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteUserResponse>"
    )


def test_policy_documents_are_url_encoded_and_escaped(handler: QueryHandler) -> None:
    call(handler, "iam", "CreateUser", {"UserName": "pol-user"})
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Sid": "a&b<c"}],
        },
        indent=2,
    )
    call(handler, "iam", "PutUserPolicy", {"UserName": "pol-user", "PolicyName": "p1", "PolicyDocument": document})
    status, body = handler.handle(
        "iam", as_root(), form("iam", "GetUserPolicy", {"UserName": "pol-user", "PolicyName": "p1"}), "rid"
    )
    assert b"%7B%0A" in body  # '{' and the newline, percent-encoded as IAM sends them
    parsed = parse("iam", "GetUserPolicy", status, body)
    assert unquote(parsed["PolicyDocument"]) == document  # what botocore's IAM handler then json-loads
    listed = call(handler, "iam", "ListUserPolicies", {"UserName": "pol-user"})
    assert listed["PolicyNames"] == ["p1"]
    assert listed["IsTruncated"] is False


def test_role_trust_policy_and_paging(handler: QueryHandler) -> None:
    for name in ("page-a", "page-b", "page-c"):
        call(handler, "iam", "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": TRUST, "Path": "/paging/"})
    first = call(handler, "iam", "ListRoles", {"PathPrefix": "/paging/", "MaxItems": 2})
    assert [r["RoleName"] for r in first["Roles"]] == ["page-a", "page-b"]
    assert first["IsTruncated"] is True
    assert json.loads(unquote(first["Roles"][0]["AssumeRolePolicyDocument"])) == json.loads(TRUST)
    rest = call(handler, "iam", "ListRoles", {"PathPrefix": "/paging/", "MaxItems": 2, "Marker": first["Marker"]})
    assert [r["RoleName"] for r in rest["Roles"]] == ["page-c"]
    assert rest["IsTruncated"] is False


def test_assume_role_credentials_parse(handler: QueryHandler) -> None:
    role = call(handler, "iam", "CreateRole", {"RoleName": "assumable", "AssumeRolePolicyDocument": TRUST})["Role"]
    result = call(handler, "sts", "AssumeRole", {"RoleArn": role["Arn"], "RoleSessionName": "s1"})
    credentials = result["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["SessionToken"]) >= 100
    assert isinstance(credentials["Expiration"], datetime)
    assert result["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/assumable/s1"


@pytest.mark.parametrize("member", ["Policy", "PolicyArns", "Tags"])
def test_session_policies_and_tags_are_refused_not_ignored(handler: QueryHandler, member: str) -> None:
    values: dict[str, Any] = {
        "Policy": TRUST,
        "PolicyArns": [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/p"}],
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    params = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/x", "RoleSessionName": "s1", member: values[member]}
    status, parsed = error_of(handler, "sts", form("sts", "AssumeRole", params))
    assert (status, parsed["Error"]["Code"]) == (400, "ValidationError")


# ===================================================================== errors


def test_unknown_missing_and_other_version_actions(handler: QueryHandler) -> None:
    status, parsed = error_of(handler, "iam", b"Action=Nope&Version=2010-05-08")
    assert (status, parsed["Error"]["Code"]) == (400, "InvalidAction")
    assert parsed["Error"]["Message"] == "Could not find operation Nope for version 2010-05-08"
    assert parsed["Error"]["Type"] == "Sender"
    status, parsed = error_of(handler, "iam", b"Version=2010-05-08")
    assert (status, parsed["Error"]["Code"]) == (400, "MissingAction")
    status, parsed = error_of(handler, "sts", b"Action=GetCallerIdentity&Version=2010-05-08")
    assert parsed["Error"]["Code"] == "InvalidAction"
    status, parsed = error_of(handler, "iam", b"Action=CreateGroup&Version=2010-05-08&GroupName=g")
    assert parsed["Error"]["Code"] == "InvalidAction"
    assert "not supported" in parsed["Error"]["Message"]


def test_modeled_errors_parse_as_botocores_exceptions(handler: QueryHandler) -> None:
    status, parsed = error_of(handler, "iam", form("iam", "GetUser", {"UserName": "no-such-user"}))
    assert status == 404
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The user with name no-such-user cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-err"
    status, parsed = error_of(handler, "iam", form("iam", "CreateUser", {"UserName": "a b"}))
    assert (status, parsed["Error"]["Code"]) == (400, "ValidationError")
    assert parsed["Error"]["Message"].startswith("1 validation error detected: Value 'a b' at 'userName'")


def test_error_namespace_follows_the_service(handler: QueryHandler) -> None:
    with pytest.raises(TrentError) as info:
        handler.handle("iam", as_root(), b"Action=Nope", "rid-iam")
    _, body = handler.render_error(info.value, "rid-iam")
    assert body.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender')
    # An error before any handler ran (SigV4) has no service: STS's namespace.
    _, body = handler.render_error(errors.InvalidSignatureException.mismatch(), "other")
    assert body.startswith(b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.UnrecognizedClientException.invalid_token(), "InvalidClientTokenId", 403),
        (errors.InvalidSignatureException.mismatch(), "SignatureDoesNotMatch", 403),
        (errors.ExpiredTokenException.expired(), "ExpiredToken", 403),
        (errors.IncompleteSignatureException("x"), "IncompleteSignature", 400),
        (errors.MissingAuthenticationTokenException.missing(), "MissingAuthenticationToken", 403),
        (errors.AccessDeniedException("User: x is not authorized"), "AccessDenied", 403),
        (errors.ValidationException("v"), "ValidationError", 400),
        (errors.KMSInternalException.internal(), "InternalFailure", 500),
        (errors.StorageError("the database rejected an operation"), "InternalFailure", 500),
        (errors.NotFoundException("unmapped"), "InternalFailure", 500),
    ],
)
def test_authentication_and_internal_errors_use_query_codes(
    handler: QueryHandler, error: TrentError, code: str, status: int
) -> None:
    got_status, body = handler.render_error(error, "rid")
    parsed = parse("sts", "GetCallerIdentity", got_status, body)
    assert (got_status, parsed["Error"]["Code"]) == (status, code)
    assert parsed["Error"]["Type"] == ("Receiver" if status >= 500 else "Sender")
    if status >= 500:
        assert parsed["Error"]["Message"] == "We encountered an internal error. Please try again."
    else:
        assert parsed["Error"]["Message"] == error.message


def test_messages_are_escaped_and_unrepresentable_characters_replaced(handler: QueryHandler) -> None:
    status, body = handler.render_error(ValidationError("a <b> & 'c' \x00\x1b end"), "r<1>")
    parsed = parse("iam", "GetUser", status, body)
    assert parsed["Error"]["Message"] == "a <b> & 'c' \ufffd\ufffd end"
    assert parsed["ResponseMetadata"]["RequestId"] == "r<1>"


def test_iam_error_statuses_match_the_iam_model() -> None:
    modeled = {
        shape.metadata["error"]["code"]: shape.metadata["error"]["httpStatusCode"]
        for shape in BOTO_MODELS["iam"].error_shapes
        if "error" in shape.metadata
    }
    checked = 0
    for name in dir(iam_errors):
        value = getattr(iam_errors, name)
        if isinstance(value, type) and issubclass(value, TrentError) and value.__module__ == iam_errors.__name__:
            assert value.code == name
            code, status, _ = wire_error(value("m"), "iam")
            assert code == name
            if name in modeled:
                assert status == modeled[name], name
                checked += 1
    assert checked >= 6


def test_iam_errors_are_botocore_modeled_exceptions() -> None:
    client = SESSION.create_client("iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    for cls in (
        iam_errors.NoSuchEntity,
        iam_errors.EntityAlreadyExists,
        iam_errors.DeleteConflict,
        iam_errors.LimitExceeded,
        iam_errors.MalformedPolicyDocument,
        iam_errors.InvalidInput,
    ):
        assert client.exceptions.from_code(cls.code) is getattr(client.exceptions, cls.code + "Exception")


# ===================================================================== model assumptions


def test_served_operations_exist_in_the_models(handler: QueryHandler) -> None:
    from trent.api.handlers.iam import HANDLERS as IAM
    from trent.api.handlers.sts import HANDLERS as STS

    for service, handlers in (("iam", IAM), ("sts", STS)):
        for action in handlers:
            operation = handler.operation(service, action)
            assert isinstance(operation, QueryOperation)
            assert operation.handler is handlers[action]
            assert operation.namespace == namespace(service, BOTO_MODELS[service].api_version)


def test_query_inputs_use_no_custom_names_or_flattening() -> None:
    """The decoder reads member names as they are and lists as 'member.N': true of both models."""
    odd: list[str] = []
    for service, model in BOTO_MODELS.items():
        for action in model.operation_names:
            shape = model.operation_model(action).input_shape
            stack, seen = ([shape] if shape is not None else []), set()
            while stack:
                current = stack.pop()
                if current.name in seen:
                    continue
                seen.add(current.name)
                if current.serialization.get("flattened") or current.serialization.get("name"):
                    odd.append(f"{service}.{action}.{current.name}")
                if current.type_name == "structure":
                    for member in current.members.values():
                        if member.serialization.get("name") or member.serialization.get("flattened"):
                            odd.append(f"{service}.{action}.{member.name}")
                        stack.append(member)
                elif current.type_name == "list":
                    stack.append(current.member)
                elif current.type_name == "map":
                    stack.extend([current.key, current.value])
    assert odd == []


def test_timestamps_are_iso_8601_utc(handler: QueryHandler) -> None:
    status, body = handler.handle("iam", as_root(), form("iam", "CreateUser", {"UserName": "ts-user"}), "rid")
    stamp = body.split(b"<CreateDate>")[1].split(b"</CreateDate>")[0].decode()
    assert (
        datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        == parse("iam", "CreateUser", status, body)["User"]["CreateDate"]
    )


def test_cli_invoke_validates_like_the_wire(handler: QueryHandler) -> None:
    with pytest.raises(ValidationException):
        handler.invoke("iam", ROOT, "CreateUser", {"UserName": "bad name"})
    with pytest.raises(InvalidAction):
        handler.invoke("iam", ROOT, "Nope", {})
    assert handler.invoke("iam", ROOT, "CreateUser", {"UserName": "cli-user"})["User"]["UserName"] == "cli-user"


def test_missing_action_is_reported_before_anything_else(handler: QueryHandler) -> None:
    with pytest.raises(MissingAction):
        handler.handle("iam", as_root(), b"", "rid")


def test_deeply_dotted_names_cost_little(handler: QueryHandler) -> None:
    # Without a depth cap the prefixes of this one name would take ~100 GB.
    body = b"Action=GetUser&Version=2010-05-08&UserName=deep&" + b"a." * 450_000 + b"=x"
    fields = decode_form(body)
    fields.pop("Action"), fields.pop("Version")
    assert handler.operation("iam", "GetUser").decode(fields) == {"UserName": "deep"}


def test_the_deepest_model_inputs_decode(handler: QueryHandler) -> None:
    params = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "RoleSessionName": "ss",
        "ProvidedContexts": [
            {"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "abcd"}
        ],
    }
    fields = decode_form(form("sts", "AssumeRole", params))
    fields.pop("Action"), fields.pop("Version")
    assert handler.operation("sts", "AssumeRole").decode(fields)["ProvidedContexts"] == params["ProvidedContexts"]


def test_iam_changes_record_what_they_answered_without_secrets(handler: QueryHandler) -> None:
    request = as_root("iam", "CreateUser")
    handler.handle("iam", request, form("iam", "CreateUser", {"UserName": "re-user"}), "rid")
    user = (request.response_elements or {})["user"]
    assert (user["userName"], user["path"]) == ("re-user", "/")
    assert user["arn"] == f"arn:aws:iam::{ACCOUNT}:user/re-user"
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M", user["createDate"])
    request = as_root("iam", "CreateAccessKey")
    handler.handle("iam", request, form("iam", "CreateAccessKey", {"UserName": "re-user"}), "rid")
    key = (request.response_elements or {})["accessKey"]
    assert set(key) == {"userName", "accessKeyId", "status", "createDate"}  # never the secret
    request = as_root("iam", "GetUser")
    handler.handle("iam", request, form("iam", "GetUser", {"UserName": "re-user"}), "rid")
    assert request.response_elements is None  # reads record none
