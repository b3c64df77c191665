"""Trent's symmetric ciphertext blob and the encryption-context encoding bound into it.

Layout (all fixed-size fields, so parsing needs no lengths from the blob itself)::

    version(1) | flags(1) | key id(16) | key material id(32) | salt(16) | iv(12) | ciphertext | tag(16)

The first 66 bytes are the header. Each message gets its own data key, derived with SP 800-108
KBKDF (HMAC-SHA256) from the key material and the header (so from the random salt), then
AES-256-GCM with a random 96-bit IV. AAD = header || canonical encoding of the encryption context.
The key id is stored, not the ARN, so a blob is independent of account and Region names.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from trent.crypto import aead, kdf
from trent.crypto.random import random_bytes
from trent.domain.errors import InvalidCiphertextException
from trent.domain.ids import key_id_from_bytes, key_id_to_bytes

FORMAT_VERSION = 1
SALT_BYTES = 16
HEADER_BYTES = 1 + 1 + 16 + 32 + SALT_BYTES
OVERHEAD_BYTES = HEADER_BYTES + aead.NONCE_BYTES + aead.TAG_BYTES
_KNOWN_FLAGS = 0b1


@dataclass(frozen=True, slots=True)
class ParsedCiphertext:
    key_id: str
    material_id: str
    header: bytes
    iv: bytes
    body: bytes  # ciphertext || tag


def encode_encryption_context(context: Mapping[str, str] | None) -> bytes:
    """Injective encoding: count, then length-prefixed UTF-8 pairs sorted by key bytes.

    Lengths make {"ab": "c"} and {"a": "bc"} different; sorting makes pair order irrelevant.
    """
    if not context:
        return b"\x00\x00\x00\x00"
    pairs = sorted((k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in context.items())
    parts = [struct.pack(">I", len(pairs))]
    for k, v in pairs:
        parts.append(struct.pack(">I", len(k)))
        parts.append(k)
        parts.append(struct.pack(">I", len(v)))
        parts.append(v)
    return b"".join(parts)


def _header(key_id: str, material_id: str, salt: bytes) -> bytes:
    flags, raw_id = key_id_to_bytes(key_id)
    return bytes((FORMAT_VERSION, flags)) + raw_id + bytes.fromhex(material_id) + salt


def encrypt(
    key_id: str, material_id: str, material: bytes, plaintext: bytes, context: Mapping[str, str] | None
) -> bytes:
    fresh = random_bytes(SALT_BYTES + aead.NONCE_BYTES)  # one system call for both
    header = _header(key_id, material_id, fresh[:SALT_BYTES])
    data_key = kdf.derive_data_key(material, header)
    iv = fresh[SALT_BYTES:]
    return header + iv + aead.encrypt(data_key, iv, plaintext, header + encode_encryption_context(context))


def parse(blob: bytes) -> ParsedCiphertext:
    """Read the header; any blob that is not ours raises InvalidCiphertextException, no detail."""
    if len(blob) < OVERHEAD_BYTES or blob[0] != FORMAT_VERSION or blob[1] & ~_KNOWN_FLAGS:
        raise InvalidCiphertextException
    header = blob[:HEADER_BYTES]
    return ParsedCiphertext(
        key_id=key_id_from_bytes(blob[1], blob[2:18]),
        material_id=blob[18:50].hex(),
        header=header,
        iv=blob[HEADER_BYTES : HEADER_BYTES + aead.NONCE_BYTES],
        body=blob[HEADER_BYTES + aead.NONCE_BYTES :],
    )


def decrypt(parsed: ParsedCiphertext, material: bytes, context: Mapping[str, str] | None) -> bytes:
    data_key = kdf.derive_data_key(material, parsed.header)
    try:
        return aead.decrypt(data_key, parsed.iv, parsed.body, parsed.header + encode_encryption_context(context))
    except aead.AeadOpenError:
        raise InvalidCiphertextException from None


def material_id_for(key_id: str, material: bytes) -> str:
    """AWS's KeyMaterialId: 64 hex, derived from key id and material, revealing neither."""
    return kdf.keyed_digest(material, b"trent key material id\x00" + key_id.encode()).hex()
