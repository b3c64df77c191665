"""Composition root: settings -> concrete adapters -> services -> the ASGI app."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson

from trent.api.app import ApiConfig, KmsApi, Route
from trent.api.codec import ServiceCodec
from trent.api.handlers.cloudtrail import CloudTrailApi
from trent.api.in_process import InProcessApi
from trent.api.query import QueryHandler
from trent.api.telemetry import CONTENT_TYPE as METRICS_CONTENT_TYPE
from trent.api.telemetry import Telemetry, configure_logging
from trent.clock import SystemClock
from trent.config import Settings, settings_from_env
from trent.console import ConsoleApp
from trent.domain.audit import VerifyReport
from trent.domain.errors import RootOfTrustError
from trent.domain.keys import Key
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.audit import AuditService, GroupCommitter, verify_store
from trent.services.iam import IamService
from trent.services.identity import IdentityService, NewAccessKey
from trent.services.kms import Kms
from trent.services.material import new_key_material
from trent.services.material_pool import MaterialPool
from trent.services.principals import PrincipalDirectory
from trent.services.throttling import Quotas, Throttle
from trent.storage.audit_tables import StoreAuditWriter
from trent.storage.postgres import PostgresStore, postgres_audit_writer
from trent.storage.sqlite import SqliteStore, sqlite_audit_writer
from trent.storage.sqlite_base import WalCheckpointer

log = logging.getLogger("trent")
# How often a serving process copies the SQLite WAL back into the database file (off the event loop).
_CHECKPOINT_INTERVAL_SECONDS = 0.2
# How often a serving process writes its queued access-log lines (api/telemetry.py AccessLog).
_ACCESS_LOG_FLUSH_SECONDS = 0.1
PROFILE = "trent"
JSON = b"application/x-amz-json-1.1"


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


ROOT_CHECK_AAD = b"trent:root-check:v1"


def _check_root_of_trust(store: SqliteStore | PostgresStore, root: LocalFileRootOfTrust) -> None:
    """Refuse a root key other than the one the database's material is sealed under."""
    sealed = store.root_check()
    if sealed is None:
        store.set_root_check(root.seal(b"trent root check", ROOT_CHECK_AAD))
        sealed = store.root_check() or b""
    try:
        root.unseal(sealed, ROOT_CHECK_AAD)
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
        # endpoint_url (and ca_bundle for --tls-self-signed) of this start: AWS_PROFILE=trent alone works.
        from trent.client_config import update_profile  # noqa: PLC0415 - kept inside initialize()

        update_profile(settings)
        return admin
    finally:
        components.store.close()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def create_app(settings: Settings) -> KmsApi:
    configure_logging(settings.log_format, settings.log_level)
    components = build(settings, group_commit=True)
    kms, clock, audit = components.kms, components.clock, components.audit
    query = QueryHandler(components.iam)
    cloudtrail = CloudTrailApi(audit)
    telemetry = Telemetry(
        [*ServiceCodec("kms").operation_names, *cloudtrail.codec.operation_names, *query.actions],
        kms.management.key_counts,
    )
    audit.observe_batches(telemetry.audit_batch)
    telemetry.access.configure(settings.log_format, settings.log_level)
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
            telemetry.background(event_name, len(done))
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

    def run_due_sweeps() -> None:
        for task, what in (
            (delete_due_keys, "deletion"),
            (rotate_due_keys, "rotation"),
            (expire_imported_material, "import expiry"),
        ):
            try:
                task()
            except Exception:
                log.exception("%s sweep failed; retrying at the next interval", what)

    async def sweep_deletions() -> None:
        # Due deletions and rotations, at the same cadence; a rotation missed while Trent was down
        # happens at the first sweep after the start.
        while True:
            run_due_sweeps()
            await asyncio.sleep(settings.deletion_sweep_seconds)

    async def flush_access_log() -> None:
        try:
            while True:
                await asyncio.sleep(_ACCESS_LOG_FLUSH_SECONDS)
                telemetry.access.flush()
        finally:
            telemetry.access.flush()  # at shutdown: the last lines too

    async def publish_cache_metrics() -> None:
        cache = kms.keys.cache
        while True:
            await asyncio.sleep(1.0)
            telemetry.cache_totals(cache.key_hits, cache.key_misses, cache.material_hits, cache.material_misses)

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

    async def health(_body: bytes, _headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps({"status": "ok"}), JSON

    def readiness_problems() -> list[str]:
        """What stops this node from answering: the store, the root of trust, the audit trail."""
        problems: list[str] = []
        try:
            # A write transaction: the store answers and takes writes (the audit trail is in it).
            with components.store.transaction():
                sealed = components.store.root_check()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return [f"store: {type(exc).__name__}"]
        try:
            components.root.unseal(sealed or b"", ROOT_CHECK_AAD)
        except Exception:  # noqa: BLE001
            problems.append("root of trust: the test blob does not open")
        return problems

    async def ready(_body: bytes, _headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        problems = await asyncio.to_thread(readiness_problems)
        if problems:
            return 503, orjson.dumps({"status": "not ready", "problems": problems}), JSON
        return 200, orjson.dumps({"status": "ready"}), JSON

    async def metrics(_body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        token = settings.metrics_token
        if token and not hmac.compare_digest(headers.get("authorization", "").encode(), f"Bearer {token}".encode()):
            return 401, orjson.dumps({"__type": "UnauthorizedException", "message": "a bearer token is required"}), JSON
        body = await asyncio.to_thread(telemetry.exposition)
        return 200, body, METRICS_CONTENT_TYPE.encode()

    async def advance_clock(body: bytes, _headers: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        # --dev only: lets tests prove deletion windows, rotation and expiry without waiting.
        try:
            seconds = float(orjson.loads(body or b"{}").get("seconds", 0))
            clock.advance(timedelta(seconds=seconds))
        except (ValueError, AttributeError, TypeError, OverflowError, orjson.JSONDecodeError):
            message = "seconds must be a number >= 0 that keeps the clock within the year 9999"
            return 400, orjson.dumps({"__type": "ValidationException", "message": message}), JSON
        # What became due happens before the answer, as if the sweeper had run at that moment.
        run_due_sweeps()
        now = {"offsetSeconds": clock.offset.total_seconds(), "now": clock.now().isoformat()}
        return 200, orjson.dumps(now), JSON

    background = [
        sweep_deletions,
        promote_replicas,
        finish_on_demand_rotations,
        write_digests,
        publish_cache_metrics,
        flush_access_log,
    ]
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

    routes: dict[str, Route] = {"/_trent/health": health, "/_trent/ready": ready, "/metrics": metrics}
    if settings.dev:
        routes["/_trent/dev/advance-clock"] = advance_clock
    quotas = Quotas(
        symmetric=settings.throttle_symmetric_rps,
        asymmetric=settings.throttle_asymmetric_rps,
        management=settings.throttle_management_rps,
    )
    config = ApiConfig(
        dev=settings.dev,
        account_id=settings.account_id,
        extra_routes=routes,
        background=background,
        observers=[telemetry],
        throttle=Throttle(quotas, workers=settings.workers) if settings.throttling else None,
        regions=settings.served_regions,
        console=ConsoleApp(
            kms=kms,
            api=InProcessApi(kms, query, cloudtrail),
            identities=components.identities,
            iam=components.iam,
            audit=audit,
            account_id=settings.account_id,
            dev=settings.dev,
            sessions=components.store,
            sign_in_failures=components.store,
            idle_seconds=float(os.environ.get("TRENT_CONSOLE_IDLE_SECONDS", "900")),
            verify_reuse_seconds=float(os.environ.get("TRENT_CONSOLE_VERIFY_REUSE_SECONDS", "30")),
            observers=[telemetry],
            regions=sorted(settings.served_regions or ()),
            verify_trail=_trail_verifier(settings, components.store),
        ),
    )
    return KmsApi(config, kms, components.identities, audit, query=query, cloudtrail=cloudtrail)


def _trail_verifier(settings: Settings, serving: SqliteStore | PostgresStore) -> Callable[[], VerifyReport]:
    """The console's chain check, on a store object of its own: it reads the whole trail, and the
    serving store's lock (which every request takes) must not wait for it."""

    def verify() -> VerifyReport:
        store: SqliteStore | PostgresStore
        if isinstance(serving, PostgresStore):
            store = PostgresStore(serving.pool)
        else:
            store = SqliteStore(settings.database_path, migrate=False)
        try:
            return verify_store(store)
        finally:
            store.close()

    return verify


def app_from_env() -> KmsApi:
    """uvicorn factory for worker processes: settings travel as TRENT_* variables."""
    return create_app(settings_from_env())
