"""AES-256-GCM sealing: a value opens only with its key, in its own table, column and row."""

from __future__ import annotations

import os

import pytest

from llmojid.daemon.seal import SealError, key_id_of, open_sealed, seal

KEY = os.urandom(32)
KEY_ID = "0a1b2c3d"


def test_round_trip_and_key_id() -> None:
    sealed = seal(KEY, KEY_ID, b"secret text", table="journal", column="user_text", row_id=5)
    assert b"secret text" not in sealed
    assert key_id_of(sealed) == KEY_ID
    assert open_sealed(lambda _k: KEY, sealed, table="journal", column="user_text", row_id=5) == b"secret text"


def test_fresh_nonce_per_value() -> None:
    a = seal(KEY, KEY_ID, b"same", table="t", column="c", row_id=1)
    b = seal(KEY, KEY_ID, b"same", table="t", column="c", row_id=1)
    assert a != b


@pytest.mark.parametrize(
    ("table", "column", "row_id"), [("other", "user_text", 5), ("journal", "cwd", 5), ("journal", "user_text", 6)]
)
def test_moved_ciphertext_does_not_open(table: str, column: str, row_id: int) -> None:
    sealed = seal(KEY, KEY_ID, b"x", table="journal", column="user_text", row_id=5)
    with pytest.raises(SealError) as err:
        open_sealed(lambda _k: KEY, sealed, table=table, column=column, row_id=row_id)
    assert "x" not in str(err.value).split("row")[-1].replace(str(row_id), "")


def test_wrong_key_or_tampering_does_not_open() -> None:
    sealed = seal(KEY, KEY_ID, b"payload", table="t", column="c", row_id=1)
    with pytest.raises(SealError):
        open_sealed(lambda _k: os.urandom(32), sealed, table="t", column="c", row_id=1)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        open_sealed(lambda _k: KEY, flipped, table="t", column="c", row_id=1)
    with pytest.raises(SealError):
        key_id_of(b"\x09short")
