"""``trent init``: create a data directory's store explicitly, and the check the admin commands share.

Admin commands (``trent iam``, ``trent audit``, ``trent backup``) act on an existing store and refuse
a directory without one, so that a mistyped ``--data-dir`` does not quietly become a new, empty
store with a root key of its own. ``trent init`` (or the first ``trent serve``) creates one: the
data directory (mode 0700), ``root.key`` (mode 0600), the schema, the account's admin access key
and the ``trent`` profile (``credentials`` and ``config``, mode 0600).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trent.config import ConfigError, Settings, settings_from_env


def missing_store(settings: Settings) -> str:
    """Why the settings' data directory holds no Trent store ("" when it holds one)."""
    directory = settings.data_dir
    if settings.database_url:
        if not settings.root_key_path.exists():
            return f"no root.key in {directory}: copy the store's root.key there (use --data-dir or TRENT_DATA_DIR)"
        return ""
    if not settings.database_path.exists():
        where = "no such directory" if not directory.exists() else "no trent.db"
        return (
            f"no Trent store in {directory} ({where}): use --data-dir or TRENT_DATA_DIR, "
            f"or create one with: trent init --data-dir {directory}"
        )
    return ""


def refuse_missing_store(settings: Settings) -> bool:
    """Print the one-line error and answer True when there is no store."""
    problem = missing_store(settings)
    if problem:
        print(f"trent: {problem}", file=sys.stderr)
    return bool(problem)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help="create a Trent store in a data directory (root key, schema, admin profile)",
        description="Create the data directory's store: root.key (mode 0600; back it up apart from "
        "the database), the schema, the account's admin access key and profile 'trent' in "
        "<data-dir>/credentials and <data-dir>/config. An existing store is left as it is.",
    )
    init.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    init.add_argument("--account-id", help="12-digit account id (TRENT_ACCOUNT_ID, default 111122223333)")
    init.add_argument("--database", metavar="URL", help="postgresql://... (TRENT_DATABASE_URL)")


def run(args: argparse.Namespace) -> int:
    from trent.bootstrap import initialize  # noqa: PLC0415 - `trent --help` stays fast

    try:
        settings = settings_from_env(data_dir=args.data_dir, account_id=args.account_id, database_url=args.database)
    except ConfigError as exc:
        print(f"trent: {exc}", file=sys.stderr)
        return 2
    existed = not settings.database_url and settings.database_path.exists()
    try:
        admin = initialize(settings)
    except OSError as exc:
        print(f"trent: cannot create the store in {settings.data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    directory = settings.data_dir.resolve()
    where = "PostgreSQL" if settings.database_url else str(settings.database_path.resolve())
    print(f"{'a Trent store was already in' if existed else 'Trent store ready in'} {directory} ({where})")
    print(f"  root key: {settings.root_key_path.resolve()} (mode 0600): back it up apart from the database")
    if admin is not None:
        print(f"  admin access key {admin.access_key_id} of account {settings.account_id}: profile 'trent' in")
        print(f"    {settings.credentials_path.resolve()} (mode 0600; the secret is only there)")
    print(
        f"  use it: AWS_SHARED_CREDENTIALS_FILE={settings.credentials_path.resolve()} "
        f"AWS_CONFIG_FILE={(settings.data_dir / 'config').resolve()} AWS_PROFILE=trent aws kms list-keys"
    )
    print(f"  (with trent serve --data-dir {settings.data_dir} running)")
    return 0
