"""Key rotation use cases: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
RotateKeyOnDemand, ListKeyRotations, and the background rotation of keys that are due.

Rotation adds a material version and makes it current; every earlier
version stays, so ciphertexts made under any of them still decrypt (each names its material).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from trent.domain import ciphertext
from trent.domain.errors import (
    ConflictException,
    KMSInvalidStateException,
    LimitExceededException,
    UnsupportedOperationException,
)
from trent.domain.keys import (
    DEFAULT_ROTATION_PERIOD_DAYS,
    MAX_ON_DEMAND_ROTATIONS,
    ROTATION_AUTOMATIC,
    ROTATION_ON_DEMAND,
    SYMMETRIC_DEFAULT,
    Key,
    KeyState,
    Material,
    StateRule,
    check_state,
)
from trent.domain.paging import Page
from trent.services.key_access import KeyAccess
from trent.services.keycache import material_aad
from trent.services.material import new_key_material
from trent.services.ports import Clock, RootOfTrust, Store
from trent.services.request import RequestContext

# AWS refuses an on-demand rotation while an automatic one is due this soon (ConflictException).
ON_DEMAND_CONFLICT_WINDOW = timedelta(minutes=20)


@dataclass(frozen=True, slots=True)
class RotationStatus:
    key: Key
    enabled: bool
    period_days: int | None
    next_rotation: datetime | None
    on_demand_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class RotationEntry:
    """One material version as ListKeyRotations shows it."""

    key: Key
    material: Material
    state: str  # CURRENT, NON_CURRENT, PENDING_ROTATION


class Rotation:
    """Rotation use cases and the background rotations."""

    def __init__(self, keys: KeyAccess, store: Store, root: RootOfTrust, clock: Clock) -> None:
        self._keys = keys
        self._store = store
        self._root = root
        self._clock = clock

    def _rotatable(self, key: Key, *, automatic: bool) -> None:
        """UnsupportedOperationException for keys that cannot rotate (this way)."""
        if not key.supports_rotation:
            raise UnsupportedOperationException("")
        if not key.is_primary:
            # Rotation is set and performed on the primary; replicas follow its material.
            raise UnsupportedOperationException.not_primary(key.arn)
        if key.state is KeyState.PENDING_IMPORT or (automatic and key.origin == "EXTERNAL"):
            raise UnsupportedOperationException.origin(key.arn, key.origin)

    def _rotation_state(self, key: Key) -> None:
        """Enable/DisableKeyRotation and RotateKeyOnDemand: Disabled and PendingDeletion refuse."""
        check_state(key, StateRule.CRYPTO)

    def enable_key_rotation(self, request: RequestContext, key_ref: str, period_days: int | None) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        period = DEFAULT_ROTATION_PERIOD_DAYS if period_days is None else period_days
        self._keys.authorize(request, "kms:EnableKeyRotation", key, facts={"kms:rotationperiodindays": str(period)})
        if key.state is not KeyState.PENDING_IMPORT:
            self._rotation_state(key)
        self._rotatable(key, automatic=True)
        now = self._clock.now()
        if key.rotation_period_days is not None and key.next_rotation_date is not None:
            # A new period counts from the last rotation (or from when rotation was enabled).
            anchor = key.next_rotation_date - timedelta(days=key.rotation_period_days)
            next_rotation = max(anchor + timedelta(days=period), now)
        else:
            next_rotation = now + timedelta(days=period)
        self._store.update_key(replace(key, rotation_period_days=period, next_rotation_date=next_rotation))

    def disable_key_rotation(self, request: RequestContext, key_ref: str) -> None:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:DisableKeyRotation", key)
        if key.state is not KeyState.PENDING_IMPORT:
            self._rotation_state(key)
        self._rotatable(key, automatic=True)
        if key.rotation_period_days is not None:
            self._store.update_key(replace(key, rotation_period_days=None, next_rotation_date=None))

    def get_key_rotation_status(self, request: RequestContext, key_ref: str) -> RotationStatus:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:GetKeyRotationStatus", key)
        if not key.supports_rotation:
            raise UnsupportedOperationException("")
        if key.state is KeyState.PENDING_IMPORT:
            raise UnsupportedOperationException.origin(key.arn, key.origin)
        schedule = key
        if not key.is_primary:
            primary = [k for k in self._store.keys_with_id(key.key_id) if k.region == key.primary_region]
            schedule = primary[0] if primary else key
        enabled = schedule.rotation_period_days is not None and key.state not in (
            KeyState.PENDING_DELETION,
            KeyState.PENDING_REPLICA_DELETION,
        )
        return RotationStatus(
            key,
            enabled,
            schedule.rotation_period_days if enabled else None,
            schedule.next_rotation_date if enabled else None,
            schedule.on_demand_rotation_start_date,
        )

    def rotate_due_keys(self, batch: int = 100) -> list[tuple[Key, str]]:
        """Background task: rotate enabled keys whose rotation date has come; (key, new material id).

        A rotation missed while Trent was down happens at the next sweep; only one, and the next
        one is a whole period later.
        """
        now = self._clock.now()
        rotated: list[tuple[Key, str]] = []
        for key in self._store.keys_due_for_rotation(now, batch):
            if key.rotation_period_days is None or key.next_rotation_date is None:
                continue
            period = timedelta(days=key.rotation_period_days)
            next_rotation = key.next_rotation_date + period
            if next_rotation <= now:
                next_rotation = now + period
            updated = replace(key, next_rotation_date=next_rotation)
            material_id = self._add_rotated_material(updated, ROTATION_AUTOMATIC, now)
            rotated.append((replace(updated, current_material_id=material_id), material_id))
        return rotated

    def rotate_key_on_demand(self, request: RequestContext, key_ref: str) -> Key:
        """Start an on-demand rotation; the background completes it (``complete_on_demand_rotations``)."""
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:RotateKeyOnDemand", key)
        if key.state is KeyState.PENDING_IMPORT:
            check_state(key, StateRule.CRYPTO)  # "... is pending import."
        self._rotation_state(key)
        self._rotatable(key, automatic=False)
        if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS:
            raise LimitExceededException(
                "The on-demand rotations limit has been reached for the given keyId. "
                f"No more on-demand rotations can be performed for this key: {key.arn}"
            )
        now = self._clock.now()
        if key.on_demand_rotation_start_date is not None or (
            key.next_rotation_date is not None and key.next_rotation_date - now <= ON_DEMAND_CONFLICT_WINDOW
        ):
            raise ConflictException(
                f"An automatic rotation of {key.arn} is in progress or due within the next 20 minutes."
            )
        if key.origin == "EXTERNAL" and not any(m.pending_rotation for m in self._store.materials(key.key_id)):
            raise KMSInvalidStateException(f"No available key material pending rotation for the key: {key.arn}.")
        updated = replace(key, on_demand_rotations=key.on_demand_rotations + 1, on_demand_rotation_start_date=now)
        self._store.update_key(updated)
        return updated

    def complete_on_demand_rotations(self, batch: int = 100) -> list[tuple[Key, str]]:
        """Background task: finish started on-demand rotations; (key, its new current material id)."""
        done: list[tuple[Key, str]] = []
        for key in self._store.keys_rotating_on_demand(batch):
            now = self._clock.now()
            updated = replace(key, on_demand_rotation_start_date=None)
            if key.origin == "EXTERNAL":
                pending = [m for m in self._store.materials(key.key_id) if m.pending_rotation]
                if not pending:  # the pending material went away (deleted) since the request
                    self._store.update_key(updated)
                    continue
                material = replace(
                    pending[0], pending_rotation=False, rotation_date=now, rotation_type=ROTATION_ON_DEMAND
                )
                updated = replace(updated, current_material_id=material.material_id)
                with self._store.transaction():
                    self._store.update_material(material)
                    self._store.update_key(updated)
                    self._follow_material(updated)
                done.append((updated, material.material_id))
                continue
            material_id = self._add_rotated_material(updated, ROTATION_ON_DEMAND, now)
            done.append((replace(updated, current_material_id=material_id), material_id))
        return done

    def _add_rotated_material(self, key: Key, rotation_type: str, now: datetime) -> str:
        material = new_key_material(SYMMETRIC_DEFAULT)
        material_id = ciphertext.material_id_for(key.key_id, material)
        sealed = self._root.seal(material, material_aad(key.key_id, material_id))
        updated = replace(key, current_material_id=material_id)
        with self._store.transaction():
            self._store.insert_material(
                Material(key.key_id, material_id, sealed, now, rotation_date=now, rotation_type=rotation_type)
            )
            self._store.update_key(updated)
            self._follow_material(updated)
        return material_id

    def _follow_material(self, primary: Key) -> None:
        """A multi-Region primary's replicas use the material it rotated to."""
        if not primary.multi_region:
            return
        for related in self._store.keys_with_id(primary.key_id):
            if related.region != primary.region:
                self._store.update_key(replace(related, current_material_id=primary.current_material_id))

    def list_key_rotations(
        self, request: RequestContext, key_ref: str, include_all: bool, after: int, limit: int
    ) -> Page[RotationEntry]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:ListKeyRotations", key)
        if not key.supports_rotation:
            raise UnsupportedOperationException("")
        entries = [
            RotationEntry(key, m, _material_state(key, m))
            for m in self._store.materials(key.key_id)
            if include_all or (m.rotation_date is not None and not m.pending_rotation)
        ]
        page = entries[after : after + limit]
        more = after + limit < len(entries)
        return Page(page, str(after + limit) if more else None)


def _material_state(key: Key, material: Material) -> str:
    if material.pending_rotation:
        return "PENDING_ROTATION"
    return "CURRENT" if material.material_id == key.current_material_id else "NON_CURRENT"
