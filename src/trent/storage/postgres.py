"""The PostgreSQL store: the same tables as the embedded one, on a server several nodes share."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from trent.storage.audit_tables import AuditTables, StoreAuditWriter
from trent.storage.console_tables import ConsoleSessionTables
from trent.storage.grant_tables import GrantTables
from trent.storage.iam_tables import IamTables
from trent.storage.key_tables import KeyTables
from trent.storage.postgres_base import PostgresBase, StateListener, migrate, open_pool


class PostgresStore(KeyTables, AuditTables, IamTables, GrantTables, ConsoleSessionTables, PostgresBase):
    """Implements ``trent.services.ports.Store`` (and the IAM and audit stores) on PostgreSQL."""

    @classmethod
    def connect(cls, url: str, *, apply_migrations: bool = True, listen: bool = False) -> PostgresStore:
        """``listen``: take other nodes' state changes from NOTIFY instead of a read per request."""
        pool = open_pool(url)
        if apply_migrations:
            migrate(pool)
        return cls(pool, owns_pool=True, listener=StateListener(url) if listen else None)


def postgres_audit_writer(store: PostgresStore) -> StoreAuditWriter:
    """The group committer's writer: a store object of its own on the same pool."""
    return StoreAuditWriter(PostgresStore(store.pool))


__all__ = ["ConnectionPool", "PostgresStore", "postgres_audit_writer"]
