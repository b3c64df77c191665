"""The ``trent`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from trent import __version__
from trent.cli import audit as audit_cli
from trent.cli import iam as iam_cli
from trent.config import ConfigError, Settings, settings_from_env
from trent.domain.errors import RootOfTrustError


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the AWS KMS API")
    serve.add_argument("--host", help="listen address (TRENT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (TRENT_PORT, default 4599)")
    serve.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    serve.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="accept any well-formed SigV4 credentials as the account root (TRENT_DEV)",
    )
    serve.add_argument("--account-id", help="12-digit account id (TRENT_ACCOUNT_ID, default 111122223333)")
    serve.add_argument("--workers", type=int, help="worker processes (TRENT_WORKERS, default 1)")
    serve.add_argument(
        "--database",
        metavar="URL",
        help="postgresql://... to run on PostgreSQL, shared by several nodes (TRENT_DATABASE_URL; "
        "default: SQLite in the data directory)",
    )


def _migrate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser("migrate", help="apply the database schema migrations, then exit")
    migrate.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    migrate.add_argument("--database", metavar="URL", help="postgresql://... (TRENT_DATABASE_URL)")


def migrate(settings: Settings) -> int:
    """Open the store, which applies what migrations are missing (serve does the same at start)."""
    from trent.bootstrap import build  # noqa: PLC0415

    components = build(settings)
    components.store.close()
    where = "PostgreSQL" if settings.database_url else str(settings.database_path)
    print(f"schema up to date ({where})")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return settings_from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        dev=args.dev,
        account_id=args.account_id,
        workers=args.workers,
        database_url=args.database,
    )


def serve(settings: Settings) -> int:
    # Imported here so that admin commands (and --help) start fast.
    import uvicorn  # noqa: PLC0415

    from trent.bootstrap import initialize  # noqa: PLC0415

    admin = initialize(settings)
    endpoint = f"http://{settings.host}:{settings.port}"
    out = sys.stdout
    print(f"Trent {__version__} serving the AWS KMS API on {endpoint}", file=out)
    storage = "PostgreSQL" if settings.database_url else "SQLite"
    print(f"  data directory: {settings.data_dir.resolve()} ({storage}, local root key)", file=out)
    if settings.dev:
        print("  --dev: any well-formed SigV4 credentials act as the root of account " + settings.account_id, file=out)
        print("  try:", file=out)
        print("    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1", file=out)
    else:
        if admin is not None:
            print(f"  created admin access key {admin.access_key_id} (secret shown only in the file below)", file=out)
        print(f"  credentials: profile 'trent' in {settings.credentials_path.resolve()} (mode 0600)", file=out)
        print("  try:", file=out)
        print(
            f"    export AWS_SHARED_CREDENTIALS_FILE={settings.credentials_path.resolve()} "
            f"AWS_CONFIG_FILE={(settings.data_dir / 'config').resolve()} AWS_PROFILE=trent",
            file=out,
        )
    print(f"    aws --endpoint-url {endpoint} kms create-key --description demo", file=out)
    print(f"  or set AWS_ENDPOINT_URL_KMS={endpoint} for any AWS SDK", file=out, flush=True)

    os.environ.update(settings.to_env())
    uvicorn.run(
        "trent.bootstrap:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        loop="uvloop",
        http="httptools",
        access_log=False,
        server_header=False,  # AWS KMS answers without one; no need to name the stack either
        log_level="warning",
        lifespan="on",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="trent", description="Trent: a key management service with the AWS KMS API")
    parser.add_argument("--version", action="version", version=f"trent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _migrate_parser(sub)
    iam_cli.register(sub)
    audit_cli.register(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(_settings(args))
        if args.command == "migrate":
            return migrate(settings_from_env(data_dir=args.data_dir, database_url=args.database))
        if args.command == "iam":
            return iam_cli.run(args, parser.error)
        if args.command == "audit":
            return audit_cli.run(args, parser.error)
    except ConfigError as exc:
        parser.error(str(exc))
    except RootOfTrustError as exc:
        print(f"trent: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
