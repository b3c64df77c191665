"""The port the identity services need: accounts, users, roles, inline policies, keys and sessions."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from trent.domain.iam import AccessKeyMetadata, Account, InlinePolicy, Role, Session, User
from trent.domain.identity import AccessKey
from trent.domain.paging import Page


class IamStore(Protocol):
    """Repository of IAM identities. Every method runs in its own transaction unless called inside
    ``transaction()``. Name uniqueness (case-insensitive, as in IAM) is enforced by the store itself.

    Every change that can alter who a credential is or what it may do (deleting a key, user, role
    or session; changing a policy) increments ``iam_generation`` in the same transaction, so that a
    cache in any process can tell it is stale.
    """

    def transaction(self) -> AbstractContextManager[None]: ...

    def change_token(self) -> int:
        """Changes whenever any process has committed anything (cheap: compared per request)."""
        ...

    def iam_generation(self) -> int: ...

    # accounts
    def insert_account(self, account: Account) -> bool:
        """False when the account exists already."""
        ...

    def get_account(self, account_id: str) -> Account | None: ...

    # users
    def insert_user(self, user: User) -> bool:
        """False when the name is taken in the account (in any letter case)."""
        ...

    def get_user(self, account_id: str, user_name: str) -> User | None: ...
    def list_users(self, account_id: str, path_prefix: str, after: str | None, limit: int) -> Page[User]: ...
    def count_users(self, account_id: str) -> int: ...
    def delete_user(self, account_id: str, user_name: str) -> None: ...

    # roles
    def insert_role(self, role: Role) -> bool:
        """False when the name is taken in the account (in any letter case)."""
        ...

    def get_role(self, account_id: str, role_name: str) -> Role | None: ...
    def list_roles(self, account_id: str, path_prefix: str, after: str | None, limit: int) -> Page[Role]: ...
    def count_roles(self, account_id: str) -> int: ...
    def delete_role(self, account_id: str, role_name: str) -> None:
        """Also ends the role's sessions."""
        ...

    # inline policies (owner_type "user" or "role")
    def put_inline_policy(self, policy: InlinePolicy) -> None:
        """Insert, or replace the document of the policy with that name."""
        ...

    def get_inline_policy(
        self, account_id: str, owner_type: str, owner_name: str, policy_name: str
    ) -> InlinePolicy | None: ...
    def inline_policies(self, account_id: str, owner_type: str, owner_name: str) -> Sequence[InlinePolicy]:
        """All of one user's or role's inline policies, by name."""
        ...

    def delete_inline_policy(self, account_id: str, owner_type: str, owner_name: str, policy_name: str) -> bool:
        """False when there was no such policy."""
        ...

    # access keys (long-term)
    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def add_access_key(self, access_key: AccessKey, created: datetime) -> None: ...
    def access_keys_of(self, account_id: str, user_name: str | None) -> Sequence[AccessKeyMetadata]:
        """A user's keys, or with ``user_name`` None the keys of the account root; oldest first."""
        ...

    def set_access_key_status(self, access_key_id: str, status: str) -> bool:
        """Set a key's status ("Active" or "Inactive"); False when there was no such key."""
        ...

    def delete_access_key(self, access_key_id: str) -> bool:
        """False when there was no such key."""
        ...

    # sessions (temporary credentials)
    def insert_session(self, session: Session) -> None: ...
    def get_session(self, access_key_id: str) -> Session | None: ...
    def delete_sessions_expired_before(self, when: datetime) -> int: ...
