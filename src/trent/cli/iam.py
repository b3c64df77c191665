"""``trent iam ...``: administer accounts, users, access keys, roles and inline policies offline.

The commands open the data directory's store and root key directly (SQLite is safe next to a
running server, whose credential cache notices the change on its next request) and act as the
selected account's root. Requests go through the same model validation and handlers as the IAM
API, so a name the API would refuse is refused here too. Output is JSON, like the AWS CLI's; a
secret access key is printed once, by create-account and create-access-key, and stored only sealed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from trent.cli.init import refuse_missing_store
from trent.config import DEFAULT_ACCOUNT_ID, ConfigError, settings_from_env
from trent.domain.audit import random_uuid
from trent.domain.errors import TrentError
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn

_REGION = "us-east-1"  # IAM is global; the region only picks the ARN partition
CLI_USER_AGENT = "trent-cli"  # the userAgent of the CLI's records in the audit trail

# command -> (IAM action, [(flag, member, kind)]); kind: str, int, or "document" (text or file://path)
_Flag = tuple[str, str, str]
_COMMANDS: dict[str, tuple[str, list[_Flag]]] = {
    "create-user": ("CreateUser", [("--user-name", "UserName", "str"), ("--path", "Path", "str")]),
    "create-access-key": ("CreateAccessKey", [("--user-name", "UserName", "str")]),
    "create-role": (
        "CreateRole",
        [
            ("--role-name", "RoleName", "str"),
            ("--assume-role-policy-document", "AssumeRolePolicyDocument", "document"),
            ("--path", "Path", "str"),
            ("--description", "Description", "str"),
            ("--max-session-duration", "MaxSessionDuration", "int"),
        ],
    ),
    "put-user-policy": (
        "PutUserPolicy",
        [
            ("--user-name", "UserName", "str"),
            ("--policy-name", "PolicyName", "str"),
            ("--policy-document", "PolicyDocument", "document"),
        ],
    ),
    "put-role-policy": (
        "PutRolePolicy",
        [
            ("--role-name", "RoleName", "str"),
            ("--policy-name", "PolicyName", "str"),
            ("--policy-document", "PolicyDocument", "document"),
        ],
    ),
    "list-users": ("ListUsers", [("--path-prefix", "PathPrefix", "str")]),
    "list-roles": ("ListRoles", [("--path-prefix", "PathPrefix", "str")]),
    "list-access-keys": ("ListAccessKeys", [("--user-name", "UserName", "str")]),
    "delete-user": ("DeleteUser", [("--user-name", "UserName", "str")]),
    "delete-role": ("DeleteRole", [("--role-name", "RoleName", "str")]),
    "delete-access-key": (
        "DeleteAccessKey",
        [("--access-key-id", "AccessKeyId", "str"), ("--user-name", "UserName", "str")],
    ),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    iam = sub.add_parser("iam", help="administer IAM identities in a data directory (prints JSON)")
    commands = iam.add_subparsers(dest="iam_command", required=True)
    create_account = commands.add_parser("create-account", help="create an account and its root access key")
    _common(create_account)
    for name, (action, flags) in _COMMANDS.items():
        parser = commands.add_parser(name, help=f"IAM {action}")
        _common(parser)
        for flag, member, kind in flags:
            help_text = f"{member} (text, or file://PATH)" if kind == "document" else member
            metavar = flag[2:].upper().replace("-", "_")
            parser.add_argument(flag, dest=member, metavar=metavar, type=int if kind == "int" else str, help=help_text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    parser.add_argument("--account-id", help=f"12-digit account id to act in (default {DEFAULT_ACCOUNT_ID})")


def _document(text: str) -> str:
    if text.startswith("file://"):
        return Path(text[len("file://") :]).read_text(encoding="utf-8")
    return text


def _params(args: argparse.Namespace, flags: list[_Flag]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for _flag, member, kind in flags:
        value = getattr(args, member)
        if value is not None:
            params[member] = _document(value) if kind == "document" else value
    return params


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot print {type(value).__name__}")


def _print(result: Mapping[str, Any]) -> None:
    print(json.dumps(result, indent=4, default=_json_default))


def run(args: argparse.Namespace, error: Callable[[str], None]) -> int:
    """Run one ``trent iam`` command; 0 on success, 1 with the AWS-style error on stderr."""
    # Imported here so that `trent --help` and `trent serve` do not load the models for nothing.
    from trent.api.query import QueryHandler, is_read_only_action, record_parameters, wire_error  # noqa: PLC0415
    from trent.bootstrap import build  # noqa: PLC0415
    from trent.services.audit_broker import AuditBroker  # noqa: PLC0415
    from trent.services.request import RequestContext  # noqa: PLC0415

    try:
        # The account to act in is not the server's default account: keep the two apart, so
        # that settings (and the server's admin profile) never follow --account-id.
        settings = settings_from_env(data_dir=args.data_dir)
    except ConfigError as exc:
        error(str(exc))
        return 2
    account_id = args.account_id or settings.account_id
    if not re.fullmatch(r"[0-9]{12}", account_id):
        error(f"account id must be 12 digits, got {account_id!r}")
        return 2
    try:
        params = _params(args, _COMMANDS[args.iam_command][1]) if args.iam_command in _COMMANDS else {}
    except OSError as exc:
        error(f"cannot read the policy document: {exc.strerror}")
        return 2
    if refuse_missing_store(settings):
        return 2
    # create_root=False: a store whose root.key is missing must fail to open, not get a new key.
    components = build(settings, create_root=False)
    try:
        if args.iam_command == "create-account":
            account, key = components.iam.create_account(account_id)
            result: Mapping[str, Any] = {
                "Account": {"AccountId": account.account_id, "CreateDate": account.create_date},
                "AccessKey": {
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                    "Status": key.status,
                    "CreateDate": key.create_date,
                },
            }
        else:
            caller = Caller(
                account_id=account_id,
                arn=account_root_arn(account_id, _REGION),
                principal_type="Root",
                region=_REGION,
                user_agent=CLI_USER_AGENT,
                principal_id=account_id,
            )
            action = _COMMANDS[args.iam_command][0]
            # Through the same audit broker as the API: the trail records what the CLI changed.
            request = RequestContext(
                request_id=random_uuid(),
                event_source="iam.amazonaws.com",
                operation=action,
                read_only=is_read_only_action(action),
                user_agent=CLI_USER_AGENT,
                claimed_region=_REGION,
            )
            request.authenticate(caller)
            request.request_parameters = record_parameters(params)
            handler = QueryHandler(components.iam)
            result = asyncio.run(
                AuditBroker(components.audit).run(request, lambda: handler.invoke("iam", caller, action, params))
            )
    except TrentError as exc:
        code, _status, message = wire_error(exc, "iam")
        print(f"An error occurred ({code}) when calling the {args.iam_command} command: {message}", file=sys.stderr)
        return 1
    finally:
        components.store.close()
    _print(result)
    return 0
