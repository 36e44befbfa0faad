"""The key manager: every secret llmojid holds lives in the OS keyring, never on disk.

Entries (service ``llmojid``, or ``$LLMOJID_KEYRING_SERVICE``), each named ``<store id>/<entry>``: the store id is
a random id kept in the database (``meta``), so two state directories sharing one keyring service never share,
rotate away or shred each other's keys (``bind``):

* ``data-key:<id>``   a 256-bit AES-GCM data key, base64; ``<id>`` is 8 hex digits and is stored in each sealed value;
* ``active-key``      the id of the key new values are sealed under;
* ``index-key``       a 256-bit HMAC key for deduplication ids (so no hash of text is ever stored bare);
* ``spool-key``       the X25519 private key hooks seal spooled payloads to (its public half is a file);
* ``submitter-secret`` the per-install secret behind a bundle's ``submitter_id``;
* ``store``           the path of the database these entries belong to (a copy of the database elsewhere is refused).

Stores made before the binding used the bare entry names; ``adopt_legacy`` moves them (copy, verify, delete).
Entries that belong to the user rather than to a store (a backend's API key) keep their bare names (``lookup``).

There is no fallback. No backend, a backend outside the allow-list (a plaintext file, a chain holding one), or a
locked keyring is a startup error that says how to fix it: a silent ephemeral or on-disk key would either lose
the journal or defeat the encryption.
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

from llmojid.daemon import schema

log = logging.getLogger("llmojid.keys")

#: The keyring service name. LLMOJID_KEYRING_SERVICE gives a second instance (or a test) entries of its own.
SERVICE = os.environ.get("LLMOJID_KEYRING_SERVICE", "llmojid")
ACTIVE = "active-key"
INDEX = "index-key"
SPOOL = "spool-key"
SUBMITTER = "submitter-secret"
STORE = "store"
KEY_BYTES = 32
#: Waits between retries of a keyring call that failed with a transient error.
KEYRING_RETRY_DELAYS = (0.1, 0.4)
_BACKEND_LOCK = threading.RLock()

#: The backends that keep secrets in an OS store: an allow-list, so a plaintext or "encrypted file" backend
#: (keyrings.alt), a null one, or any third-party one is refused whatever its name.
ALLOWED_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",  # GNOME Keyring, KWallet 5.97+, KeePassXC over Secret Service
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",  # the login Keychain
        "keyring.backends.Windows.WinVaultKeyring",  # the Credential Locker
    }
)
#: keyring's chain: it reads from every member and writes to the first that accepts, so every member must pass.
CHAIN_BACKEND = "keyring.backends.chainer.ChainerBackend"

HOW_TO_FIX = (
    "llmojid keeps its data key only in the OS keyring. Start and unlock one: on a Linux desktop, GNOME Keyring or "
    "KWallet (Secret Service); on a headless Linux machine, run inside a D-Bus session with an unlocked "
    "gnome-keyring, e.g. dbus-run-session -- sh -c 'printf PASSWORD | gnome-keyring-daemon --unlock "
    "--components=secrets; llmojid serve'; on macOS, the login Keychain. Then start llmojid again."
)


class KeyringUnavailableError(Exception):
    """No usable keyring: the message says what was found and how to fix it, never a secret."""


class StoreMismatchError(KeyringUnavailableError):
    """The keyring's entries for this store id belong to another database (a copy): refused, nothing changed."""


class MissingSecretError(KeyringUnavailableError):
    """The store holds values made with a secret the keyring no longer has: refused, never recreated."""


def is_store_id(text: str) -> bool:
    """16 lowercase hex digits (``secrets.token_hex(8)``): safe inside an entry name."""
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def backend_name(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def backend_problem(backend: Any) -> str | None:
    """Why ``backend`` may not hold llmojid's keys (None when it may): the allow-list, applied to a chain's members."""
    name = backend_name(backend)
    if name == CHAIN_BACKEND:
        members = list(getattr(backend, "backends", None) or [])
        if not members:
            return f"an empty keyring chain ({name})"
        refused = [backend_name(m) for m in members if backend_name(m) not in ALLOWED_BACKENDS]
        if refused:
            return f"a keyring chain holding {', '.join(refused)}, which keep(s) secrets outside an OS keyring"
        return None
    if name not in ALLOWED_BACKENDS:
        return f"{name}, which is not an OS keyring"
    return None


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
    #: The store these keys belong to (``bind``); every store entry is named ``<store_id>/<entry>``.
    store_id: str = ""
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
        problem = backend_problem(backend)
        if problem is not None:
            raise KeyringUnavailableError(f"no usable OS keyring backend (found {problem}). {HOW_TO_FIX}")
        manager = cls(backend_name=backend_name(backend), _backend=backend)
        manager._get(ACTIVE)  # a locked or unreachable keyring raises here
        return manager

    # --- the store these keys belong to ---
    def bind(self, store_id: str, database: Path) -> None:
        """Name every store entry by ``store_id`` from now on, and check the entries belong to ``database``.

        The keyring remembers the database path of each store id. Another path that still holds a database with
        the same id is a copy: two copies under one set of keys would rotate away and shred each other's keys, so
        it is refused. A path that no longer holds it means the state directory moved: the entry follows.
        """
        assert is_store_id(store_id), "Store.open checks the id it reads"
        self.store_id = store_id
        self._keys.clear()
        ours = str(database.resolve())
        recorded = self._get(self._name(STORE))
        if recorded is not None and recorded != ours and _holds_store(Path(recorded), store_id):
            raise StoreMismatchError(
                f"the keyring's keys for store {store_id} belong to the database {recorded}, and {ours} holds the "
                "same store id: it is a copy. Two copies under one set of keys would delete each other's keys "
                "(keys rotate, forget --all). Move one of them aside, or run the copy under its own keyring "
                "service (LLMOJID_KEYRING_SERVICE)."
            )
        if recorded != ours:
            self._set(self._name(STORE), ours)

    def _name(self, entry: str) -> str:
        if not self.store_id:
            raise AssertionError("the key manager is not bound to a store yet")
        return f"{self.store_id}/{entry}"

    def adopt_legacy(self, data_key_ids: set[str]) -> list[str]:
        """Move entries of a store made before the binding (bare names) to this store's names; resumable.

        Each entry is copied and read back before its bare name is deleted, so a crash at any point leaves it
        under the old name, the new one, or both with the same value; running this again finishes the move. An
        entry already present under the new name with another value is kept (and the bare one left alone).
        Returns the entries moved.
        """
        legacy_active = self._get(ACTIVE)
        ids = set(data_key_ids) | ({legacy_active} if legacy_active else set())
        entries = [*(f"data-key:{k}" for k in sorted(ids)), INDEX, SPOOL, SUBMITTER, ACTIVE]  # the pointer last
        moved: list[str] = []
        for entry in entries:
            old = self._get(entry)
            if old is None:
                continue
            new = self._get(self._name(entry))
            if new is None:
                self._set(self._name(entry), old)
            elif new != old:
                log.warning("keyring entry %s exists under both names with different values; keeping the new", entry)
                continue
            self._delete(entry)
            moved.append(entry)
        return moved

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
        return self._get(self._name(f"data-key:{key_id}")) is not None

    def holds(self, entry: str) -> bool:
        """Whether the keyring holds this store's ``entry`` now (a store secret's name, e.g. ``INDEX``)."""
        return self._get(self._name(entry)) is not None

    # --- data keys ---
    def load_active(self, *, create: bool) -> str:
        """Load (or, on first start, create) the active data key; returns its id."""
        key_id = self._get(self._name(ACTIVE))
        if key_id is None:
            if not create:
                raise MissingSecretError(
                    f"the keyring holds no data key for this store (id {self.store_id}: no entry "
                    f"'{self._name(ACTIVE)}' in keyring service '{SERVICE}'), but the store holds sealed values: "
                    "the key was deleted, or this is another keyring or service. Nothing was changed and no new "
                    "key was made. Restore the keyring (or start llmojid with the keyring service the store was "
                    "made with), or move the state directory aside to start afresh."
                )
            key_id = self.create_data_key()
            self.set_active(key_id)
            log.info("created a new data key (id %s) in the keyring", key_id)
        self.data_key(key_id)
        self._active = key_id
        return key_id

    def create_data_key(self) -> str:
        key_id = secrets.token_hex(4)
        self._set(self._name(f"data-key:{key_id}"), _b64(secrets.token_bytes(KEY_BYTES)))
        return key_id

    def set_active(self, key_id: str) -> None:
        self.data_key(key_id)
        self._set(self._name(ACTIVE), key_id)
        self._active = key_id

    @property
    def active_id(self) -> str:
        return self._active

    def data_key(self, key_id: str) -> bytes:
        """The data key with this id. Raises KeyringUnavailableError if the keyring does not hold it."""
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        raw = self._secret(self._name(f"data-key:{key_id}"), create=False)
        if raw is None or len(raw) != KEY_BYTES:
            raise KeyringUnavailableError(f"data key {key_id} is not in the keyring")
        self._keys[key_id] = raw
        return raw

    def delete_data_key(self, key_id: str) -> None:
        self._delete(self._name(f"data-key:{key_id}"))
        self._keys.pop(key_id, None)

    # --- other secrets ---
    def index_key(self, *, create: bool = True) -> bytes:
        """The dedup HMAC key. ``create=False`` when the store already holds ids made with one (see Store.open)."""
        raw = self._secret(self._name(INDEX), create=create)
        if raw is None:
            raise MissingSecretError(
                f"the keyring holds no index key for this store (id {self.store_id}: no entry "
                f"'{self._name(INDEX)}' in keyring service '{SERVICE}'), but the store holds ids made with it: "
                "a new one would change every dedup id and transcript position (transcripts read again, the "
                "journal duplicated). Nothing was changed. Restore the keyring entry from a backup, or move the "
                "state directory aside to start afresh."
            )
        return raw

    def spool_private_key(self, *, create: bool = True) -> bytes:
        """Raw 32-byte X25519 private key (created on first use). ``create=False`` when spool files are waiting:
        they are sealed to the key's public half, so a new key would leave them unopenable."""
        raw = self._secret(self._name(SPOOL), create=create)
        if raw is None:
            raise MissingSecretError(
                f"the keyring holds no spool key for this store (id {self.store_id}: no entry "
                f"'{self._name(SPOOL)}' in keyring service '{SERVICE}'), but spooled turns sealed to it are waiting: "
                "a new key would leave them unopenable. Nothing was changed. Restore the keyring entry from a "
                "backup, or move the waiting *.spool files out of the spool directory to start without them."
            )
        return raw

    def submitter_secret(self) -> bytes:
        raw = self._secret(self._name(SUBMITTER), create=True)
        assert raw is not None
        return raw

    def shred_entries(self, key_ids: set[str]) -> list[str]:
        """The entries ``forget --all`` deletes, in order: ``key_ids`` (the keys values name) and every data key
        this manager has loaded. No keyring call: it runs on the store's writer, and must work while the keyring
        is away (the record it goes into lets a later start finish)."""
        ids = set(key_ids) | set(self._keys) | ({self._active} if self._active else set())
        return [ACTIVE, *(f"data-key:{k}" for k in sorted(ids)), INDEX, SPOOL, SUBMITTER, STORE]

    def delete_entries(self, entries: list[str]) -> None:
        """Delete these store entries in order (one already gone is fine): crypto-shredding for ``forget --all``.

        ``active-key`` comes first in ``shred_entries``: a crash after it never leaves a pointer to a deleted data
        key, and the recorded list (``forget``'s marker) lets the next start finish the rest.
        """
        for entry in entries:
            self._delete(self._name(entry))
            if entry.startswith("data-key:"):
                self._keys.pop(entry.removeprefix("data-key:"), None)
            if entry == ACTIVE:
                self._active = ""

    def delete_all(self) -> None:
        """Crypto-shredding: forget every secret of this store (``forget --all``)."""
        self.delete_entries(self.shred_entries(set()))


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


def _holds_store(database: Path, store_id: str) -> bool:
    """Whether ``database`` exists and is (or may be: it cannot be read) a store with this id. Read-only."""
    import sqlite3

    if not database.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (schema.META_STORE_ID,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # cannot tell: do not take its keys
    return row is not None and row[0] == store_id
