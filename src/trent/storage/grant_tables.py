"""Grants: the grant table behind the grant part of ``Store``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trent.domain.grants import Grant
from trent.domain.paging import Page
from trent.storage.sql_base import SqlBase
from trent.storage.sql_base import ts as _ts

_COLUMNS = (
    "grant_id, key_id, region, key_account_id, name, grantee_principal, retiring_principal, operations, "
    "constraints, creation_date, issuing_account, rowid"
)


def _from_row(row: Sequence[Any]) -> Grant:
    constraints = json.loads(row[8]) if row[8] else {}
    return Grant(
        grant_id=row[0],
        key_id=row[1],
        region=row[2],
        key_account_id=row[3],
        name=row[4],
        grantee_principal=row[5],
        retiring_principal=row[6],
        operations=tuple(json.loads(row[7])),
        encryption_context_equals=constraints.get("EncryptionContextEquals"),
        encryption_context_subset=constraints.get("EncryptionContextSubset"),
        creation_date=datetime.fromtimestamp(row[9], UTC),
        issuing_account=row[10],
    )


class GrantTables(SqlBase):
    def insert_grant(self, grant: Grant) -> None:
        constraints: dict[str, Any] = {}
        if grant.encryption_context_equals is not None:
            constraints["EncryptionContextEquals"] = dict(grant.encryption_context_equals)
        if grant.encryption_context_subset is not None:
            constraints["EncryptionContextSubset"] = dict(grant.encryption_context_subset)
        self._write(
            "INSERT INTO grants (grant_id, key_id, region, key_account_id, name, grantee_principal, "
            "retiring_principal, operations, constraints, creation_date, issuing_account) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                grant.grant_id,
                grant.key_id,
                grant.region,
                grant.key_account_id,
                grant.name,
                grant.grantee_principal,
                grant.retiring_principal,
                json.dumps(list(grant.operations)),
                json.dumps(constraints) if constraints else None,
                _ts(grant.creation_date),
                grant.issuing_account,
            ),
        )

    def delete_grant(self, grant_id: str) -> None:
        self._write("DELETE FROM grants WHERE grant_id = ?", (grant_id,))

    def delete_grants_of_key(self, region: str, key_id: str) -> None:
        self._write("DELETE FROM grants WHERE region = ? AND key_id = ?", (region, key_id))

    def get_grant(self, grant_id: str) -> Grant | None:
        with self._lock:
            row = self._execute(f"SELECT {_COLUMNS} FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
        return None if row is None else _from_row(row)

    def grants_of_key(self, region: str, key_id: str) -> Sequence[Grant]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_COLUMNS} FROM grants WHERE region = ? AND key_id = ? ORDER BY rowid", (region, key_id)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def list_grants(
        self,
        region: str,
        key_id: str,
        grant_id: str | None,
        grantee_principal: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Grant]:
        sql = f"SELECT {_COLUMNS} FROM grants WHERE region = ? AND key_id = ? AND rowid > ?"
        params: list[Any] = [region, key_id, int(after) if after else 0]
        if grant_id is not None:
            sql += " AND grant_id = ?"
            params.append(grant_id)
        if grantee_principal is not None:
            sql += " AND grantee_principal = ?"
            params.append(grantee_principal)
        sql += " ORDER BY rowid LIMIT ?"
        params.append(limit + 1)
        with self._lock:
            rows = self._execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_from_row(r) for r in rows], str(rows[-1][11]) if more and rows else None)

    def list_retirable_grants(self, retiring_principal: str, after: str | None, limit: int) -> Page[Grant]:
        with self._lock:
            rows = self._execute(
                f"SELECT {_COLUMNS} FROM grants WHERE retiring_principal = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                (retiring_principal, int(after) if after else 0, limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_from_row(r) for r in rows], str(rows[-1][11]) if more and rows else None)

    def count_grants(self, region: str, key_id: str) -> int:
        with self._lock:
            row = self._execute(
                "SELECT COUNT(*) FROM grants WHERE region = ? AND key_id = ?", (region, key_id)
            ).fetchone()
        return int(row[0])
