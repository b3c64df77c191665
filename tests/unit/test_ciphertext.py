"""The ciphertext blob: format, context binding, tamper evidence."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trent.domain import ciphertext
from trent.domain.errors import InvalidCiphertextException

KEY_ID = str(uuid.uuid4())
MATERIAL = bytes(range(32))
MATERIAL_ID = ciphertext.material_id_for(KEY_ID, MATERIAL)


def test_round_trip_and_header_fields() -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"secret", {"app": "shop"})
    parsed = ciphertext.parse(blob)
    assert parsed.key_id == KEY_ID
    assert parsed.material_id == MATERIAL_ID
    assert len(blob) == len(b"secret") + ciphertext.OVERHEAD_BYTES
    assert ciphertext.decrypt(parsed, MATERIAL, {"app": "shop"}) == b"secret"


def test_multi_region_key_ids_survive_the_header() -> None:
    mrk = "mrk-" + uuid.uuid4().hex
    blob = ciphertext.encrypt(mrk, MATERIAL_ID, MATERIAL, b"x", None)
    assert ciphertext.parse(blob).key_id == mrk


def test_same_plaintext_never_gives_the_same_blob() -> None:
    blobs = {ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"same", None) for _ in range(50)}
    assert len(blobs) == 50


@pytest.mark.parametrize(
    ("made_with", "opened_with"),
    [
        ({"ab": "c"}, {"a": "bc"}),
        ({"a": "bc"}, {"ab": "c"}),
        ({"a": "b"}, {"a": "B"}),
        ({"a": "b"}, {"A": "b"}),
        ({"a": "b"}, None),
        (None, {"a": "b"}),
        ({"a": "b", "c": "d"}, {"a": "b"}),
        ({"a": ""}, {"": "a"}),
    ],
)
def test_encryption_context_must_match_exactly(
    made_with: dict[str, str] | None, opened_with: dict[str, str] | None
) -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"payload", made_with)
    with pytest.raises(InvalidCiphertextException):
        ciphertext.decrypt(ciphertext.parse(blob), MATERIAL, opened_with)


def test_context_order_does_not_matter_and_empty_equals_absent() -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"p", {"a": "1", "b": "2"})
    assert ciphertext.decrypt(ciphertext.parse(blob), MATERIAL, {"b": "2", "a": "1"}) == b"p"
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"p", {})
    assert ciphertext.decrypt(ciphertext.parse(blob), MATERIAL, None) == b"p"


@given(st.dictionaries(st.text(), st.text(), max_size=4), st.dictionaries(st.text(), st.text(), max_size=4))
def test_context_encoding_is_injective(a: dict[str, str], b: dict[str, str]) -> None:
    assert (ciphertext.encode_encryption_context(a) == ciphertext.encode_encryption_context(b)) == (a == b)


def test_every_flipped_byte_is_rejected() -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"sixteen byte msg", {"k": "v"})
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidCiphertextException):  # noqa: PT012 - either step may detect it
            parsed = ciphertext.parse(bytes(tampered))
            # A flipped key id or material id still parses; opening it with this key's
            # material must then fail, exactly as the service's lookup would.
            ciphertext.decrypt(parsed, MATERIAL, {"k": "v"})


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x00" * 200, b"\x02" + b"\x00" * 200, b"\x01\x80" + b"\x00" * 200])
def test_garbage_is_invalid_ciphertext(blob: bytes) -> None:
    with pytest.raises(InvalidCiphertextException):
        ciphertext.decrypt(ciphertext.parse(blob), MATERIAL, None)


def test_truncated_blob_is_rejected() -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"hello", None)
    for cut in (1, 5, 16, len(blob) - ciphertext.HEADER_BYTES):
        with pytest.raises(InvalidCiphertextException):
            ciphertext.decrypt(ciphertext.parse(blob[:-cut]), MATERIAL, None)


def test_other_material_cannot_open() -> None:
    blob = ciphertext.encrypt(KEY_ID, MATERIAL_ID, MATERIAL, b"hello", None)
    with pytest.raises(InvalidCiphertextException):
        ciphertext.decrypt(ciphertext.parse(blob), bytes(32), None)


def test_material_id_is_64_hex_and_depends_on_key_and_material() -> None:
    assert len(MATERIAL_ID) == 64
    int(MATERIAL_ID, 16)
    assert ciphertext.material_id_for(str(uuid.uuid4()), MATERIAL) != MATERIAL_ID
    assert ciphertext.material_id_for(KEY_ID, bytes(32)) != MATERIAL_ID
