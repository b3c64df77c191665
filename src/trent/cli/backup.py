"""``trent backup`` and ``trent restore``: still-sealed copies of a data directory's SQLite store.

``trent backup --data-dir D --to FILE`` copies ``D/trent.db`` with SQLite's online backup API, so it
can run while ``trent serve`` uses the directory: the copy is the state of one commit, the audit
chain whole. The copy holds key material and secrets only sealed under the root key and does NOT
hold the root key: keep ``D/root.key`` (backed up once; Trent never rewrites it) apart from the
backups. ``trent restore --data-dir D --from FILE`` needs that ``root.key`` in ``D`` and refuses,
before it changes anything, a backup whose material the key does not open. PostgreSQL stores are
backed up with PostgreSQL's tools (docs/operations.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from trent.cli.init import refuse_missing_store
from trent.config import ConfigError, Settings, settings_from_env
from trent.domain.errors import RootOfTrustError, StorageError
from trent.storage import sqlite_backup

if TYPE_CHECKING:
    from trent.rot.local_file import LocalFileRootOfTrust

_POSTGRES_HINT = (
    "the store is PostgreSQL: back it up with pg_dump -Fc and restore it with pg_restore "
    "(docs/operations.md, 'Backups'); keep root.key apart from the dumps"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        help="copy the SQLite store to a file while the server runs (still sealed; root.key is not in it)",
        description="Copy the data directory's SQLite store to FILE with SQLite's online backup: a "
        "consistent snapshot, safe while trent serve runs. Key material stays sealed under the root "
        "key, which is NOT in the copy: keep <data-dir>/root.key separately.",
    )
    backup.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    backup.add_argument("--to", dest="target", type=Path, required=True, metavar="FILE", help="the backup file")
    backup.add_argument("--database", metavar="URL", help="postgresql://... (TRENT_DATABASE_URL): see pg_dump")

    restore = sub.add_parser(
        "restore",
        help="put a backup in place as the data directory's store (needs the same root.key there)",
        description="Restore a file made by trent backup into the data directory, with trent serve "
        "stopped. The directory must hold the root.key the backup is sealed under; a backup it does "
        "not open is refused before anything changes.",
    )
    restore.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE", help="the backup file")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace an existing trent.db (kept as trent.db.replaced, with its WAL)",
    )
    restore.add_argument("--database", metavar="URL", help="postgresql://... (TRENT_DATABASE_URL): see pg_restore")


def _fail(message: str) -> int:
    print(f"trent: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Settings:
    return settings_from_env(data_dir=args.data_dir, database_url=args.database)


def run_backup(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        return _fail(str(exc))
    if settings.database_url:
        return _fail(_POSTGRES_HINT)
    if refuse_missing_store(settings):
        return 2
    target: Path = args.target
    if target.resolve() == settings.database_path.resolve():
        return _fail("the backup file must not be the database itself")
    if not target.parent.is_dir():
        return _fail(f"no directory {target.parent} for the backup file")
    try:
        info = sqlite_backup.backup(settings.database_path, target)
    except (StorageError, OSError) as exc:
        return _fail(str(exc))
    if info.root_check is None:
        print("trent: warning: the store has never been opened by a server; its backup holds no root check")
    print(
        f"backed up {settings.database_path} to {target} ({info.size} bytes, mode 0600: {info.keys} keys, "
        f"{info.audit_records} audit records, schema {info.schema_version})"
    )
    print(
        f"the backup is sealed under {settings.root_key_path}, which it does not contain: keep that file "
        "separately; trent restore needs it"
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        return _fail(str(exc))
    if settings.database_url:
        return _fail(_POSTGRES_HINT)
    source: Path = args.source
    try:
        info = sqlite_backup.inspect(source)
    except StorageError as exc:
        return _fail(str(exc))
    if not settings.root_key_path.exists():
        return _fail(
            f"no root.key in {settings.data_dir}: copy there (mode 0600) the root.key the backup is sealed under"
        )
    from trent.rot.local_file import LocalFileRootOfTrust  # noqa: PLC0415 - `trent --help` stays fast

    if info.root_check is None:
        return _fail(f"{source} holds no root check: it is not a backup of a store Trent has served")
    try:
        root = LocalFileRootOfTrust.load(settings.root_key_path)
    except RootOfTrustError as exc:
        return _fail(f"cannot use the data directory's root key: {exc}")
    try:
        _check_root(root, info.root_check)
    except RootOfTrustError:
        return _fail(
            f"{settings.root_key_path} does not open this backup: it is sealed under another root key "
            "(restore needs the root.key of the data directory the backup was made from)"
        )
    database = settings.database_path
    if database.exists() and not args.force:
        return _fail(f"{database} exists: stop the server and pass --force to replace it (it is kept as a copy)")
    if database.exists() and sqlite_backup.in_use(database):
        return _fail(f"{database} is in use: stop trent serve (and any trent admin command) before restoring")
    try:
        restored = sqlite_backup.restore(source, database, replace=args.force)
    except (StorageError, OSError) as exc:
        return _fail(str(exc))
    print(
        f"restored {source} to {database} ({restored.keys} keys, {restored.audit_records} audit records, "
        f"schema {restored.schema_version})"
    )
    if args.force:
        print(f"the replaced database is kept as {database}{sqlite_backup.REPLACED_SUFFIX}")
    print(f"next: trent audit verify --data-dir {settings.data_dir}, then trent serve")
    return 0


def _check_root(root: LocalFileRootOfTrust, sealed: bytes) -> None:
    """The backup's root check opens under this root key (bootstrap checks the same at every start)."""
    from trent.bootstrap import ROOT_CHECK_AAD  # noqa: PLC0415 - the one definition of the check's AAD

    root.unseal(sealed, ROOT_CHECK_AAD)
