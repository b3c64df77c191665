"""The local root key: file mode, sealing bound to its AAD."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trent.domain.errors import RootOfTrustError
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.keycache import material_aad


def test_created_with_mode_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "root.key"
    first = LocalFileRootOfTrust.open_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal(b"material", b"aad")
    again = LocalFileRootOfTrust.open_or_create(path)
    assert again.unseal(sealed, b"aad") == b"material"


def test_swapped_blobs_do_not_open(tmp_path: Path) -> None:
    rot = LocalFileRootOfTrust.open_or_create(tmp_path / "root.key")
    a = rot.seal(b"A" * 32, material_aad("key-a", "00" * 32))
    b = rot.seal(b"B" * 32, material_aad("key-b", "00" * 32))
    with pytest.raises(RootOfTrustError):
        rot.unseal(a, material_aad("key-b", "00" * 32))
    with pytest.raises(RootOfTrustError):
        rot.unseal(b, material_aad("key-a", "00" * 32))
    with pytest.raises(RootOfTrustError):
        rot.unseal(a, material_aad("key-a", "11" * 32))


def test_other_root_key_cannot_open(tmp_path: Path) -> None:
    sealed = LocalFileRootOfTrust.open_or_create(tmp_path / "a.key").seal(b"x", b"aad")
    with pytest.raises(RootOfTrustError):
        LocalFileRootOfTrust.open_or_create(tmp_path / "b.key").unseal(sealed, b"aad")


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    LocalFileRootOfTrust.open_or_create(path)
    os.chmod(path, 0o640)
    with pytest.raises(RootOfTrustError):
        LocalFileRootOfTrust.load(path)


def test_not_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"hello")
    os.chmod(path, 0o600)
    with pytest.raises(RootOfTrustError):
        LocalFileRootOfTrust.load(path)
