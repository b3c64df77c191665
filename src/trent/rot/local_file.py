"""The default root of trust: a 256-bit AES key in a file readable only by its owner (0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trent.crypto import aead
from trent.crypto.random import random_bytes
from trent.domain.errors import RootOfTrustError

_FILE_MAGIC = b"TRENT-ROOT-KEY-V1\n"


class LocalFileRootOfTrust:
    """Implements ``trent.services.ports.RootOfTrust`` with AES-256-GCM under a local key file."""

    def __init__(self, key: bytes) -> None:
        if len(key) != aead.KEY_BYTES:
            raise RootOfTrustError("the root key must be 32 bytes")
        self._key = key

    @classmethod
    def open_or_create(cls, path: Path) -> LocalFileRootOfTrust:
        """Create the key file on first start (mode 0600, never overwritten); else load it."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = random_bytes(aead.KEY_BYTES)
            # O_EXCL: two processes starting at once must not both write a different key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.load(path)
            with os.fdopen(fd, "wb") as out:
                out.write(_FILE_MAGIC + key.hex().encode() + b"\n")
                out.flush()
                os.fsync(out.fileno())
            return cls(key)
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> LocalFileRootOfTrust:
        if not path.exists():
            raise RootOfTrustError(f"no root key file at {path}")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise RootOfTrustError(f"root key file {path} must not be readable by group or others")
        data = path.read_bytes()
        if not data.startswith(_FILE_MAGIC):
            raise RootOfTrustError(f"{path} is not a Trent root key file")
        try:
            key = bytes.fromhex(data[len(_FILE_MAGIC) :].strip().decode("ascii"))
        except ValueError as exc:
            raise RootOfTrustError(f"{path} is not a Trent root key file") from exc
        return cls(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        return aead.seal(self._key, plaintext, aad)

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            return aead.open_sealed(self._key, sealed, aad)
        except aead.AeadOpenError:
            raise RootOfTrustError("a sealed blob did not open under the root key") from None
