"""The key manager: every secret llmojid holds lives in the OS keyring, never on disk.

Entries (service ``llmojid``, or ``$LLMOJID_KEYRING_SERVICE``):

* ``data-key:<id>``   a 256-bit AES-GCM data key, base64; ``<id>`` is 8 hex digits and is stored in each sealed value;
* ``active-key``      the id of the key new values are sealed under;
* ``index-key``       a 256-bit HMAC key for deduplication ids (so no hash of text is ever stored bare);
* ``spool-key``       the X25519 private key hooks seal spooled payloads to (its public half is a file);
* ``submitter-secret`` the per-install secret behind a bundle's ``submitter_id``.

There is no fallback. No backend, a plaintext backend, or a locked keyring is a startup error that says how to
fix it: a silent ephemeral or on-disk key would either lose the journal or defeat the encryption.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("llmojid.keys")

#: The keyring service name. LLMOJID_KEYRING_SERVICE gives a second instance (or a test) entries of its own.
SERVICE = os.environ.get("LLMOJID_KEYRING_SERVICE", "llmojid")
ACTIVE = "active-key"
INDEX = "index-key"
SPOOL = "spool-key"
SUBMITTER = "submitter-secret"
KEY_BYTES = 32
#: Waits between retries of a keyring call that failed with a transient error.
KEYRING_RETRY_DELAYS = (0.1, 0.4)
_BACKEND_LOCK = threading.RLock()

#: Backends that are not a keyring at all, or that keep secrets in a plain file.
_REFUSED_BACKENDS = (
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyrings.alt.file.PlaintextKeyring",
    "keyrings.alt.file.EncryptedKeyring",
)

HOW_TO_FIX = (
    "llmojid keeps its data key only in the OS keyring. Start and unlock one: on a Linux desktop, GNOME Keyring or "
    "KWallet (Secret Service); on a headless Linux machine, run inside a D-Bus session with an unlocked "
    "gnome-keyring, e.g. dbus-run-session -- sh -c 'printf PASSWORD | gnome-keyring-daemon --unlock "
    "--components=secrets; llmojid serve'; on macOS, the login Keychain. Then start llmojid again."
)


class KeyringUnavailableError(Exception):
    """No usable keyring: the message says what was found and how to fix it, never a secret."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass
class KeyManager:
    """Loads and creates keys in the OS keyring. One instance per daemon.

    Error handling: every keyring failure becomes KeyringUnavailableError (chained to its cause), at this edge.
    """

    backend_name: str = ""
    _keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    _active: str = ""
    _backend: Any = field(default=None, repr=False)

    @classmethod
    def open(cls) -> KeyManager:
        """Find a usable backend and prove it answers (a locked keyring fails here, not at first write)."""
        try:
            import keyring
            import keyring.errors
        except ImportError as exc:  # pragma: no cover - a dependency
            raise KeyringUnavailableError(f"the keyring package is missing. {HOW_TO_FIX}") from exc
        backend = _fast_backend() or keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__qualname__}"
        if name in _REFUSED_BACKENDS or _is_empty_chain(backend):
            raise KeyringUnavailableError(f"no usable OS keyring backend (found {name}). {HOW_TO_FIX}")
        manager = cls(backend_name=name, _backend=backend)
        manager._get(ACTIVE)  # a locked or unreachable keyring raises here
        return manager

    # --- raw access, translated at the edge ---
    def _call(self, fn: Any, *args: str, retry: bool = True) -> Any:
        """One backend call at a time, retried briefly.

        Serialized: the Secret Service stores an entry as an item found by search, so two threads creating the
        same entry at once can leave two items (and a read that sees the other one). Retried: a freshly
        unlocked gnome-keyring occasionally answers its first calls with a transient D-Bus error.
        """
        delays = KEYRING_RETRY_DELAYS if retry else ()
        with _BACKEND_LOCK:
            for delay in delays:
                try:
                    return fn(*args)
                except Exception as exc:
                    if "Locked" in type(exc).__name__:
                        raise
                    log.warning("keyring call failed (%s); retrying", type(exc).__name__)
                    time.sleep(delay)
            return fn(*args)

    def _get(self, entry: str) -> str | None:
        try:
            value = self._call(self._backend.get_password, SERVICE, entry)
        except Exception as exc:  # keyring raises many kinds (KeyringLocked, D-Bus errors, ...)
            raise KeyringUnavailableError(
                f"the OS keyring ({self.backend_name}) did not answer: {type(exc).__name__}. {HOW_TO_FIX}"
            ) from exc
        return value if isinstance(value, str) else None

    def _set(self, entry: str, value: str) -> None:
        try:
            self._call(self._backend.set_password, SERVICE, entry, value)
        except Exception as exc:
            raise KeyringUnavailableError(
                f"the OS keyring ({self.backend_name}) refused a write: {type(exc).__name__}. {HOW_TO_FIX}"
            ) from exc
        if self._get(entry) != value:
            raise KeyringUnavailableError(f"the OS keyring ({self.backend_name}) did not keep a written entry")

    def _delete(self, entry: str) -> None:
        try:
            self._call(self._backend.delete_password, SERVICE, entry, retry=False)
        except Exception as exc:
            if type(exc).__name__ == "PasswordDeleteError":
                return  # already gone
            raise KeyringUnavailableError(
                f"the OS keyring ({self.backend_name}) refused a delete: {type(exc).__name__}"
            ) from exc

    def _secret(self, entry: str, *, create: bool) -> bytes | None:
        with _BACKEND_LOCK:  # read-or-create as one step: two creators would leave two different secrets
            text = self._get(entry)
            if text is None:
                if not create:
                    return None
                self._set(entry, _b64(secrets.token_bytes(KEY_BYTES)))
                text = self._get(entry)
                assert text is not None
        try:
            return _unb64(text)
        except ValueError as exc:
            raise KeyringUnavailableError(f"keyring entry '{entry}' is malformed") from exc

    def lookup(self, entry: str) -> str | None:
        """An entry as the keyring holds it now, never from memory.

        For "is this key still there?" and for secrets read on use (an API key). Raises KeyringUnavailableError
        when the keyring does not answer.
        """
        return self._get(entry)

    def holds_data_key(self, key_id: str) -> bool:
        return self.lookup(f"data-key:{key_id}") is not None

    # --- data keys ---
    def load_active(self, *, create: bool) -> str:
        """Load (or, on first start, create) the active data key; returns its id."""
        key_id = self._get(ACTIVE)
        if key_id is None:
            if not create:
                raise KeyringUnavailableError(
                    "the keyring holds no llmojid data key, but the store has sealed data: the key was deleted "
                    "or this is another keyring. Without it the journal cannot be read; restore the keyring or "
                    "start afresh with a new state directory."
                )
            key_id = self.create_data_key()
            self.set_active(key_id)
            log.info("created a new data key (id %s) in the keyring", key_id)
        self.data_key(key_id)
        self._active = key_id
        return key_id

    def create_data_key(self) -> str:
        key_id = secrets.token_hex(4)
        self._set(f"data-key:{key_id}", _b64(secrets.token_bytes(KEY_BYTES)))
        return key_id

    def set_active(self, key_id: str) -> None:
        self.data_key(key_id)
        self._set(ACTIVE, key_id)
        self._active = key_id

    @property
    def active_id(self) -> str:
        return self._active

    def data_key(self, key_id: str) -> bytes:
        """The data key with this id. Raises KeyringUnavailableError if the keyring does not hold it."""
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        raw = self._secret(f"data-key:{key_id}", create=False)
        if raw is None or len(raw) != KEY_BYTES:
            raise KeyringUnavailableError(f"data key {key_id} is not in the keyring")
        self._keys[key_id] = raw
        return raw

    def delete_data_key(self, key_id: str) -> None:
        self._delete(f"data-key:{key_id}")
        self._keys.pop(key_id, None)

    # --- other secrets ---
    def index_key(self) -> bytes:
        raw = self._secret(INDEX, create=True)
        assert raw is not None
        return raw

    def spool_private_key(self) -> bytes:
        """Raw 32-byte X25519 private key (created on first use)."""
        raw = self._secret(SPOOL, create=True)
        assert raw is not None
        return raw

    def submitter_secret(self) -> bytes:
        raw = self._secret(SUBMITTER, create=True)
        assert raw is not None
        return raw

    def delete_all(self) -> None:
        """Crypto-shredding: forget every llmojid secret (``forget --all``)."""
        for key_id in list(self._keys):
            self.delete_data_key(key_id)
        active = self._get(ACTIVE)
        if active:
            self.delete_data_key(active)
        for entry in (ACTIVE, INDEX, SPOOL, SUBMITTER):
            self._delete(entry)
        self._active = ""


def _fast_backend() -> Any:
    """The platform's native backend, when it is viable and the user has not chosen one.

    ``keyring.get_keyring()`` discovers backends through every installed distribution's entry points, which
    costs most of a second beside torch and friends; the daemon's start-to-ready time is dominated by it.
    An explicit choice (PYTHON_KEYRING_BACKEND, a keyringrc) still goes through keyring's own resolution.
    """
    if os.environ.get("PYTHON_KEYRING_BACKEND") or _has_keyringrc():
        return None
    try:
        if sys.platform == "darwin":
            from keyring.backends import macOS as native
        else:
            from keyring.backends import SecretService as native
        native.Keyring.priority  # noqa: B018 - raises when the backend is not viable here
        return native.Keyring()  # type: ignore[no-untyped-call]
    except Exception:
        return None


def _has_keyringrc() -> bool:
    try:
        from keyring.util import platform_

        return Path(platform_.config_root(), "keyringrc.cfg").exists()
    except Exception:
        return True  # cannot tell: let keyring resolve it


def _is_empty_chain(backend: Any) -> bool:
    """keyring's ChainerBackend with nothing behind it is no keyring."""
    return type(backend).__name__ == "ChainerBackend" and not getattr(backend, "backends", None)
