"""The spool: hook events that could not be delivered, sealed to the daemon's key, drained in order.

The hook writes them (``llmojid.client.hook``); the file format is ``llmojid.common.spool_format``, which both
sides import. This module owns the daemon's half:

* ``publish_public_key``: at start, write the X25519 public key whose private half lives in the keyring, so hooks
  can seal to it while the daemon is away;
* ``pending``: the finished spool files in name (arrival) order; half-written ``.tmp-`` files are skipped, and
  removed once they are old enough that no hook can still be writing them;
* ``open_entry``: decrypt and decode one file;
* ``quarantine``: a file that does not open (damaged, sealed to a key this keyring no longer holds) is renamed
  ``*.bad`` and kept: it may be someone's only copy, and deleting it would hide the fault.

Deleting a drained file is the drainer's job, after the rows it produced are committed (see
``llmojid.daemon.adapters.ingest``): a crash in between re-drains the file, and the journal's message-id key
stores its rows once.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from llmojid.client import minipack
from llmojid.common import spool_format as fmt
from llmojid.common.spool_format import BAD_SUFFIX

#: A spool file larger than this is not opened (the hook caps payloads at 64 MiB; the envelope adds little).
MAX_SPOOL_FILE_BYTES: Final = fmt.MAX_PAYLOAD_BYTES + 64 * 1024
#: A ``.tmp-`` file older than this was left by a hook that died mid-write (a hook finishes within seconds).
STALE_TMP_SECONDS: Final = 3600.0


class SpoolError(Exception):
    """A spool file that does not open. Names the reason, never the content."""


@dataclass(frozen=True)
class SpoolEntry:
    harness: str
    payload: bytes
    #: When the hook spooled it (ISO-8601 UTC): the event time for payloads that carry none.
    ts: str


def public_key_of(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def publish_public_key(private_key: bytes, path: Path) -> None:
    """Write the public half (raw 32 bytes, 0600) atomically; leave an identical file untouched."""
    public = public_key_of(private_key)
    try:
        if path.read_bytes() == public and not path.is_symlink():
            return
    except OSError:
        pass
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, public)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def waiting(spool_dir: Path) -> bool:
    """Whether finished spool files wait in ``spool_dir`` (a look only: nothing is removed)."""
    try:
        return any(name.endswith(fmt.SPOOL_SUFFIX) for name in os.listdir(spool_dir))
    except FileNotFoundError:
        return False


def pending(spool_dir: Path, *, now: float | None = None) -> list[Path]:
    """Finished spool files, oldest first. Removes stale temporary files. A missing directory holds none."""
    try:
        names = os.listdir(spool_dir)
    except FileNotFoundError:
        return []
    now = time.time() if now is None else now
    ready: list[str] = []
    for name in names:
        if name.startswith(fmt.SPOOL_TMP_PREFIX):
            with contextlib.suppress(OSError):
                if now - os.lstat(spool_dir / name).st_mtime > STALE_TMP_SECONDS:
                    os.unlink(spool_dir / name)
        elif name.endswith(fmt.SPOOL_SUFFIX):
            ready.append(name)
    return [spool_dir / name for name in sorted(ready)]


def read_file(path: Path) -> bytes:
    """A spool file's bytes: a regular file of ours, not a symlink, within the size cap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SpoolError(f"cannot open a spool file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise SpoolError("a spool entry is not a regular file of ours")
        if st.st_size > MAX_SPOOL_FILE_BYTES:
            raise SpoolError("a spool file is over the size limit")
        chunks = []
        while chunk := os.read(fd, 1024 * 1024):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_entry(private_key: bytes, sealed: bytes) -> SpoolEntry:
    """Decrypt and decode one spool file's bytes. Raises SpoolError."""
    if len(sealed) < fmt.SPOOL_HEADER_BYTES + fmt.TAG_BYTES or not sealed.startswith(fmt.SPOOL_MAGIC):
        raise SpoolError("a spool file is malformed")
    start = len(fmt.SPOOL_MAGIC)
    ephemeral_public = sealed[start : start + fmt.X25519_KEY_BYTES]
    nonce = sealed[start + fmt.X25519_KEY_BYTES : fmt.SPOOL_HEADER_BYTES]
    header = sealed[: fmt.SPOOL_HEADER_BYTES]
    own = X25519PrivateKey.from_private_bytes(private_key)
    public = own.public_key().public_bytes_raw()
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=fmt.SPOOL_INFO + ephemeral_public + public
        ).derive(shared)
        plaintext = AESGCM(key).decrypt(nonce, sealed[fmt.SPOOL_HEADER_BYTES :], header + public)
    except (InvalidTag, ValueError):
        raise SpoolError("a spool file does not open with this keyring's spool key") from None
    try:
        value = minipack.decode(plaintext)
    except (ValueError, UnicodeDecodeError):
        raise SpoolError("a spool file's content does not decode") from None
    if not isinstance(value, dict):
        raise SpoolError("a spool file's content has the wrong shape")
    harness, payload, ts = value.get("harness"), value.get("payload"), value.get("ts")
    if not isinstance(harness, str) or not isinstance(payload, bytes) or not isinstance(ts, str):
        raise SpoolError("a spool file's content has the wrong shape")
    return SpoolEntry(harness=harness, payload=payload, ts=ts)


def quarantine(path: Path) -> None:
    """Keep a file that does not open, out of the drain's way."""
    with contextlib.suppress(OSError):
        os.rename(path, path.with_name(path.name + BAD_SUFFIX))
