"""Fresh key material for a new key or material version."""

from __future__ import annotations

from trent.crypto import asymmetric, hmac_keys
from trent.crypto.random import random_bytes
from trent.domain.errors import UnsupportedOperationException
from trent.domain.keys import SYMMETRIC_DEFAULT, SYMMETRIC_MATERIAL_BYTES


def new_key_material(spec: str) -> bytes:
    """Fresh material for a key spec: the AES key, the HMAC secret, or the DER PKCS#8 private key."""
    if spec == SYMMETRIC_DEFAULT:
        return random_bytes(SYMMETRIC_MATERIAL_BYTES)
    if spec in hmac_keys.HMAC_KEY_BYTES:
        return hmac_keys.generate_hmac_key(spec)
    try:
        return asymmetric.generate_private_key(spec)
    except asymmetric.UnsupportedAlgorithm:
        raise UnsupportedOperationException(f"KeySpec {spec} is not supported by this Trent server.") from None
