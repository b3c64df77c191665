"""IAM operations: validated request members in, output members out (names as in botocore's model).

The query codec has already checked the model's constraints; the handlers shape results and turn
Trent's paging positions into opaque markers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trent.domain.iam import AccessKeyMetadata, Role, User
from trent.domain.iam_errors import InvalidInput, ValidationError
from trent.domain.identity import Caller
from trent.services.iam import IamService, RootIdentity
from trent.services.identity import NewAccessKey

Params = Mapping[str, Any]
Result = dict[str, Any] | None
Handler = Callable[[IamService, Caller, Params], Result]

DEFAULT_MAX_ITEMS = 100  # IAM's default page size


# ===================================================================== request helpers


def _tags(p: Params) -> tuple[tuple[str, str], ...]:
    tags = tuple((str(tag["Key"]), str(tag.get("Value", ""))) for tag in p.get("Tags") or ())
    if len({key.lower() for key, _ in tags}) != len(tags):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    return tags


def _refuse(p: Params, *members: str) -> None:
    """Members that would limit permissions if honoured: refused rather than silently ignored."""
    for member in members:
        if p.get(member):
            raise ValidationError.unsupported(member)


def _position(p: Params) -> str | None:
    marker = p.get("Marker")
    if marker is None:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError("Invalid Marker.") from None


def _marker(position: str | None) -> dict[str, Any]:
    if position is None:
        return {"IsTruncated": False}
    return {"IsTruncated": True, "Marker": base64.urlsafe_b64encode(position.encode("utf-8")).decode("ascii")}


def _limit(p: Params) -> int:
    return int(p.get("MaxItems") or DEFAULT_MAX_ITEMS)


def _names_page(names: Sequence[str], p: Params) -> dict[str, Any]:
    """A short listing paged in memory: names after the marker, by name."""
    after, limit = _position(p), _limit(p)
    remaining = [name for name in names if after is None or name.lower() > after.lower()]
    page = remaining[:limit]
    return {"PolicyNames": page, **_marker(page[-1] if len(remaining) > limit else None)}


# ===================================================================== shaping


def _user(user: User | RootIdentity, *, tags: bool = True) -> dict[str, Any]:
    if isinstance(user, RootIdentity):
        return {"UserId": user.account_id, "Arn": user.arn, "CreateDate": user.create_date}
    out: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.user_name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.create_date,
    }
    if tags and user.tags:
        out["Tags"] = [{"Key": key, "Value": value} for key, value in user.tags]
    return out


def _role(role: Role, *, tags: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.role_name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.create_date,
        "AssumeRolePolicyDocument": role.assume_role_policy_document,
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
    }
    if tags and role.tags:
        out["Tags"] = [{"Key": key, "Value": value} for key, value in role.tags]
    return out


def _key_metadata(key: AccessKeyMetadata) -> dict[str, Any]:
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.create_date,
    }


def _new_key(key: NewAccessKey) -> dict[str, Any]:
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "SecretAccessKey": key.secret_access_key,
        "CreateDate": key.create_date,
    }


# ===================================================================== users


def create_user(iam: IamService, caller: Caller, p: Params) -> Result:
    _refuse(p, "PermissionsBoundary")
    return {"User": _user(iam.create_user(caller, p["UserName"], p.get("Path"), _tags(p)))}


def get_user(iam: IamService, caller: Caller, p: Params) -> Result:
    return {"User": _user(iam.get_user(caller, p.get("UserName")))}


def list_users(iam: IamService, caller: Caller, p: Params) -> Result:
    page = iam.list_users(caller, p.get("PathPrefix"), _position(p), _limit(p))
    return {"Users": [_user(user, tags=False) for user in page.items], **_marker(page.next_position)}


def delete_user(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.delete_user(caller, p["UserName"])
    return None


# ===================================================================== access keys


def create_access_key(iam: IamService, caller: Caller, p: Params) -> Result:
    return {"AccessKey": _new_key(iam.create_access_key(caller, p.get("UserName")))}


def list_access_keys(iam: IamService, caller: Caller, p: Params) -> Result:
    keys = sorted(iam.list_access_keys(caller, p.get("UserName")), key=lambda k: k.access_key_id)
    after, limit = _position(p), _limit(p)
    remaining = [k for k in keys if after is None or k.access_key_id > after]
    page = remaining[:limit]
    more = page[-1].access_key_id if len(remaining) > limit else None
    return {"AccessKeyMetadata": [_key_metadata(k) for k in page], **_marker(more)}


def delete_access_key(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.delete_access_key(caller, p["AccessKeyId"], p.get("UserName"))
    return None


def update_access_key(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.update_access_key(caller, p["AccessKeyId"], p["Status"], p.get("UserName"))
    return None


# ===================================================================== roles


def create_role(iam: IamService, caller: Caller, p: Params) -> Result:
    _refuse(p, "PermissionsBoundary")
    role = iam.create_role(
        caller,
        p["RoleName"],
        p["AssumeRolePolicyDocument"],
        p.get("Path"),
        p.get("Description"),
        p.get("MaxSessionDuration"),
        _tags(p),
    )
    return {"Role": _role(role)}


def get_role(iam: IamService, caller: Caller, p: Params) -> Result:
    return {"Role": {**_role(iam.get_role(caller, p["RoleName"])), "RoleLastUsed": {}}}


def list_roles(iam: IamService, caller: Caller, p: Params) -> Result:
    page = iam.list_roles(caller, p.get("PathPrefix"), _position(p), _limit(p))
    return {"Roles": [_role(role, tags=False) for role in page.items], **_marker(page.next_position)}


def delete_role(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.delete_role(caller, p["RoleName"])
    return None


# ===================================================================== inline policies


def put_user_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.put_user_policy(caller, p["UserName"], p["PolicyName"], p["PolicyDocument"])
    return None


def get_user_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    policy = iam.get_user_policy(caller, p["UserName"], p["PolicyName"])
    return {"UserName": policy.owner_name, "PolicyName": policy.policy_name, "PolicyDocument": policy.document}


def list_user_policies(iam: IamService, caller: Caller, p: Params) -> Result:
    return _names_page(iam.list_user_policies(caller, p["UserName"]), p)


def delete_user_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.delete_user_policy(caller, p["UserName"], p["PolicyName"])
    return None


def put_role_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.put_role_policy(caller, p["RoleName"], p["PolicyName"], p["PolicyDocument"])
    return None


def get_role_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    policy = iam.get_role_policy(caller, p["RoleName"], p["PolicyName"])
    return {"RoleName": policy.owner_name, "PolicyName": policy.policy_name, "PolicyDocument": policy.document}


def list_role_policies(iam: IamService, caller: Caller, p: Params) -> Result:
    return _names_page(iam.list_role_policies(caller, p["RoleName"]), p)


def delete_role_policy(iam: IamService, caller: Caller, p: Params) -> Result:
    iam.delete_role_policy(caller, p["RoleName"], p["PolicyName"])
    return None


HANDLERS: dict[str, Handler] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "DeleteAccessKey": delete_access_key,
    "UpdateAccessKey": update_access_key,
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "PutUserPolicy": put_user_policy,
    "GetUserPolicy": get_user_policy,
    "ListUserPolicies": list_user_policies,
    "DeleteUserPolicy": delete_user_policy,
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "ListRolePolicies": list_role_policies,
    "DeleteRolePolicy": delete_role_policy,
}

__all__ = ["HANDLERS", "Handler", "Params", "Result"]
