"""STS operations: AssumeRole and GetCallerIdentity (the calls SDKs and the AWS CLI make most)."""

from __future__ import annotations

from trent.api.handlers.iam import Handler, Params, Result
from trent.domain.iam_errors import ValidationError
from trent.domain.identity import Caller
from trent.services.iam import IamService

# Session policies and session tags change what a session may do; Trent does not evaluate them
# yet, so a request carrying them is refused instead of silently getting the role's full rights.
_UNSUPPORTED_MEMBERS = ("Policy", "PolicyArns", "Tags", "TransitiveTagKeys")


def assume_role(iam: IamService, caller: Caller, p: Params) -> Result:
    for member in _UNSUPPORTED_MEMBERS:
        if p.get(member):
            raise ValidationError.unsupported(member)
    session = iam.assume_role(caller, p["RoleArn"], p["RoleSessionName"], p.get("DurationSeconds"))
    return {
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": session.expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": session.assumed_role_id, "Arn": session.assumed_role_arn},
    }


def get_caller_identity(iam: IamService, caller: Caller, p: Params) -> Result:
    identity = iam.get_caller_identity(caller)
    return {"UserId": identity.user_id, "Account": identity.account, "Arn": identity.arn}


HANDLERS: dict[str, Handler] = {
    "AssumeRole": assume_role,
    "GetCallerIdentity": get_caller_identity,
}

__all__ = ["HANDLERS"]
