"""Importing key material (BYOK): GetParametersForImport, ImportKeyMaterial,
DeleteImportedKeyMaterial, and the expiry of imported material.

Material arrives wrapped under a one-off RSA wrapping key whose private
half exists only sealed under the root of trust, bound to its import token; it is unwrapped,
checked against the key spec and sealed like generated material.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from trent.crypto import asymmetric, wrapping
from trent.crypto.hmac_keys import HMAC_KEY_BYTES
from trent.domain import ciphertext
from trent.domain.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    KMSInvalidStateException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.keys import (
    SYMMETRIC_DEFAULT,
    SYMMETRIC_MATERIAL_BYTES,
    ImportToken,
    Key,
    KeyState,
    Material,
    StateRule,
    check_state,
)
from trent.services.key_access import KeyAccess
from trent.services.keycache import material_aad
from trent.services.material_pool import MaterialPool
from trent.services.ports import Clock, RootOfTrust, Store
from trent.services.request import RequestContext

IMPORT_PARAMETERS_VALIDITY = timedelta(hours=24)
EXPIRED_TOKEN_RETENTION = timedelta(days=7)
MAX_VALID_TO = timedelta(days=365)
KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"
_TOKEN_PREFIX = b"trent-import-token-v1:"
_TOKEN_ID_BYTES = 32
# AWS's accepted HMAC material sizes: from the hash length up to the hash's block size.
_HMAC_MATERIAL_RANGE = {"HMAC_224": (28, 64), "HMAC_256": (32, 64), "HMAC_384": (48, 128), "HMAC_512": (64, 128)}


@dataclass(frozen=True, slots=True)
class ImportParameters:
    key: Key
    import_token: bytes
    public_key: bytes
    valid_to: datetime


def _wrapping_aad(token_id: str) -> bytes:
    return b"trent:import-wrapping-key:v1\x00" + token_id.encode()


def _token_id(token: bytes) -> str | None:
    if not token.startswith(_TOKEN_PREFIX) or len(token) != len(_TOKEN_PREFIX) + _TOKEN_ID_BYTES:
        return None
    return token[len(_TOKEN_PREFIX) :].hex()


def check_material(key: Key, material: bytes) -> None:
    """IncorrectKeyMaterialException unless ``material`` is what a key of this spec holds."""
    spec = key.key_spec
    if spec == SYMMETRIC_DEFAULT:
        ok = len(material) == SYMMETRIC_MATERIAL_BYTES
    elif spec in HMAC_KEY_BYTES:
        low, high = _HMAC_MATERIAL_RANGE[spec]
        ok = low <= len(material) <= high
    else:
        try:
            ok = asymmetric.spec_of_private_key(material) == spec
        except asymmetric.CryptoKeyError:
            ok = False
    if not ok:
        raise IncorrectKeyMaterialException(f"The key material is not valid for a {spec} KMS key.")


class ImportMaterial:
    """BYOK use cases."""

    def __init__(
        self, keys: KeyAccess, store: Store, root: RootOfTrust, clock: Clock, material_pool: MaterialPool | None = None
    ) -> None:
        self._keys = keys
        self._store = store
        self._root = root
        self._clock = clock
        self._material_pool = material_pool

    def _external_key(self, request: RequestContext, key_ref: str, action: str, facts: Mapping[str, str | None]) -> Key:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, action, key, facts=dict(facts))
        if key.origin != "EXTERNAL":
            raise UnsupportedOperationException.origin(key.arn, key.origin)
        check_state(key, StateRule.MANAGE)  # pending deletion refuses; other states allow
        return key

    def get_parameters_for_import(
        self, request: RequestContext, key_ref: str, wrapping_algorithm: str, wrapping_key_spec: str
    ) -> ImportParameters:
        facts = {"kms:wrappingalgorithm": wrapping_algorithm, "kms:wrappingkeyspec": wrapping_key_spec}
        key = self._external_key(request, key_ref, "kms:GetParametersForImport", facts)
        if wrapping_algorithm == "RSAES_PKCS1_V1_5":
            raise ValidationException("The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.")
        known_spec = wrapping_key_spec in wrapping.WRAPPING_KEY_BITS
        if wrapping_algorithm not in wrapping.WRAPPING_ALGORITHMS or not known_spec:
            raise UnsupportedOperationException(
                f"{wrapping_algorithm} with wrapping key spec {wrapping_key_spec} is supported only in China Regions."
            )
        if self._material_pool is not None:  # an RSA key made ahead, off the event loop
            private = self._material_pool.take(wrapping_key_spec)
            public = asymmetric.public_key_der(private)
        else:
            private, public = wrapping.generate_wrapping_key(wrapping_key_spec)
        raw_token = secrets.token_bytes(_TOKEN_ID_BYTES)
        token_id = raw_token.hex()
        valid_to = self._clock.now() + IMPORT_PARAMETERS_VALIDITY
        sealed = self._root.seal(private, _wrapping_aad(token_id))
        self._store.insert_import_token(
            ImportToken(token_id, key.region, key.key_id, wrapping_algorithm, wrapping_key_spec, sealed, valid_to)
        )
        return ImportParameters(key, _TOKEN_PREFIX + raw_token, public, valid_to)

    def import_key_material(
        self,
        request: RequestContext,
        key_ref: str,
        import_token: bytes,
        encrypted_material: bytes,
        valid_to: datetime | None,
        expiration_model: str | None,
        import_type: str | None,
        description: str | None,
        material_id: str | None,
    ) -> tuple[Key, str]:
        model = expiration_model or KEY_MATERIAL_EXPIRES
        facts = {
            "kms:expirationmodel": model,
            "kms:validto": None if valid_to is None else str(int(valid_to.timestamp())),
        }
        key = self._external_key(request, key_ref, "kms:ImportKeyMaterial", facts)
        now = self._clock.now()
        self._check_expiry(model, valid_to, now)
        material = self._unwrap(key, import_token, encrypted_material, now)
        check_material(key, material)
        new_id = ciphertext.material_id_for(key.key_id, material)
        if material_id is not None and material_id != new_id:
            raise IncorrectKeyMaterialException(
                f"The key material does not match the key material ID {material_id} of KMS key {key.arn}."
            )
        materials = {m.material_id: m for m in self._store.materials(key.key_id)}
        chosen_type = import_type or (EXISTING_KEY_MATERIAL if materials else NEW_KEY_MATERIAL)
        if material_id is not None and chosen_type != EXISTING_KEY_MATERIAL:
            raise ValidationException("KeyMaterialId can be specified only with ImportType EXISTING_KEY_MATERIAL.")
        sealed = self._root.seal(material, material_aad(key.key_id, new_id))
        expiry = valid_to if model == KEY_MATERIAL_EXPIRES else None
        existing = materials.get(new_id)
        with self._store.transaction():
            if existing is not None:
                self._store.update_material(
                    replace(
                        existing,
                        sealed=sealed,
                        expiration_model=model,
                        valid_to=expiry,
                        description=description if description is not None else existing.description,
                    )
                )
                materials[new_id] = replace(existing, sealed=sealed, expiration_model=model, valid_to=expiry)
            elif not materials:
                if chosen_type != NEW_KEY_MATERIAL:
                    raise IncorrectKeyMaterialException(f"KMS key {key.arn} has no key material to reimport.")
                fresh = Material(key.key_id, new_id, sealed, now, expiration_model=model, valid_to=expiry)
                fresh = replace(fresh, description=description)
                self._store.insert_material(fresh)
                materials[new_id] = fresh
                key = replace(key, current_material_id=new_id)
            else:
                self._import_new_material(key, materials, new_id, sealed, now, model, expiry, description, chosen_type)
                materials[new_id] = Material(key.key_id, new_id, sealed, now, pending_rotation=True)
            key = self._after_import(key, list(materials.values()))
            self._store.update_key(key)
        return key, new_id

    def _import_new_material(
        self,
        key: Key,
        materials: dict[str, Material],
        new_id: str,
        sealed: bytes,
        now: datetime,
        model: str,
        expiry: datetime | None,
        description: str | None,
        import_type: str,
    ) -> None:
        """Material other than what the key holds: only symmetric keys take more, pending rotation."""
        if key.key_spec != SYMMETRIC_DEFAULT or import_type != NEW_KEY_MATERIAL:
            current = key.current_material_id or next(iter(materials))
            raise IncorrectKeyMaterialException(
                f"The key material does not match the key material ID {current} of KMS key {key.arn}."
            )
        pending = [m for m in materials.values() if m.pending_rotation]
        if pending:
            raise KMSInvalidStateException(
                f"New key material (id: {new_id}) cannot be imported into KMS key {key.key_id}, because another "
                f"key material (id: {pending[0].material_id}) is pending rotation."
            )
        self._store.insert_material(
            Material(
                key.key_id,
                new_id,
                sealed,
                now,
                pending_rotation=True,
                expiration_model=model,
                valid_to=expiry,
                description=description,
            )
        )

    def _check_expiry(self, model: str, valid_to: datetime | None, now: datetime) -> None:
        if model == KEY_MATERIAL_EXPIRES:
            if valid_to is None:
                raise ValidationException("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
            if valid_to <= now:
                raise ValidationException("The validTo date must be in the future.")
            if valid_to > now + MAX_VALID_TO:
                raise ValidationException("The validTo date must be no more than 365 days in the future.")
        elif valid_to is not None:
            raise ValidationException(
                "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"
            )

    def _unwrap(self, key: Key, import_token: bytes, encrypted_material: bytes, now: datetime) -> bytes:
        token_id = _token_id(import_token)
        token = None if token_id is None else self._store.get_import_token(token_id)
        if token is None or token.key_id != key.key_id or token.region != key.region:
            raise InvalidImportTokenException("Import token is not valid for this KMS key.")
        if token.valid_to <= now:
            raise ExpiredImportTokenException("The import token has expired.")
        private = self._root.unseal(token.sealed_private, _wrapping_aad(token.token_id))
        try:
            return wrapping.unwrap(token.wrapping_algorithm, private, encrypted_material)
        except wrapping.UnwrapFailed:
            raise InvalidCiphertextException from None

    @staticmethod
    def _after_import(key: Key, materials: list[Material]) -> Key:
        """State and expiry once material changed: Enabled from PendingImport when all is present."""
        permanent = [m for m in materials if not m.pending_rotation]
        state = key.state
        if state is KeyState.PENDING_IMPORT and all(m.present for m in permanent):
            state = KeyState.ENABLED
        pending_deletion = state in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION)
        if not pending_deletion and not all(m.present for m in permanent):
            state = KeyState.PENDING_IMPORT
        expiring = [m.valid_to for m in permanent if m.present and m.valid_to is not None]
        present = [m for m in permanent if m.present]
        model = None
        if present:
            model = KEY_MATERIAL_EXPIRES if expiring else KEY_MATERIAL_DOES_NOT_EXPIRE
        return replace(key, state=state, expiration_model=model, valid_to=min(expiring) if expiring else None)

    def delete_imported_key_material(
        self, request: RequestContext, key_ref: str, material_id: str | None
    ) -> tuple[Key, str | None]:
        key = self._keys.resolve(request, key_ref, allow_alias=False)
        self._keys.authorize(request, "kms:DeleteImportedKeyMaterial", key)
        if key.origin != "EXTERNAL":
            raise UnsupportedOperationException.origin(key.arn, key.origin)
        materials = {m.material_id: m for m in self._store.materials(key.key_id)}
        chosen = material_id or key.current_material_id
        target = None if chosen is None else materials.get(chosen)
        if target is None:
            if material_id is not None:
                raise ValidationException(f"Key material {material_id} does not exist for KMS key {key.arn}.")
            return key, None  # nothing imported yet: no effect
        with self._store.transaction():
            if target.pending_rotation:
                self._store.delete_material(key.key_id, target.material_id)
                del materials[target.material_id]
            else:
                gone = replace(target, sealed=b"", valid_to=None)
                self._store.update_material(gone)
                materials[target.material_id] = gone
            key = self._after_import(key, list(materials.values()))
            self._store.update_key(key)
        return key, target.material_id

    def expire_imported_material(self, batch: int = 100) -> list[tuple[Key, str]]:
        """Background task: delete imported material whose ValidTo has passed; (key, material id)."""
        now = self._clock.now()
        # Kept a while past their expiry, so that using one still answers ExpiredImportTokenException.
        self._store.delete_expired_import_tokens(now - EXPIRED_TOKEN_RETENTION)
        expired: list[tuple[Key, str]] = []
        for material in self._store.materials_expiring(now, batch):
            materials = {m.material_id: m for m in self._store.materials(material.key_id)}
            gone = replace(material, sealed=b"", valid_to=None)
            materials[material.material_id] = gone
            with self._store.transaction():
                self._store.update_material(gone)
                for key in self._store.keys_with_id(material.key_id):
                    updated = self._after_import(key, list(materials.values()))
                    self._store.update_key(updated)
                    expired.append((updated, material.material_id))
        return expired
