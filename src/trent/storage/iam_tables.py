"""IAM identities: implements ``trent.services.iam_ports.IamStore`` (with the rest of the store)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trent.domain.iam import AccessKeyMetadata, Account, InlinePolicy, Role, Session, User
from trent.domain.identity import AccessKey
from trent.domain.paging import Page
from trent.storage.sql_base import SqlBase
from trent.storage.sql_base import ts as _ts

_USER_COLUMNS = "account_id, user_name, path, arn, user_id, create_date, tags"
_ROLE_COLUMNS = (
    "account_id, role_name, path, arn, role_id, assume_role_policy, max_session_duration, create_date, "
    "description, tags"
)
_SESSION_COLUMNS = (
    "access_key_id, account_id, sealed_secret, token_digest, role_arn, role_id, role_name, session_name, "
    "issued, expires"
)


def _when(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _tags_out(tags: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([[key, value] for key, value in tags])


def _tags_in(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(key), str(value)) for key, value in json.loads(text))


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], row[3], row[4], _when(row[5]), _tags_in(row[6]))


def _role(row: Sequence[Any]) -> Role:
    return Role(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]), _when(row[7]), row[8], _tags_in(row[9]))


def _session(row: Sequence[Any]) -> Session:
    return Session(
        row[0], row[1], bytes(row[2]), bytes(row[3]), row[4], row[5], row[6], row[7], _when(row[8]), _when(row[9])
    )


def _page_by_name(rows: list[Any], limit: int, name_column: int) -> tuple[list[Any], str | None]:
    """Rows were fetched with ``limit + 1``: the extra one only says that more follow."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1][name_column]) if more and rows else None)


class IamTables(SqlBase):
    # ----------------------------------------------------------------- change tracking

    def iam_generation(self) -> int:
        with self._lock:
            return int(self._execute("SELECT value FROM iam_generation WHERE id = 1").fetchone()[0])

    def _bump_generation(self) -> None:
        self._execute("UPDATE iam_generation SET value = value + 1 WHERE id = 1")

    # ----------------------------------------------------------------- accounts

    def insert_account(self, account: Account) -> bool:
        return self._insert_unique(
            "INSERT INTO iam_accounts (account_id, create_date) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (account.account_id, _ts(account.create_date)),
        )

    def get_account(self, account_id: str) -> Account | None:
        with self._lock:
            row = self._execute(
                "SELECT account_id, create_date FROM iam_accounts WHERE account_id = ?", (account_id,)
            ).fetchone()
        return None if row is None else Account(row[0], _when(row[1]))

    # ----------------------------------------------------------------- users

    def insert_user(self, user: User) -> bool:
        return self._insert_unique(
            f"INSERT INTO iam_users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                user.account_id,
                user.user_name,
                user.path,
                user.arn,
                user.user_id,
                _ts(user.create_date),
                _tags_out(user.tags),
            ),
        )

    def get_user(self, account_id: str, user_name: str) -> User | None:
        with self._lock:
            row = self._execute(
                f"SELECT {_USER_COLUMNS} FROM iam_users WHERE account_id = ? AND user_name = ?",
                (account_id, user_name),
            ).fetchone()
        return None if row is None else _user(row)

    def list_users(self, account_id: str, path_prefix: str, after: str | None, limit: int) -> Page[User]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_USER_COLUMNS} FROM iam_users WHERE account_id = ? AND substr(path, 1, ?) = ? "
                "AND user_name > ? ORDER BY user_name LIMIT ?",
                (account_id, len(path_prefix), path_prefix, after or "", limit + 1),
            ).fetchall()
        rows, position = _page_by_name(rows, limit, 1)
        return Page([_user(row) for row in rows], position)

    def count_users(self, account_id: str) -> int:
        with self._lock:
            return int(
                self._execute("SELECT COUNT(*) FROM iam_users WHERE account_id = ?", (account_id,)).fetchone()[0]
            )

    def delete_user(self, account_id: str, user_name: str) -> None:
        with self.transaction():
            self._execute("DELETE FROM iam_users WHERE account_id = ? AND user_name = ?", (account_id, user_name))
            self._bump_generation()

    # ----------------------------------------------------------------- roles

    def insert_role(self, role: Role) -> bool:
        return self._insert_unique(
            f"INSERT INTO iam_roles ({_ROLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                role.account_id,
                role.role_name,
                role.path,
                role.arn,
                role.role_id,
                role.assume_role_policy_document,
                role.max_session_duration,
                _ts(role.create_date),
                role.description,
                _tags_out(role.tags),
            ),
        )

    def get_role(self, account_id: str, role_name: str) -> Role | None:
        with self._lock:
            row = self._execute(
                f"SELECT {_ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? AND role_name = ?",
                (account_id, role_name),
            ).fetchone()
        return None if row is None else _role(row)

    def list_roles(self, account_id: str, path_prefix: str, after: str | None, limit: int) -> Page[Role]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? AND substr(path, 1, ?) = ? "
                "AND role_name > ? ORDER BY role_name LIMIT ?",
                (account_id, len(path_prefix), path_prefix, after or "", limit + 1),
            ).fetchall()
        rows, position = _page_by_name(rows, limit, 1)
        return Page([_role(row) for row in rows], position)

    def count_roles(self, account_id: str) -> int:
        with self._lock:
            return int(
                self._execute("SELECT COUNT(*) FROM iam_roles WHERE account_id = ?", (account_id,)).fetchone()[0]
            )

    def delete_role(self, account_id: str, role_name: str) -> None:
        with self.transaction():
            row = self._execute(
                "SELECT role_id FROM iam_roles WHERE account_id = ? AND role_name = ?", (account_id, role_name)
            ).fetchone()
            if row is None:
                return
            # A deleted role's sessions end with it, so a role made later under the same name
            # never inherits them.
            self._execute("DELETE FROM iam_sessions WHERE role_id = ?", (row[0],))
            self._execute("DELETE FROM iam_roles WHERE account_id = ? AND role_name = ?", (account_id, role_name))
            self._bump_generation()

    # ----------------------------------------------------------------- inline policies

    def put_inline_policy(self, policy: InlinePolicy) -> None:
        with self.transaction():
            self._execute(
                "INSERT INTO iam_inline_policies (account_id, owner_type, owner_name, policy_name, document) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, owner_type, owner_name, policy_name) "
                "DO UPDATE SET policy_name = excluded.policy_name, document = excluded.document",
                (policy.account_id, policy.owner_type, policy.owner_name, policy.policy_name, policy.document),
            )
            self._bump_generation()

    def get_inline_policy(
        self, account_id: str, owner_type: str, owner_name: str, policy_name: str
    ) -> InlinePolicy | None:
        with self._lock:
            row = self._execute(
                "SELECT account_id, owner_type, owner_name, policy_name, document FROM iam_inline_policies "
                "WHERE account_id = ? AND owner_type = ? AND owner_name = ? AND policy_name = ?",
                (account_id, owner_type, owner_name, policy_name),
            ).fetchone()
        return None if row is None else InlinePolicy(row[0], row[1], row[2], row[3], row[4])

    def inline_policies(self, account_id: str, owner_type: str, owner_name: str) -> Sequence[InlinePolicy]:
        with self._lock:
            rows = self._execute(
                "SELECT account_id, owner_type, owner_name, policy_name, document FROM iam_inline_policies "
                "WHERE account_id = ? AND owner_type = ? AND owner_name = ? ORDER BY policy_name",
                (account_id, owner_type, owner_name),
            ).fetchall()
        return [InlinePolicy(row[0], row[1], row[2], row[3], row[4]) for row in rows]

    def delete_inline_policy(self, account_id: str, owner_type: str, owner_name: str, policy_name: str) -> bool:
        with self.transaction():
            cursor = self._execute(
                "DELETE FROM iam_inline_policies WHERE account_id = ? AND owner_type = ? AND owner_name = ? "
                "AND policy_name = ?",
                (account_id, owner_type, owner_name, policy_name),
            )
            if cursor.rowcount == 0:
                return False
            self._bump_generation()
            return True

    # ----------------------------------------------------------------- access keys

    def add_access_key(self, access_key: AccessKey, created: datetime) -> None:
        self._write(
            "INSERT INTO access_keys (access_key_id, account_id, principal_arn, principal_type, user_name, "
            "sealed_secret, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                access_key.access_key_id,
                access_key.account_id,
                access_key.principal_arn,
                access_key.principal_type,
                access_key.user_name,
                access_key.sealed_secret,
                access_key.status,
                _ts(created),
            ),
        )

    def access_keys_of(self, account_id: str, user_name: str | None) -> Sequence[AccessKeyMetadata]:
        with self._lock:
            if user_name is None:
                rows = self._execute(
                    "SELECT access_key_id, account_id, user_name, status, created_at FROM access_keys "
                    "WHERE account_id = ? AND principal_type = 'Root' ORDER BY created_at, access_key_id",
                    (account_id,),
                ).fetchall()
            else:
                rows = self._execute(
                    "SELECT access_key_id, account_id, user_name, status, created_at FROM access_keys "
                    "WHERE account_id = ? AND principal_type = 'IAMUser' AND user_name = ? "
                    "ORDER BY created_at, access_key_id",
                    (account_id, user_name),
                ).fetchall()
        return [AccessKeyMetadata(row[0], row[1], row[2], row[3], _when(row[4])) for row in rows]

    def set_access_key_status(self, access_key_id: str, status: str) -> bool:
        with self.transaction():
            cursor = self._execute("UPDATE access_keys SET status = ? WHERE access_key_id = ?", (status, access_key_id))
            if cursor.rowcount == 0:
                return False
            self._bump_generation()  # cached credentials in every process must see the new status
            return True

    def delete_access_key(self, access_key_id: str) -> bool:
        with self.transaction():
            cursor = self._execute("DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))
            if cursor.rowcount == 0:
                return False
            self._bump_generation()
            return True

    # ----------------------------------------------------------------- sessions

    def insert_session(self, session: Session) -> None:
        self._write(
            f"INSERT INTO iam_sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.access_key_id,
                session.account_id,
                session.sealed_secret,
                session.token_digest,
                session.role_arn,
                session.role_id,
                session.role_name,
                session.session_name,
                _ts(session.issued),
                _ts(session.expires),
            ),
        )

    def get_session(self, access_key_id: str) -> Session | None:
        with self._lock:
            row = self._execute(
                f"SELECT {_SESSION_COLUMNS} FROM iam_sessions WHERE access_key_id = ?", (access_key_id,)
            ).fetchone()
        return None if row is None else _session(row)

    def delete_sessions_expired_before(self, when: datetime) -> int:
        with self.transaction():
            cursor = self._execute("DELETE FROM iam_sessions WHERE expires < ?", (_ts(when),))
            if cursor.rowcount:
                self._bump_generation()
            return int(cursor.rowcount)
