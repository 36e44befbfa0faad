"""Sealed values: AES-256-GCM with a fresh nonce per value, bound to where the value lives.

A sealed value is ``version (1) | key id (4) | nonce (12) | ciphertext+tag``. The associated data binds the table,
column, row id and key id, so a ciphertext copied to another row or column does not open, and the key id in the
value says which keyring entry opens it (what lets key rotation run in resumable batches).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
NONCE_BYTES = 12
KEY_ID_BYTES = 4
HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES


class SealError(Exception):
    """A value that does not open: wrong key, wrong place, or damaged. Names the place, never the content."""


def associated_data(table: str, column: str, row_id: int | str, key_id: str) -> bytes:
    return f"llmojid\x00{table}\x00{column}\x00{row_id}\x00{key_id}".encode()


def seal(key: bytes, key_id: str, plaintext: bytes, *, table: str, column: str, row_id: int | str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    ad = associated_data(table, column, row_id, key_id)
    return bytes([VERSION]) + bytes.fromhex(key_id) + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def key_id_of(sealed: bytes) -> str:
    if len(sealed) < HEADER_BYTES + 16 or sealed[0] != VERSION:
        raise SealError("sealed value is malformed")
    return sealed[1 : 1 + KEY_ID_BYTES].hex()


def open_sealed(key_for: Callable[[str], bytes], sealed: bytes, *, table: str, column: str, row_id: int | str) -> bytes:
    """Open a sealed value; ``key_for(key_id)`` supplies the key the value names."""
    key_id = key_id_of(sealed)
    nonce = sealed[1 + KEY_ID_BYTES : HEADER_BYTES]
    try:
        return AESGCM(key_for(key_id)).decrypt(
            nonce, sealed[HEADER_BYTES:], associated_data(table, column, row_id, key_id)
        )
    except InvalidTag:
        raise SealError(f"sealed value in {table}.{column} row {row_id} does not open") from None
