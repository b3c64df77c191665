"""IAM and STS use cases: users, access keys, roles, inline policies, AssumeRole, GetCallerIdentity.

Every IAM action is authorized by ``authorize_identity_action`` (identity policies, or root-ness)
on the resource AWS names in its AccessDenied messages; AssumeRole by ``authorize_assume_role``
(the role's trust policy and the caller's identity policies). Identities live in the caller's
account; AssumeRole may name a role of another account, whose trust policy then decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trent.domain.errors import AccessDeniedException, constraint_violation, validation_summary
from trent.domain.iam import (
    ACCESS_KEYS_PER_USER,
    DEFAULT_MAX_SESSION_DURATION,
    DEFAULT_PATH,
    MIN_SESSION_DURATION,
    ROLE_CHAINING_LIMIT,
    ROLE_POLICY_SIZE,
    ROLES_PER_ACCOUNT,
    USER_POLICY_SIZE,
    USERS_PER_ACCOUNT,
    AccessKeyMetadata,
    Account,
    InlinePolicy,
    Role,
    User,
    check_policy_document,
    parse_role_arn,
    policy_size,
    role_arn,
    roles_resource,
    user_arn,
    users_resource,
)
from trent.domain.iam_errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn, partition_of
from trent.domain.paging import Page
from trent.services.authorize import authorize_assume_role, authorize_identity_action
from trent.services.iam_ports import IamStore
from trent.services.identity import IdentityService, NewAccessKey, NewSession, new_role_id, new_user_id
from trent.services.ports import Clock

# RoleSessionName as the STS model constrains it; checked here too because it ends up in ARNs.
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
# Expired sessions are kept this long so that a late caller still hears "expired", then purged.
EXPIRED_SESSION_RETENTION = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RootIdentity:
    """What GetUser answers for the account root, which has no user name or path."""

    account_id: str
    arn: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    user_id: str
    account: str
    arn: str


def _whole_seconds(when: datetime) -> datetime:
    # Times shown to clients (Expiration, CreateDate) have whole seconds; store exactly those.
    return when.replace(microsecond=0)


class IamService:
    def __init__(self, store: IamStore, identities: IdentityService, clock: Clock) -> None:
        self._store = store
        self._identities = identities
        self._clock = clock

    # ================================================================= accounts (operator only)

    def create_account(self, account_id: str) -> tuple[Account, NewAccessKey]:
        """A new account with a root access key (secret shown once). Not an AWS API: the CLI's."""
        created = self._identities.create_account(account_id)
        if created is None:
            raise EntityAlreadyExists.account(account_id)
        return created

    # ================================================================= users

    def create_user(
        self,
        caller: Caller,
        user_name: str,
        path: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> User:
        path = path or DEFAULT_PATH
        arn = user_arn(partition_of(caller.region), caller.account_id, path, user_name)
        authorize_identity_action(caller, "iam:CreateUser", arn)
        user = User(caller.account_id, user_name, path, arn, new_user_id(), _whole_seconds(self._clock.now()), tags)
        with self._store.transaction():
            if self._store.count_users(caller.account_id) >= USERS_PER_ACCOUNT:
                raise LimitExceeded.quota("UsersPerAccount", USERS_PER_ACCOUNT)
            if not self._store.insert_user(user):
                raise EntityAlreadyExists.user(user_name)
        return user

    def get_user(self, caller: Caller, user_name: str | None) -> User | RootIdentity:
        """A user by name; without a name, the calling user (or the account root)."""
        if user_name is None:
            if caller.is_root:
                authorize_identity_action(caller, "iam:GetUser", caller.arn)
                account = self._store.get_account(caller.account_id)
                created = account.create_date if account else datetime.fromtimestamp(0, UTC)
                return RootIdentity(caller.account_id, caller.arn, created)
            user_name = self._own_user_name(caller)
        user = self._store.get_user(caller.account_id, user_name)
        if user is None:
            self._authorize_missing(caller, "iam:GetUser", "user", user_name)
            raise NoSuchEntity.user(user_name)
        authorize_identity_action(caller, "iam:GetUser", user.arn)
        return user

    def list_users(self, caller: Caller, path_prefix: str | None, after: str | None, limit: int) -> Page[User]:
        authorize_identity_action(
            caller, "iam:ListUsers", users_resource(partition_of(caller.region), caller.account_id)
        )
        return self._store.list_users(caller.account_id, path_prefix or DEFAULT_PATH, after, limit)

    def delete_user(self, caller: Caller, user_name: str) -> None:
        with self._store.transaction():
            user = self._user(caller, "iam:DeleteUser", user_name)
            if self._store.access_keys_of(caller.account_id, user.user_name):
                raise DeleteConflict.access_keys()
            if self._store.inline_policies(caller.account_id, "user", user.user_name):
                raise DeleteConflict.policies()
            self._store.delete_user(caller.account_id, user.user_name)

    # ================================================================= access keys

    def create_access_key(self, caller: Caller, user_name: str | None) -> NewAccessKey:
        """A key for a user, or without a name for the caller itself (a user, or the root)."""
        with self._store.transaction():
            owner, arn, kind = self._key_owner(caller, "iam:CreateAccessKey", user_name)
            if len(self._store.access_keys_of(caller.account_id, owner)) >= ACCESS_KEYS_PER_USER:
                raise LimitExceeded.quota("AccessKeysPerUser", ACCESS_KEYS_PER_USER)
            return self._identities.create_access_key(caller.account_id, arn, kind, owner)

    def list_access_keys(self, caller: Caller, user_name: str | None) -> list[AccessKeyMetadata]:
        owner, _, _ = self._key_owner(caller, "iam:ListAccessKeys", user_name)
        return list(self._store.access_keys_of(caller.account_id, owner))

    def delete_access_key(self, caller: Caller, access_key_id: str, user_name: str | None) -> None:
        with self._store.transaction():
            owner, _, _ = self._key_owner(caller, "iam:DeleteAccessKey", user_name)
            owned = {key.access_key_id for key in self._store.access_keys_of(caller.account_id, owner)}
            if access_key_id not in owned:
                raise NoSuchEntity.access_key(access_key_id)
            self._store.delete_access_key(access_key_id)
        self._identities.forget(access_key_id)

    def update_access_key(self, caller: Caller, access_key_id: str, status: str, user_name: str | None) -> None:
        """UpdateAccessKey: make a key Active or Inactive (an inactive key authenticates nothing).
        ``status`` is one of the two: IAM's model checks it before any caller gets here."""
        with self._store.transaction():
            owner, _, _ = self._key_owner(caller, "iam:UpdateAccessKey", user_name)
            owned = {key.access_key_id for key in self._store.access_keys_of(caller.account_id, owner)}
            if access_key_id not in owned:
                raise NoSuchEntity.access_key(access_key_id)
            self._store.set_access_key_status(access_key_id, status)
        self._identities.forget(access_key_id)

    def _key_owner(self, caller: Caller, action: str, user_name: str | None) -> tuple[str | None, str, str]:
        """(user name or None for the root, principal ARN, principal type), authorized."""
        if user_name is None:
            if caller.is_root:
                authorize_identity_action(caller, action, caller.arn)
                return None, account_root_arn(caller.account_id, caller.region), "Root"
            user_name = self._own_user_name(caller)
        user = self._user(caller, action, user_name)
        return user.user_name, user.arn, "IAMUser"

    def _own_user_name(self, caller: Caller) -> str:
        if caller.principal_type != "IAMUser" or caller.user_name is None:
            raise ValidationError.non_user_credentials()
        return caller.user_name

    # ================================================================= roles

    def create_role(
        self,
        caller: Caller,
        role_name: str,
        assume_role_policy_document: str,
        path: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> Role:
        path = path or DEFAULT_PATH
        arn = role_arn(partition_of(caller.region), caller.account_id, path, role_name)
        authorize_identity_action(caller, "iam:CreateRole", arn)
        check_policy_document(assume_role_policy_document, trust=True)
        role = Role(
            caller.account_id,
            role_name,
            path,
            arn,
            new_role_id(),
            assume_role_policy_document,
            max_session_duration or DEFAULT_MAX_SESSION_DURATION,
            _whole_seconds(self._clock.now()),
            description,
            tags,
        )
        with self._store.transaction():
            if self._store.count_roles(caller.account_id) >= ROLES_PER_ACCOUNT:
                raise LimitExceeded.quota("RolesPerAccount", ROLES_PER_ACCOUNT)
            if not self._store.insert_role(role):
                raise EntityAlreadyExists.role(role_name)
        return role

    def get_role(self, caller: Caller, role_name: str) -> Role:
        return self._role(caller, "iam:GetRole", role_name)

    def list_roles(self, caller: Caller, path_prefix: str | None, after: str | None, limit: int) -> Page[Role]:
        authorize_identity_action(
            caller, "iam:ListRoles", roles_resource(partition_of(caller.region), caller.account_id)
        )
        return self._store.list_roles(caller.account_id, path_prefix or DEFAULT_PATH, after, limit)

    def delete_role(self, caller: Caller, role_name: str) -> None:
        with self._store.transaction():
            role = self._role(caller, "iam:DeleteRole", role_name)
            if self._store.inline_policies(caller.account_id, "role", role.role_name):
                raise DeleteConflict.policies()
            self._store.delete_role(caller.account_id, role.role_name)

    # ================================================================= inline policies

    def put_user_policy(self, caller: Caller, user_name: str, policy_name: str, document: str) -> None:
        with self._store.transaction():
            user = self._user(caller, "iam:PutUserPolicy", user_name)
            self._put_policy(caller, "user", user.user_name, policy_name, document, USER_POLICY_SIZE)

    def get_user_policy(self, caller: Caller, user_name: str, policy_name: str) -> InlinePolicy:
        user = self._user(caller, "iam:GetUserPolicy", user_name)
        policy = self._store.get_inline_policy(caller.account_id, "user", user.user_name, policy_name)
        if policy is None:
            raise NoSuchEntity.user_policy(policy_name)
        return policy

    def list_user_policies(self, caller: Caller, user_name: str) -> list[str]:
        user = self._user(caller, "iam:ListUserPolicies", user_name)
        return [p.policy_name for p in self._store.inline_policies(caller.account_id, "user", user.user_name)]

    def delete_user_policy(self, caller: Caller, user_name: str, policy_name: str) -> None:
        with self._store.transaction():
            user = self._user(caller, "iam:DeleteUserPolicy", user_name)
            if not self._store.delete_inline_policy(caller.account_id, "user", user.user_name, policy_name):
                raise NoSuchEntity.user_policy(policy_name)

    def put_role_policy(self, caller: Caller, role_name: str, policy_name: str, document: str) -> None:
        with self._store.transaction():
            role = self._role(caller, "iam:PutRolePolicy", role_name)
            self._put_policy(caller, "role", role.role_name, policy_name, document, ROLE_POLICY_SIZE)

    def get_role_policy(self, caller: Caller, role_name: str, policy_name: str) -> InlinePolicy:
        role = self._role(caller, "iam:GetRolePolicy", role_name)
        policy = self._store.get_inline_policy(caller.account_id, "role", role.role_name, policy_name)
        if policy is None:
            raise NoSuchEntity.role_policy(policy_name)
        return policy

    def list_role_policies(self, caller: Caller, role_name: str) -> list[str]:
        role = self._role(caller, "iam:ListRolePolicies", role_name)
        return [p.policy_name for p in self._store.inline_policies(caller.account_id, "role", role.role_name)]

    def delete_role_policy(self, caller: Caller, role_name: str, policy_name: str) -> None:
        with self._store.transaction():
            role = self._role(caller, "iam:DeleteRolePolicy", role_name)
            if not self._store.delete_inline_policy(caller.account_id, "role", role.role_name, policy_name):
                raise NoSuchEntity.role_policy(policy_name)

    def _put_policy(
        self, caller: Caller, owner_type: str, owner: str, policy_name: str, document: str, quota: int
    ) -> None:
        check_policy_document(document, trust=False)
        # The quota is on the sum of the owner's policies, counting the new version of this one.
        others = [
            p.document
            for p in self._store.inline_policies(caller.account_id, owner_type, owner)
            if p.policy_name.lower() != policy_name.lower()
        ]
        if sum(map(policy_size, others)) + policy_size(document) > quota:
            raise LimitExceeded.policy_size(quota, owner_type, owner)
        self._store.put_inline_policy(InlinePolicy(caller.account_id, owner_type, owner, policy_name, document))

    # ================================================================= STS

    def get_caller_identity(self, caller: Caller) -> CallerIdentity:
        """Always allowed, as in AWS (no policy can deny it)."""
        return CallerIdentity(caller.principal_id or caller.account_id, caller.account_id, caller.arn)

    def assume_role(
        self, caller: Caller, role_arn_text: str, session_name: str, duration_seconds: int | None
    ) -> NewSession:
        if _SESSION_NAME.fullmatch(session_name) is None:
            raise ValidationError(f"Invalid RoleSessionName: {session_name!r}")
        parsed = parse_role_arn(role_arn_text)
        if parsed is None:
            raise ValidationError(f"{role_arn_text} is not a valid role ARN")
        role = self._store.get_role(parsed.account_id, parsed.role_name)
        if role is None or role.arn != role_arn_text:
            # As AWS: a missing role is indistinguishable from one that does not trust the caller.
            raise AccessDeniedException(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn_text}"
            )
        authorize_assume_role(caller, role)
        duration = DEFAULT_MAX_SESSION_DURATION if duration_seconds is None else duration_seconds
        if caller.principal_type == "AssumedRole" and duration > ROLE_CHAINING_LIMIT:
            raise ValidationError.duration_exceeds_chaining_limit()
        if duration > role.max_session_duration:
            raise ValidationError.duration_exceeds_role_maximum()
        if duration < MIN_SESSION_DURATION:  # the wire model refuses it first; direct callers too
            raise ValidationError(
                validation_summary(
                    [
                        constraint_violation(
                            "durationSeconds",
                            f"Member must have value greater than or equal to {MIN_SESSION_DURATION}",
                            str(duration),
                        )
                    ]
                )
            )
        issued = _whole_seconds(self._clock.now())
        with self._store.transaction():
            self._store.delete_sessions_expired_before(issued - EXPIRED_SESSION_RETENTION)
            return self._identities.issue_session(role, session_name, issued, issued + timedelta(seconds=duration))

    # ================================================================= lookups with authorization

    def _user(self, caller: Caller, action: str, user_name: str) -> User:
        user = self._store.get_user(caller.account_id, user_name)
        if user is None:
            self._authorize_missing(caller, action, "user", user_name)
            raise NoSuchEntity.user(user_name)
        authorize_identity_action(caller, action, user.arn)
        return user

    def _role(self, caller: Caller, action: str, role_name: str) -> Role:
        role = self._store.get_role(caller.account_id, role_name)
        if role is None:
            self._authorize_missing(caller, action, "role", role_name)
            raise NoSuchEntity.role(role_name)
        authorize_identity_action(caller, action, role.arn)
        return role

    def _authorize_missing(self, caller: Caller, action: str, kind: str, name: str) -> None:
        """AWS authorizes before it looks: a caller without permission hears AccessDenied, not
        NoSuchEntity, so it cannot probe which names exist. The ARN assumes the default path."""
        build = user_arn if kind == "user" else role_arn
        authorize_identity_action(caller, action, build(partition_of(caller.region), caller.account_id, "/", name))
