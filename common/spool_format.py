"""The spool's file format, shared by its writer (the hook) and its readers (the daemon's drain, stats, the auditor).

Standard library only, and no imports at all beyond it: the hook imports this on every turn, and the daemon must
not depend on the hook's entry point to know what a spool file looks like.

A spool file (``SPOOL_MAGIC`` version 1)::

    magic (6) | ephemeral X25519 public key (32) | nonce (12) | AES-256-GCM(ciphertext + tag)

The key is HKDF-SHA256 of the X25519 shared secret, with ``info = SPOOL_INFO | ephemeral public | recipient
public``; the associated data is the header plus the recipient public key. The plaintext is a minipack map
``{"harness": str, "payload": bytes, "ts": ISO-8601 UTC str}``. ``llmojid.client.hook`` seals it,
``llmojid.daemon.spool`` opens it.

Names: ``<20-digit ns>-<pid>-<random>.spool``, sorting in arrival order; written as ``.tmp-<name>`` and renamed;
a file that does not open is kept as ``<name>.bad``.
"""

from __future__ import annotations

SPOOL_MAGIC = b"LJSPL1"
SPOOL_INFO = b"llmojid spool v1"
SPOOL_SUFFIX = ".spool"
SPOOL_TMP_PREFIX = ".tmp-"
#: A spool file set aside because it does not open (damaged, or sealed to a key this keyring no longer holds).
BAD_SUFFIX = ".bad"
X25519_KEY_BYTES = 32
NONCE_BYTES = 12
SPOOL_HEADER_BYTES = len(SPOOL_MAGIC) + X25519_KEY_BYTES + NONCE_BYTES
#: AES-GCM's tag: a sealed file is at least the header plus this.
TAG_BYTES = 16
#: Largest payload the hook accepts from stdin (and so the largest a spool file carries).
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
