"""The ``trent`` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from trent import __version__
from trent.cli import audit as audit_cli
from trent.cli import backup as backup_cli
from trent.cli import iam as iam_cli
from trent.cli import init as init_cli
from trent.client_config import endpoint_url
from trent.config import ConfigError, Settings, settings_from_env
from trent.domain.errors import RootOfTrustError

if TYPE_CHECKING:
    from trent.services.identity import NewAccessKey


class CliError(Exception):
    """A failure the command reports in one line (``trent: ...``) with its exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


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
    serve.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (TRENT_TLS_CERT)")
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's PEM private key (TRENT_TLS_KEY)")
    serve.add_argument(
        "--tls-self-signed",
        action="store_true",
        default=None,
        help="development HTTPS: a local CA and server certificate kept in the data directory; clients "
        "trust <data-dir>/ca.pem (TRENT_TLS_SELF_SIGNED)",
    )
    serve.add_argument(
        "--log-format", choices=("text", "json"), help="log lines as text or JSON (TRENT_LOG_FORMAT, default text)"
    )
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="the least severe lines logged (TRENT_LOG_LEVEL, default info: one line per request)",
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
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_self_signed=args.tls_self_signed,
        log_format=args.log_format,
        log_level=args.log_level,
    )


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything says the server is up (as uvicorn binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", status=3) from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> int:
    # Imported here so that admin commands (and --help) start fast.
    import uvicorn  # noqa: PLC0415
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from trent.api.http_protocol import GuardedHttpToolsProtocol  # noqa: PLC0415
    from trent.api.telemetry import MULTIPROC_ENV, configure_logging  # noqa: PLC0415
    from trent.bootstrap import initialize  # noqa: PLC0415
    from trent.cli import tls as tls_cli  # noqa: PLC0415

    tls = tls_cli.prepare(settings)  # before the store: a bad certificate changes nothing
    configure_logging(settings.log_format, settings.log_level)
    admin = initialize(settings)
    os.environ.update(settings.to_env())
    if settings.workers > 1:
        # prometheus-client's multi-process mode: each worker's values in files, summed by /metrics.
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(mode=0o700, parents=True)
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
    config = uvicorn.Config(
        "trent.bootstrap:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,  # httptools, with a deadline for request headers (slowloris)
        access_log=False,  # Trent writes its own, one line per request (trent.access)
        server_header=False,  # AWS KMS answers without one; no need to name the stack either
        log_config=None,  # logging is configured by Trent (--log-format, --log-level)
        lifespan="on",
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        # An idle keep-alive TLS client never answers the close_notify of a shutdown, so uvicorn
        # would wait for the SSL shutdown timeout (30 s) on every one of them before it exits.
        timeout_graceful_shutdown=tls_cli.SHUTDOWN_SECONDS if tls else None,
    )
    sock = _listen(settings.host, settings.port)
    _banner(settings, admin)
    for line in tls_cli.banner(tls):
        print(line, flush=True)
    server = uvicorn.Server(config)
    if settings.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
    return 0


def _banner(settings: Settings, admin: NewAccessKey | None) -> None:
    endpoint = endpoint_url(settings)  # https:// under TLS; 127.0.0.1 for 0.0.0.0
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
    print(f"  or set AWS_ENDPOINT_URL_KMS={endpoint} for any AWS SDK", file=out)
    print(f"  console: {endpoint}/console", file=out)
    print(
        f"  metrics: {endpoint}/metrics   health: {endpoint}/_trent/health   ready: {endpoint}/_trent/ready", file=out
    )
    out.flush()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="trent", description="Trent: a key management service with the AWS KMS API")
    parser.add_argument("--version", action="version", version=f"trent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _migrate_parser(sub)
    iam_cli.register(sub)
    audit_cli.register(sub)
    init_cli.register(sub)
    backup_cli.register(sub)
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except ConfigError as exc:
        parser.error(str(exc))
    except CliError as exc:
        return _fail(str(exc), exc.status)
    except RootOfTrustError as exc:
        return _fail(str(exc), 2)
    except BrokenPipeError:
        # The reader went away (`trent iam list-users | head`): say so once, quietly.
        _silence_stdout()
        return _fail("output closed before it was all written", 1)
    except OSError as exc:
        # FileNotFoundError, PermissionError, ... from the data directory or a file argument.
        reason = exc.strerror or str(exc)
        return _fail(f"{exc.filename}: {reason}" if exc.filename else reason, 1)
    except KeyboardInterrupt:
        return 130
    return 2


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "serve":
        return serve(_settings(args))
    if args.command == "migrate":
        return migrate(settings_from_env(data_dir=args.data_dir, database_url=args.database))
    if args.command == "iam":
        return iam_cli.run(args, parser.error)
    if args.command == "audit":
        return audit_cli.run(args, parser.error)
    if args.command == "init":
        return init_cli.run(args)
    if args.command == "backup":
        return backup_cli.run_backup(args)
    if args.command == "restore":
        return backup_cli.run_restore(args)
    return 2


def _fail(message: str, status: int) -> int:
    with contextlib.suppress(OSError):
        print(f"trent: {message}", file=sys.stderr, flush=True)
    return status


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the pipe gone that would raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
