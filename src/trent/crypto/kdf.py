"""Key derivation: NIST SP 800-108 counter mode with HMAC-SHA256, as AWS KMS derives per-request keys."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

_LABEL = b"trent derived data key v1"


def derive_data_key(material: bytes, context: bytes, length: int = 32) -> bytes:
    """One fresh key per message: the context carries the random salt, so no key is reused."""
    return KBKDFHMAC(
        algorithm=hashes.SHA256(),
        mode=Mode.CounterMode,
        length=length,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=_LABEL,
        context=context,
        fixed=None,
    ).derive(material)


def keyed_digest(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256, for identifiers that must reveal nothing about the key they name."""
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
