"""Composition root: settings -> concrete adapters -> services -> the ASGI app."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson

from trent.api.app import ApiConfig, KmsApi, Route
from trent.api.handlers.cloudtrail import CloudTrailApi
from trent.api.query import QueryHandler
from trent.clock import SystemClock
from trent.config import Settings, settings_from_env
from trent.domain.errors import RootOfTrustError
from trent.domain.keys import Key
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.audit import AuditService, GroupCommitter
from trent.services.iam import IamService
from trent.services.identity import IdentityService, NewAccessKey
from trent.services.kms import Kms
from trent.services.material import new_key_material
from trent.services.material_pool import MaterialPool
from trent.services.principals import PrincipalDirectory
from trent.storage.audit_tables import StoreAuditWriter
from trent.storage.postgres import PostgresStore, postgres_audit_writer
from trent.storage.sqlite import SqliteStore, sqlite_audit_writer
from trent.storage.sqlite_base import WalCheckpointer

log = logging.getLogger("trent")
# How often a serving process copies the SQLite WAL back into the database file (off the event loop).
_CHECKPOINT_INTERVAL_SECONDS = 0.2
PROFILE = "trent"


@dataclass
class Components:
    settings: Settings
    store: SqliteStore | PostgresStore
    clock: SystemClock
    kms: Kms
    identities: IdentityService
    iam: IamService
    audit: AuditService
    root: LocalFileRootOfTrust


def build(settings: Settings, *, group_commit: bool = False, create_root: bool = True) -> Components:
    """Everything wired; ``group_commit`` adds the audit writer a serving process needs.

    Admin commands pass ``create_root=False``: a database whose root key is missing must fail to
    open, not get a fresh root key that none of its sealed material opens under.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if create_root:
        root = LocalFileRootOfTrust.open_or_create(settings.root_key_path)
    else:
        root = LocalFileRootOfTrust.load(settings.root_key_path)
    store: SqliteStore | PostgresStore
    writer: StoreAuditWriter | None = None
    if settings.database_url:
        # A serving process takes state changes from NOTIFY; admin commands read the row.
        store = PostgresStore.connect(settings.database_url, listen=group_commit)
        writer = postgres_audit_writer(store) if group_commit else None
    else:
        store = SqliteStore(settings.database_path, background_checkpoints=group_commit)
        writer = sqlite_audit_writer(settings.database_path) if group_commit else None
    clock = SystemClock()
    _check_root_of_trust(store, root)
    identities = IdentityService(store, root, clock)
    iam = IamService(store, identities, clock)
    # A serving process keeps RSA keys ready so CreateKey never generates one on the event loop.
    pool = MaterialPool(new_key_material) if group_commit else None
    kms = Kms(store, root, clock, principal_exists=PrincipalDirectory(store).principal_exists, material_pool=pool)
    committer = GroupCommitter(writer) if writer is not None else None
    audit = AuditService(store, committer, root, clock, settings.account_id)
    return Components(settings, store, clock, kms, identities, iam, audit, root)


_ROOT_CHECK_AAD = b"trent:root-check:v1"


def _check_root_of_trust(store: SqliteStore | PostgresStore, root: LocalFileRootOfTrust) -> None:
    """Refuse a root key other than the one the database's material is sealed under."""
    sealed = store.root_check()
    if sealed is None:
        store.set_root_check(root.seal(b"trent root check", _ROOT_CHECK_AAD))
        sealed = store.root_check() or b""
    try:
        root.unseal(sealed, _ROOT_CHECK_AAD)
    except RootOfTrustError:
        store.close()
        raise RootOfTrustError(
            "this data directory's root.key is not the root key of the database: every node needs the "
            "root.key the database's material is sealed under (copy it from the first node)"
        ) from None


def initialize(settings: Settings) -> NewAccessKey | None:
    """First start: data dir, root key, schema, and an admin access key written as a profile."""
    components = build(settings)
    try:
        admin = components.identities.ensure_admin_access_key(settings.account_id)
        if admin is not None:
            _write_private(
                settings.credentials_path,
                f"[{PROFILE}]\naws_access_key_id = {admin.access_key_id}\n"
                f"aws_secret_access_key = {admin.secret_access_key}\n",
            )
            _write_private(settings.data_dir / "config", f"[profile {PROFILE}]\nregion = us-east-1\n")
        return admin
    finally:
        components.store.close()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def create_app(settings: Settings) -> KmsApi:
    components = build(settings, group_commit=True)
    kms, clock, audit = components.kms, components.clock, components.audit
    if settings.dev and settings.dev_clock_offset_seconds:
        clock.advance(timedelta(seconds=settings.dev_clock_offset_seconds))

    def service_work(step: Callable[[], Sequence[tuple[Key, dict[str, str]]]], event_name: str) -> None:
        """Run a background step one key at a time until it finds nothing, each change with its
        AwsServiceEvent record in the same transaction: both land, or neither does."""
        while True:
            with audit.transaction():
                done = step()
                audit.append_in_transaction(
                    [
                        audit.service_event(
                            event_name, key.region, key.arn, account_id=key.account_id, additional=extra
                        )
                        for key, extra in done
                    ]
                )
            if not done:
                return
            log.info("%s %s", event_name, done[0][0].arn)

    def delete_due_keys() -> None:
        service_work(
            lambda: [(key, {"keyId": key.arn}) for key in kms.management.delete_due_keys(batch=1)], "DeleteKey"
        )

    def rotate_due_keys() -> None:
        service_work(
            lambda: [
                (key, {"keyId": key.arn, "keyMaterialId": material_id, "rotationType": "AUTOMATIC"})
                for key, material_id in kms.rotation.rotate_due_keys(batch=1)
            ],
            "RotateKey",
        )

    def complete_on_demand_rotations() -> None:
        service_work(
            lambda: [
                (key, {"keyId": key.arn, "keyMaterialId": material_id, "rotationType": "ON_DEMAND"})
                for key, material_id in kms.rotation.complete_on_demand_rotations(batch=1)
            ],
            "RotateKey",
        )

    def expire_imported_material() -> None:
        service_work(
            lambda: [
                (key, {"keyId": key.arn, "keyMaterialId": material_id})
                for key, material_id in kms.imports.expire_imported_material(batch=1)
            ],
            "DeleteExpiredKeyMaterial",
        )

    async def sweep_deletions() -> None:
        # Due deletions and rotations, at the same cadence; a rotation missed while Trent was down
        # happens at the first sweep after the start.
        while True:
            for task, what in (
                (delete_due_keys, "deletion"),
                (rotate_due_keys, "rotation"),
                (expire_imported_material, "import expiry"),
            ):
                try:
                    task()
                except Exception:
                    log.exception("%s sweep failed; retrying at the next interval", what)
            await asyncio.sleep(settings.deletion_sweep_seconds)

    async def promote_replicas() -> None:
        # AWS shows a new replica as Creating for a moment; Trent's moment is at most a second.
        while True:
            await asyncio.sleep(min(1.0, settings.deletion_sweep_seconds))
            try:
                # The replica's CreateKey in its own Region, as AWS records one there, with the promotion.
                service_work(
                    lambda: [(key, {"keyId": key.arn}) for key in kms.multi_region.promote_created_replicas(batch=1)],
                    "CreateKey",
                )
            except Exception:
                log.exception("promoting new replicas failed; retrying")

    async def finish_on_demand_rotations() -> None:
        # RotateKeyOnDemand only starts a rotation, as in AWS; it completes here a moment later.
        while True:
            await asyncio.sleep(min(0.25, settings.deletion_sweep_seconds))
            try:
                complete_on_demand_rotations()
            except Exception:
                log.exception("on-demand rotation failed; retrying")

    async def write_digests() -> None:
        while True:
            await asyncio.sleep(settings.audit_digest_seconds)
            try:
                await asyncio.to_thread(audit.write_digest)
            except Exception:
                log.exception("audit digest failed; retrying at the next interval")

    async def health(_body: bytes) -> tuple[int, bytes]:
        return 200, orjson.dumps({"status": "ok"})

    async def advance_clock(body: bytes) -> tuple[int, bytes]:
        # --dev only: lets tests prove deletion windows (and later rotation) without waiting.
        try:
            seconds = float(orjson.loads(body or b"{}").get("seconds", 0))
            clock.advance(timedelta(seconds=seconds))
        except (ValueError, AttributeError, TypeError, orjson.JSONDecodeError):
            return 400, orjson.dumps({"__type": "ValidationException", "message": "seconds must be >= 0"})
        return 200, orjson.dumps({"offsetSeconds": clock.offset.total_seconds(), "now": clock.now().isoformat()})

    background = [sweep_deletions, promote_replicas, finish_on_demand_rotations, write_digests]
    if not settings.database_url:
        checkpointer = WalCheckpointer(settings.database_path)

        async def checkpoint_wal() -> None:
            try:
                while True:
                    await asyncio.sleep(_CHECKPOINT_INTERVAL_SECONDS)
                    await asyncio.to_thread(checkpointer.checkpoint)
            finally:
                checkpointer.close()

        background.append(checkpoint_wal)

    routes: dict[str, Route] = {"/_trent/health": health}
    if settings.dev:
        routes["/_trent/dev/advance-clock"] = advance_clock
    config = ApiConfig(
        dev=settings.dev,
        account_id=settings.account_id,
        extra_routes=routes,
        background=background,
    )
    return KmsApi(
        config,
        kms,
        components.identities,
        audit,
        query=QueryHandler(components.iam),
        cloudtrail=CloudTrailApi(audit),
    )


def app_from_env() -> KmsApi:
    """uvicorn factory for worker processes: settings travel as TRENT_* variables."""
    return create_app(settings_from_env())
