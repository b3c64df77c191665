"""AES-256-GCM, the one authenticated cipher Trent uses for data and for sealing material."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trent.crypto.random import random_bytes

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class AeadOpenError(Exception):
    """Authentication failed. Carries no detail on purpose: callers map it to their own error."""


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Return ciphertext || 16-byte tag."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext_and_tag, aad)
    except (InvalidTag, ValueError):
        raise AeadOpenError from None


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext || tag with a fresh random nonce; for material at rest."""
    nonce = random_bytes(NONCE_BYTES)
    return nonce + encrypt(key, nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise AeadOpenError
    return decrypt(key, sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
