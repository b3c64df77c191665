"""The embedded store: one SQLite file in WAL mode with synchronous=FULL (durable on commit)."""

from __future__ import annotations

from pathlib import Path

from trent.storage.audit_tables import AuditTables, StoreAuditWriter
from trent.storage.console_tables import ConsoleSessionTables
from trent.storage.grant_tables import GrantTables
from trent.storage.iam_tables import IamTables
from trent.storage.key_tables import KeyTables
from trent.storage.sqlite_base import SqliteBase


class SqliteStore(KeyTables, AuditTables, IamTables, GrantTables, ConsoleSessionTables, SqliteBase):
    """Implements ``trent.services.ports.Store`` (and the IAM and audit stores) on one SQLite file."""


def sqlite_audit_writer(path: Path) -> StoreAuditWriter:
    """The group committer's writer: a connection of its own on the same file (a serving process's,
    so a WalCheckpointer does its checkpoints)."""
    return StoreAuditWriter(SqliteStore(path, migrate=False, background_checkpoints=True))
