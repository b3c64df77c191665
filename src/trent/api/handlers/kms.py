"""KMS operations: decoded request members in, output members out (names as in botocore's model).

Each handler reads the validated request, calls one service method and shapes its result. The codec
has already checked types and model constraints, and turns bytes and datetimes into wire values.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from trent.domain.aliases import Alias
from trent.domain.errors import (
    DryRunOperationException,
    InvalidMarkerException,
    UnsupportedOperationException,
    ValidationException,
)
from trent.domain.grants import Grant
from trent.domain.ids import alias_arn, key_arn
from trent.domain.keys import Key, KeyState
from trent.services.kms import Kms
from trent.services.ports import Page
from trent.services.request import RequestContext

Params = Mapping[str, Any]
Result = dict[str, Any] | None
Handler = Callable[[Kms, RequestContext, Params], Result]

# AWS's documented Limit ranges; the model allows 1..1000 for all of them.
_LIST_LIMITS = {
    "ListGrants": (50, 100),
    "ListRetirableGrants": (50, 100),
    "ListKeys": (100, 1000),
    "ListAliases": (50, 100),
    "ListResourceTags": (50, 50),
    "ListKeyPolicies": (100, 1000),
    "ListKeyRotations": (100, 1000),
}


# ===================================================================== shaping


def _metadata(svc: Kms, key: Key) -> dict[str, Any]:
    """KeyMetadata with a multi-Region key's topology."""
    metadata = key_metadata(key)
    topology = svc.multi_region.multi_region_configuration(key)
    if topology is not None:
        metadata["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": topology.key_type,
            "PrimaryKey": {"Arn": topology.primary.arn, "Region": topology.primary.region},
            "ReplicaKeys": [{"Arn": k.arn, "Region": k.region} for k in topology.replicas],
        }
    return metadata


def key_metadata(key: Key) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.enabled,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "DeletionDate": key.deletion_date,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.customer_master_key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    _with_algorithms(metadata, key)
    if key.is_symmetric_encryption:
        metadata["CurrentKeyMaterialId"] = key.current_material_id
    if key.state is KeyState.PENDING_REPLICA_DELETION:
        metadata["PendingDeletionWindowInDays"] = key.pending_window_days
    if key.origin == "EXTERNAL" and key.expiration_model is not None:
        metadata["ExpirationModel"] = key.expiration_model
        metadata["ValidTo"] = key.valid_to
    return metadata


def _encode_marker(operation: str, position: str) -> str:
    raw = f"{operation}\x00{position}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


# Operations whose marker holds a row number: anything else in one is forged.
_NUMERIC_MARKERS = frozenset({"ListKeys", "ListGrants", "ListRetirableGrants", "ListKeyRotations"})
_MAX_MARKER_DIGITS = 18  # below 2**63: what SQLite and PostgreSQL integers hold


def _decode_marker(operation: str, marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMarkerException.bad() from None
    kind, sep, position = raw.partition("\x00")
    if kind != operation or not sep or not position:
        raise InvalidMarkerException.bad()
    if operation in _NUMERIC_MARKERS and not (
        position.isascii() and position.isdigit() and len(position) <= _MAX_MARKER_DIGITS
    ):
        raise InvalidMarkerException.bad()
    return position


def _limit(operation: str, params: Params) -> int:
    default, maximum = _LIST_LIMITS[operation]
    limit = params.get("Limit")
    if limit is None:
        return default
    if limit > maximum:
        raise ValidationException.violation(
            "limit", f"Member must have value less than or equal to {maximum}", str(limit)
        )
    return int(limit)


def _page_fields(operation: str, page: Page[Any]) -> dict[str, Any]:
    if page.next_position is None:
        return {"Truncated": False}
    return {"Truncated": True, "NextMarker": _encode_marker(operation, page.next_position)}


def _no_recipient(p: Params) -> None:
    """Nitro Enclaves attestation (Recipient) is not offered: AWS's answer for what is unsupported."""
    if p.get("Recipient") is not None:
        raise UnsupportedOperationException("Recipient attestation is not supported by this Trent server.")


def _with_algorithms(out: dict[str, Any], key: Key) -> dict[str, Any]:
    """The one algorithm list of the key's usage (EncryptionAlgorithms, SigningAlgorithms, ...)."""
    algorithms = key.algorithms()
    if algorithms is not None:
        out[algorithms[0]] = list(algorithms[1])
    return out


def _tags(params: Params) -> list[tuple[str, str]]:
    return [(t["TagKey"], t["TagValue"]) for t in params.get("Tags") or ()]


# ===================================================================== key lifecycle


def create_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    key = svc.management.create_key(
        request,
        description=p.get("Description"),
        key_usage=p.get("KeyUsage"),
        key_spec=p.get("KeySpec"),
        customer_master_key_spec=p.get("CustomerMasterKeySpec"),
        origin=p.get("Origin"),
        policy=p.get("Policy"),
        tags=_tags(p),
        multi_region=p.get("MultiRegion"),
        custom_key_store_id=p.get("CustomKeyStoreId"),
        xks_key_id=p.get("XksKeyId"),
        bypass_policy_lockout_safety_check=p.get("BypassPolicyLockoutSafetyCheck"),
    )
    return {"KeyMetadata": _metadata(svc, key)}


def describe_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    return {"KeyMetadata": _metadata(svc, svc.management.describe_key(request, p["KeyId"]))}


def list_keys(svc: Kms, request: RequestContext, p: Params) -> Result:
    page = svc.management.list_keys(request, _decode_marker("ListKeys", p.get("Marker")), _limit("ListKeys", p))
    keys = [{"KeyId": k.key_id, "KeyArn": k.arn} for k in page.items]
    return {"Keys": keys, **_page_fields("ListKeys", page)}


def update_key_description(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.management.update_key_description(request, p["KeyId"], p["Description"])
    return None


def enable_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.management.enable_key(request, p["KeyId"])
    return None


def disable_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.management.disable_key(request, p["KeyId"])
    return None


def schedule_key_deletion(svc: Kms, request: RequestContext, p: Params) -> Result:
    window = p.get("PendingWindowInDays")
    key = svc.management.schedule_key_deletion(request, p["KeyId"], window)
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,  # None while a primary waits for its replicas
        "KeyState": key.state.value,
        "PendingWindowInDays": 30 if window is None else window,
    }


def replicate_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    replica = svc.multi_region.replicate(
        request,
        p["KeyId"],
        p["ReplicaRegion"],
        p.get("Policy"),
        p.get("BypassPolicyLockoutSafetyCheck"),
        p.get("Description"),
        _tags(p),
    )
    return {
        "ReplicaKeyMetadata": _metadata(svc, replica),
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in sorted(replica.tags.items())],
    }


def update_primary_region(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.multi_region.update_primary_region(request, p["KeyId"], p["PrimaryRegion"])
    return None


def cancel_key_deletion(svc: Kms, request: RequestContext, p: Params) -> Result:
    return {"KeyId": svc.management.cancel_key_deletion(request, p["KeyId"]).arn}


# ===================================================================== policies


def get_key_policy(svc: Kms, request: RequestContext, p: Params) -> Result:
    policy, name = svc.management.get_key_policy(request, p["KeyId"], p.get("PolicyName"))
    return {"Policy": policy, "PolicyName": name}


def list_key_policies(svc: Kms, request: RequestContext, p: Params) -> Result:
    _decode_marker("ListKeyPolicies", p.get("Marker"))
    _limit("ListKeyPolicies", p)
    return {"PolicyNames": svc.management.list_key_policies(request, p["KeyId"]), "Truncated": False}


def put_key_policy(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.management.put_key_policy(
        request, p["KeyId"], p["Policy"], p.get("PolicyName"), p.get("BypassPolicyLockoutSafetyCheck")
    )
    return None


# ===================================================================== aliases


def create_alias(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.aliases.create_alias(request, p["AliasName"], p["TargetKeyId"])
    return None


def update_alias(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.aliases.update_alias(request, p["AliasName"], p["TargetKeyId"])
    return None


def delete_alias(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.aliases.delete_alias(request, p["AliasName"])
    return None


def list_aliases(svc: Kms, request: RequestContext, p: Params) -> Result:
    page = svc.aliases.list_aliases(
        request, p.get("KeyId"), _decode_marker("ListAliases", p.get("Marker")), _limit("ListAliases", p)
    )
    aliases: list[dict[str, Any]] = []
    for a in page.items:
        entry: dict[str, Any] = {"AliasName": a.alias_name, "AliasArn": alias_arn(a.region, a.account_id, a.alias_name)}
        if isinstance(a, Alias):
            entry |= {
                "TargetKeyId": a.target_key_id,
                "CreationDate": a.creation_date,
                "LastUpdatedDate": a.last_updated_date,
            }
        aliases.append(entry)
    return {"Aliases": aliases, **_page_fields("ListAliases", page)}


def get_key_last_usage(svc: Kms, request: RequestContext, p: Params) -> Result:
    key, usage = svc.management.get_key_last_usage(request, p["KeyId"])
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "KeyCreationDate": key.creation_date,
        # Trent tracks every key from its creation.
        "TrackingStartDate": key.creation_date,
    }
    if usage is not None:
        out["KeyLastUsage"] = {
            "Operation": usage.operation,
            "Timestamp": usage.timestamp,
            "CloudTrailEventId": usage.event_id,
            "KmsRequestId": usage.request_id,
        }
    return out


# ===================================================================== rotation


def enable_key_rotation(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.rotation.enable_key_rotation(request, p["KeyId"], p.get("RotationPeriodInDays"))
    return None


def disable_key_rotation(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.rotation.disable_key_rotation(request, p["KeyId"])
    return None


def get_key_rotation_status(svc: Kms, request: RequestContext, p: Params) -> Result:
    status = svc.rotation.get_key_rotation_status(request, p["KeyId"])
    return {
        "KeyRotationEnabled": status.enabled,
        "KeyId": status.key.arn,
        "RotationPeriodInDays": status.period_days,
        "NextRotationDate": status.next_rotation,
        "OnDemandRotationStartDate": status.on_demand_start,
    }


def rotate_key_on_demand(svc: Kms, request: RequestContext, p: Params) -> Result:
    return {"KeyId": svc.rotation.rotate_key_on_demand(request, p["KeyId"]).arn}


def list_key_rotations(svc: Kms, request: RequestContext, p: Params) -> Result:
    marker = _decode_marker("ListKeyRotations", p.get("Marker"))
    try:
        after = int(marker) if marker is not None else 0
    except ValueError:
        raise InvalidMarkerException.bad() from None
    include_all = p.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
    page = svc.rotation.list_key_rotations(request, p["KeyId"], include_all, after, _limit("ListKeyRotations", p))
    rotations = []
    for entry in page.items:
        material, key = entry.material, entry.key
        item: dict[str, Any] = {
            "KeyId": key.key_id,
            "KeyMaterialId": material.material_id,
            "KeyMaterialState": entry.state,
            "RotationDate": material.rotation_date,
            "RotationType": material.rotation_type,
        }
        if key.origin == "EXTERNAL":
            item["ImportState"] = "IMPORTED" if material.present else "PENDING_IMPORT"
            item["ExpirationModel"] = material.expiration_model
            item["ValidTo"] = material.valid_to
            item["KeyMaterialDescription"] = material.description
        rotations.append(item)
    return {"Rotations": rotations, **_page_fields("ListKeyRotations", page)}


# ===================================================================== importing key material


def get_parameters_for_import(svc: Kms, request: RequestContext, p: Params) -> Result:
    parameters = svc.imports.get_parameters_for_import(
        request, p["KeyId"], p["WrappingAlgorithm"], p["WrappingKeySpec"]
    )
    return {
        "KeyId": parameters.key.arn,
        "ImportToken": parameters.import_token,
        "PublicKey": parameters.public_key,
        "ParametersValidTo": parameters.valid_to,
    }


def import_key_material(svc: Kms, request: RequestContext, p: Params) -> Result:
    key, material_id = svc.imports.import_key_material(
        request,
        p["KeyId"],
        p["ImportToken"],
        p["EncryptedKeyMaterial"],
        p.get("ValidTo"),
        p.get("ExpirationModel"),
        p.get("ImportType"),
        p.get("KeyMaterialDescription"),
        p.get("KeyMaterialId"),
    )
    return {"KeyId": key.arn, "KeyMaterialId": material_id}


def delete_imported_key_material(svc: Kms, request: RequestContext, p: Params) -> Result:
    key, material_id = svc.imports.delete_imported_key_material(request, p["KeyId"], p.get("KeyMaterialId"))
    return {"KeyId": key.arn, "KeyMaterialId": material_id}


# ===================================================================== tags


def tag_resource(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.aliases.tag_resource(request, p["KeyId"], _tags(p))
    return None


def untag_resource(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.aliases.untag_resource(request, p["KeyId"], p["TagKeys"])
    return None


def list_resource_tags(svc: Kms, request: RequestContext, p: Params) -> Result:
    after = _decode_marker("ListResourceTags", p.get("Marker"))
    limit = _limit("ListResourceTags", p)
    tags = sorted(svc.aliases.list_resource_tags(request, p["KeyId"]).items())
    if after is not None:
        tags = [t for t in tags if t[0] > after]
    page = Page(tags[:limit], tags[limit - 1][0] if len(tags) > limit else None)
    return {
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in page.items],
        **_page_fields("ListResourceTags", page),
    }


# ===================================================================== cryptographic operations


def encrypt(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.data.encrypt(
        request,
        p["KeyId"],
        p["Plaintext"],
        p.get("EncryptionContext"),
        p.get("EncryptionAlgorithm"),
        bool(p.get("DryRun")),
    )
    return {
        "CiphertextBlob": result.ciphertext_blob,
        "KeyId": result.key_arn,
        "EncryptionAlgorithm": result.encryption_algorithm,
    }


def decrypt(svc: Kms, request: RequestContext, p: Params) -> Result:
    _no_recipient(p)
    if _ignores_ciphertext(p, "KeyId"):
        svc.data.dry_run_ignoring_ciphertext(
            request, p["KeyId"], p.get("EncryptionContext"), p.get("EncryptionAlgorithm"), "kms:Decrypt", "Decrypt"
        )
        raise DryRunOperationException.would_succeed()
    blob = p.get("CiphertextBlob")
    if blob is None:
        raise ValidationException.missing("ciphertextBlob")
    result = svc.data.decrypt(
        request, blob, p.get("EncryptionContext"), p.get("KeyId"), p.get("EncryptionAlgorithm"), bool(p.get("DryRun"))
    )
    return {
        "KeyId": result.key_arn,
        "Plaintext": result.plaintext,
        "EncryptionAlgorithm": result.encryption_algorithm,
        "KeyMaterialId": result.key_material_id,
    }


def _ignores_ciphertext(p: Params, key_member: str) -> bool:
    """DryRunModifiers [IGNORE_CIPHERTEXT]: only with DryRun, and then the key must be named."""
    if "IGNORE_CIPHERTEXT" not in (p.get("DryRunModifiers") or ()):
        return False
    if not p.get("DryRun"):
        raise ValidationException("DryRunModifiers can only be used when DryRun is true.")
    if p.get(key_member) is None:
        raise ValidationException(f"{key_member} is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
    return True


def re_encrypt(svc: Kms, request: RequestContext, p: Params) -> Result:
    if _ignores_ciphertext(p, "SourceKeyId"):
        svc.data.dry_run_ignoring_ciphertext(
            request,
            p["SourceKeyId"],
            p.get("SourceEncryptionContext"),
            p.get("SourceEncryptionAlgorithm"),
            "kms:ReEncryptFrom",
            "ReEncrypt",
        )
        svc.data.dry_run_ignoring_ciphertext(
            request,
            p["DestinationKeyId"],
            p.get("DestinationEncryptionContext"),
            p.get("DestinationEncryptionAlgorithm"),
            "kms:ReEncryptTo",
            "ReEncrypt",
        )
        raise DryRunOperationException.would_succeed()
    blob = p.get("CiphertextBlob")
    if blob is None:
        raise ValidationException.missing("ciphertextBlob")
    result = svc.data.re_encrypt(
        request,
        blob,
        p.get("SourceEncryptionContext"),
        p.get("SourceKeyId"),
        p.get("SourceEncryptionAlgorithm"),
        p["DestinationKeyId"],
        p.get("DestinationEncryptionContext"),
        p.get("DestinationEncryptionAlgorithm"),
        bool(p.get("DryRun")),
    )
    return {
        "CiphertextBlob": result.ciphertext_blob,
        "SourceKeyId": result.source_key_arn,
        "KeyId": result.key_arn,
        "SourceEncryptionAlgorithm": result.source_encryption_algorithm,
        "DestinationEncryptionAlgorithm": result.destination_encryption_algorithm,
        "SourceKeyMaterialId": result.source_key_material_id,
        "DestinationKeyMaterialId": result.destination_key_material_id,
    }


def _generate_data_key(svc: Kms, request: RequestContext, p: Params, *, with_plaintext: bool) -> dict[str, Any]:
    _no_recipient(p)
    result = svc.data.generate_data_key(
        request,
        p["KeyId"],
        p.get("KeySpec"),
        p.get("NumberOfBytes"),
        p.get("EncryptionContext"),
        bool(p.get("DryRun")),
        with_plaintext=with_plaintext,
    )
    out: dict[str, Any] = {
        "CiphertextBlob": result.ciphertext_blob,
        "KeyId": result.key_arn,
        "KeyMaterialId": result.key_material_id,
    }
    if with_plaintext:
        out["Plaintext"] = result.plaintext
    return out


def generate_data_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    return _generate_data_key(svc, request, p, with_plaintext=True)


def generate_data_key_without_plaintext(svc: Kms, request: RequestContext, p: Params) -> Result:
    return _generate_data_key(svc, request, p, with_plaintext=False)


def generate_random(svc: Kms, request: RequestContext, p: Params) -> Result:
    _no_recipient(p)
    return {"Plaintext": svc.data.generate_random(request, p.get("NumberOfBytes"), p.get("CustomKeyStoreId"))}


# ===================================================================== asymmetric and HMAC keys


def get_public_key(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.asymmetric.get_public_key(request, p["KeyId"])
    key = result.key
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "PublicKey": result.public_key,
        "CustomerMasterKeySpec": key.customer_master_key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    }
    return _with_algorithms(out, key)


def sign(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.asymmetric.sign(
        request, p["KeyId"], p["Message"], p.get("MessageType"), p["SigningAlgorithm"], bool(p.get("DryRun"))
    )
    return {"KeyId": result.key_arn, "Signature": result.signature, "SigningAlgorithm": result.signing_algorithm}


def verify(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.asymmetric.verify(
        request,
        p["KeyId"],
        p["Message"],
        p.get("MessageType"),
        p["Signature"],
        p["SigningAlgorithm"],
        bool(p.get("DryRun")),
    )
    return {"KeyId": result.key_arn, "SignatureValid": True, "SigningAlgorithm": result.signing_algorithm}


def generate_mac(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.asymmetric.generate_mac(request, p["KeyId"], p["Message"], p["MacAlgorithm"], bool(p.get("DryRun")))
    return {"Mac": result.mac, "MacAlgorithm": result.mac_algorithm, "KeyId": result.key_arn}


def verify_mac(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.asymmetric.verify_mac(
        request, p["KeyId"], p["Message"], p["MacAlgorithm"], p["Mac"], bool(p.get("DryRun"))
    )
    return {"KeyId": result.key_arn, "MacValid": True, "MacAlgorithm": result.mac_algorithm}


def derive_shared_secret(svc: Kms, request: RequestContext, p: Params) -> Result:
    _no_recipient(p)
    result = svc.asymmetric.derive_shared_secret(
        request, p["KeyId"], p["KeyAgreementAlgorithm"], p["PublicKey"], bool(p.get("DryRun"))
    )
    return {
        "KeyId": result.key_arn,
        "SharedSecret": result.shared_secret,
        "KeyAgreementAlgorithm": p["KeyAgreementAlgorithm"],
        "KeyOrigin": result.key_origin,
    }


def encapsulate(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.kem.encapsulate(request, p["KeyId"], p["EncapsulationAlgorithm"], bool(p.get("DryRun")))
    return {
        "KeyId": result.key_arn,
        "SharedSecret": result.shared_secret,
        "SharedSecretCiphertextBlob": result.ciphertext,
        "EncapsulationAlgorithm": result.algorithm,
    }


def decapsulate(svc: Kms, request: RequestContext, p: Params) -> Result:
    result = svc.kem.decapsulate(
        request, p["KeyId"], p["SharedSecretCiphertextBlob"], p["EncapsulationAlgorithm"], bool(p.get("DryRun"))
    )
    return {"KeyId": result.key_arn, "SharedSecret": result.shared_secret, "EncapsulationAlgorithm": result.algorithm}


def _generate_data_key_pair(svc: Kms, request: RequestContext, p: Params, *, with_plaintext: bool) -> dict[str, Any]:
    _no_recipient(p)
    result = svc.data.generate_data_key_pair(
        request,
        p["KeyId"],
        p["KeyPairSpec"],
        p.get("EncryptionContext"),
        bool(p.get("DryRun")),
        with_plaintext=with_plaintext,
    )
    out: dict[str, Any] = {
        "PrivateKeyCiphertextBlob": result.private_key_ciphertext_blob,
        "PublicKey": result.public_key,
        "KeyId": result.key_arn,
        "KeyPairSpec": result.key_pair_spec,
        "KeyMaterialId": result.key_material_id,
    }
    if with_plaintext:
        out["PrivateKeyPlaintext"] = result.private_key_plaintext
    return out


def generate_data_key_pair(svc: Kms, request: RequestContext, p: Params) -> Result:
    return _generate_data_key_pair(svc, request, p, with_plaintext=True)


def generate_data_key_pair_without_plaintext(svc: Kms, request: RequestContext, p: Params) -> Result:
    return _generate_data_key_pair(svc, request, p, with_plaintext=False)


# ===================================================================== grants


def _principal_pair(p: Params, user_member: str, service_member: str, required: bool) -> str | None:
    user, service = p.get(user_member), p.get(service_member)
    if user is not None and service is not None:
        raise ValidationException(f"Specify either {user_member} or {service_member}, not both.")
    if required and user is None and service is None:
        raise ValidationException.missing(user_member[0].lower() + user_member[1:])
    value: str | None = user if user is not None else service
    return value


def _grant_entry(grant: Grant) -> dict[str, Any]:
    constraints: dict[str, Any] = {}
    if grant.encryption_context_equals is not None:
        constraints["EncryptionContextEquals"] = dict(grant.encryption_context_equals)
    if grant.encryption_context_subset is not None:
        constraints["EncryptionContextSubset"] = dict(grant.encryption_context_subset)
    entry: dict[str, Any] = {
        "KeyId": key_arn(grant.region, grant.key_account_id, grant.key_id),
        "GrantId": grant.grant_id,
        "Name": grant.name,
        "CreationDate": grant.creation_date,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
        "Constraints": constraints or None,
    }
    for field_name, value in (("Grantee", grant.grantee_principal), ("Retiring", grant.retiring_principal)):
        if value is not None:
            suffix = "ServicePrincipal" if value.endswith(".amazonaws.com") else "Principal"
            entry[f"{field_name}{suffix}"] = value
    return entry


def create_grant(svc: Kms, request: RequestContext, p: Params) -> Result:
    grantee = _principal_pair(p, "GranteePrincipal", "GranteeServicePrincipal", required=True)
    retiring = _principal_pair(p, "RetiringPrincipal", "RetiringServicePrincipal", required=False)
    constraints = p.get("Constraints") or None
    if constraints is not None and constraints.get("SourceArn") is not None:
        raise UnsupportedOperationException("The SourceArn grant constraint is not supported by this Trent server.")
    created = svc.grants.create_grant(
        request,
        p["KeyId"],
        grantee or "",
        p["Operations"],
        retiring,
        constraints,
        p.get("Name"),
        bool(p.get("DryRun")),
    )
    return {"GrantToken": created.grant_token, "GrantId": created.grant_id}


def list_grants(svc: Kms, request: RequestContext, p: Params) -> Result:
    page = svc.grants.list_grants(
        request,
        p["KeyId"],
        p.get("GrantId"),
        p.get("GranteePrincipal") or p.get("GranteeServicePrincipal"),
        _decode_marker("ListGrants", p.get("Marker")),
        _limit("ListGrants", p),
    )
    return {"Grants": [_grant_entry(g) for g in page.items], **_page_fields("ListGrants", page)}


def list_retirable_grants(svc: Kms, request: RequestContext, p: Params) -> Result:
    retiring = _principal_pair(p, "RetiringPrincipal", "RetiringServicePrincipal", required=True)
    page = svc.grants.list_retirable_grants(
        request,
        retiring or "",
        _decode_marker("ListRetirableGrants", p.get("Marker")),
        _limit("ListRetirableGrants", p),
    )
    return {"Grants": [_grant_entry(g) for g in page.items], **_page_fields("ListRetirableGrants", page)}


def retire_grant(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.grants.retire_grant(request, p.get("GrantToken"), p.get("KeyId"), p.get("GrantId"), bool(p.get("DryRun")))
    return None


def revoke_grant(svc: Kms, request: RequestContext, p: Params) -> Result:
    svc.grants.revoke_grant(request, p["KeyId"], p["GrantId"], bool(p.get("DryRun")))
    return None


HANDLERS: dict[str, Handler] = {
    "CancelKeyDeletion": cancel_key_deletion,
    "CreateAlias": create_alias,
    "CreateGrant": create_grant,
    "CreateKey": create_key,
    "Decapsulate": decapsulate,
    "Decrypt": decrypt,
    "DeleteAlias": delete_alias,
    "DeleteImportedKeyMaterial": delete_imported_key_material,
    "DeriveSharedSecret": derive_shared_secret,
    "DescribeKey": describe_key,
    "DisableKey": disable_key,
    "DisableKeyRotation": disable_key_rotation,
    "EnableKey": enable_key,
    "EnableKeyRotation": enable_key_rotation,
    "Encapsulate": encapsulate,
    "Encrypt": encrypt,
    "GenerateDataKey": generate_data_key,
    "GenerateDataKeyPair": generate_data_key_pair,
    "GenerateDataKeyPairWithoutPlaintext": generate_data_key_pair_without_plaintext,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "GenerateMac": generate_mac,
    "GenerateRandom": generate_random,
    "GetKeyLastUsage": get_key_last_usage,
    "GetKeyPolicy": get_key_policy,
    "GetKeyRotationStatus": get_key_rotation_status,
    "GetParametersForImport": get_parameters_for_import,
    "GetPublicKey": get_public_key,
    "ImportKeyMaterial": import_key_material,
    "ListAliases": list_aliases,
    "ListGrants": list_grants,
    "ListKeyPolicies": list_key_policies,
    "ListKeyRotations": list_key_rotations,
    "ListKeys": list_keys,
    "ListResourceTags": list_resource_tags,
    "ListRetirableGrants": list_retirable_grants,
    "PutKeyPolicy": put_key_policy,
    "ReEncrypt": re_encrypt,
    "ReplicateKey": replicate_key,
    "RetireGrant": retire_grant,
    "RevokeGrant": revoke_grant,
    "RotateKeyOnDemand": rotate_key_on_demand,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "Sign": sign,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateAlias": update_alias,
    "UpdateKeyDescription": update_key_description,
    "UpdatePrimaryRegion": update_primary_region,
    "Verify": verify,
    "VerifyMac": verify_mac,
}


def not_yet_supported(operation: str) -> Handler:
    def handler(svc: Kms, request: RequestContext, p: Params) -> Result:
        raise UnsupportedOperationException.not_yet(operation)

    return handler


__all__ = ["HANDLERS", "key_arn", "key_metadata", "not_yet_supported"]
