"""The store: one SQLite database (WAL), sealed columns, and a single writer with group commit.

Durability: every write goes through ``Store.write``, which returns only after the transaction holding it has
committed with ``synchronous=FULL`` (in WAL mode: the WAL is fsynced at each commit). The daemon sends an ack only
after ``write`` returns, so an acknowledged row survives ``kill -9`` and power loss.

Group commit: writes that arrive while a commit is in flight are gathered into the next transaction (each in its
own savepoint, so one failing write does not sink the others). Many concurrent clients then share one fsync
instead of queueing for one each; no write is acknowledged before the fsync that covers it.

Resource handling: the Store owns two connections (writer and reader), each used by one worker thread at a time
through a trio CapacityLimiter. ``close`` closes both.
Error handling: sqlite3 errors become StorageError / StorageFullError / StoreCorruptError here, at the edge; the
messages name the operation, never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import trio

from llmojid.daemon import resplit, schema
from llmojid.daemon.keys import KeyManager, is_store_id
from llmojid.daemon.privacy import forget_all
from llmojid.daemon.privacy.sealed import key_counts
from llmojid.daemon.seal import open_sealed, seal
from llmojid.daemon.timestamps import normalise_stored_times

log = logging.getLogger("llmojid.store")

T = TypeVar("T")
#: Most writes gathered into one transaction: bounds the time a commit holds the write lock.
MAX_BATCH = 512
_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class StorageError(Exception):
    """A write or read failed. Nothing was acknowledged for the writes it covers."""


class StorageFullError(StorageError):
    """The disk (or the file size limit) is full. The write was rolled back; retry when space returns."""


class StoreCorruptError(StorageError):
    """The database or its WAL is damaged. The daemon refuses to start and never overwrites the evidence."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def translate(exc: sqlite3.Error, what: str) -> StorageError:
    """An sqlite3 error as the store's own error, at this one boundary."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).lower()
    if code == _SQLITE_FULL or "disk is full" in text or "disk i/o error" in text:
        return StorageFullError(f"{what}: the disk is full (or a file size limit was hit); free space and retry")
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return StoreCorruptError(f"{what}: the database is damaged")
    return StorageError(f"{what}: {type(exc).__name__} (sqlite code {code})")


@dataclass
class _PendingWrite:
    fn: Callable[[sqlite3.Connection], Any]
    done: trio.Event = field(default_factory=trio.Event)
    result: Any = None
    error: BaseException | None = None


class Store:
    """The database. Open it with ``Store.open`` (blocking; call before serving), run ``writer`` in a nursery."""

    def __init__(
        self, path: Path, keys: KeyManager, conn: sqlite3.Connection, reader: sqlite3.Connection, index_key: bytes
    ) -> None:
        self.path = path
        self.keys = keys
        self._conn = conn
        self._reader = reader
        self._send, self._receive = trio.open_memory_channel[_PendingWrite](MAX_BATCH * 4)
        self._write_lock = trio.CapacityLimiter(1)
        self._read_lock = trio.CapacityLimiter(1)
        # Threads of their own, not trio's default pool: other work stuck in threads (a transcript on a hung
        # mount, say) must never keep a commit or a read from starting.
        self._writer_thread = trio.CapacityLimiter(1)
        self._reader_thread = trio.CapacityLimiter(1)
        self.index_key = index_key
        #: Whether opening finished a ``forget --all`` a crash had interrupted (the daemon then clears the spool
        #: and the bundle folder too, before serving).
        self.finished_forget = False

    # --- opening -------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, keys: KeyManager) -> Store:
        """Open (creating on first start) and migrate the database, and bind the keys to it.

        Raises StoreCorruptError for a damaged file (left untouched); KeyringUnavailableError (MissingSecretError,
        StoreMismatchError) when the store holds values made with a secret the keyring lacks, or the keyring's
        entries for its id belong to another copy of it. A secret is created only for a store that holds nothing
        made with it (``_holdings``): never silently over existing data.
        """
        existed = path.exists()
        if existed:
            _check_private_file(path)
            _refuse_if_damaged(path)
        conn = _connect(path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            _migrate(conn, version)
            store_id = _store_id(conn, made_before_binding=existed and version >= 1)
            keys.bind(store_id, path)
            _finish_keyring_move(conn, keys)
            finished_forget = forget_all.finish_unfinished(conn, keys)
            if finished_forget:
                keys.bind(store_id, path)  # the shredding took the path record too
            sealed, index_keyed = _holdings(conn)
            keys.load_active(create=not sealed)
            index_key = keys.index_key(create=not index_keyed)
            normalise_stored_times(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, "opening the database") from exc
        except BaseException:
            conn.close()
            raise
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{path}{suffix}")
            if p.exists():
                os.chmod(p, 0o600)
        reader = _connect(path)
        store = cls(path, keys, conn, reader, index_key)
        store.finished_forget = finished_forget
        try:
            resplit.run_pending(store, conn)
        except sqlite3.Error as exc:
            store.close()
            raise translate(exc, "re-splitting the journal") from exc
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._send.close()
        for conn in (self._conn, self._reader):
            try:
                conn.close()
            except sqlite3.Error:
                log.warning("closing a database connection failed")

    # --- sealing -------------------------------------------------------------------------------------------------
    def seal_text(self, text: str, *, table: str, column: str, row_id: int | str) -> bytes:
        return self.seal_bytes(text.encode("utf-8", "surrogatepass"), table=table, column=column, row_id=row_id)

    def seal_bytes(self, data: bytes, *, table: str, column: str, row_id: int | str) -> bytes:
        key_id = self.keys.active_id
        return seal(self.keys.data_key(key_id), key_id, data, table=table, column=column, row_id=row_id)

    def open_text(self, sealed: bytes | None, *, table: str, column: str, row_id: int | str) -> str:
        if sealed is None:
            return ""
        return self.open_bytes(sealed, table=table, column=column, row_id=row_id).decode("utf-8", "surrogatepass")

    def open_bytes(self, sealed: bytes, *, table: str, column: str, row_id: int | str) -> bytes:
        return open_sealed(self.keys.data_key, sealed, table=table, column=column, row_id=row_id)

    def dedup_key(self, *parts: str) -> bytes:
        """A keyed hash for uniqueness constraints: equal inputs collide, and no bare hash of text is stored."""
        message = "\x00".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self.index_key, message, hashlib.sha256).digest()[:16]

    # --- writing -------------------------------------------------------------------------------------------------
    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside a transaction; return once that transaction is committed and synced.

        ``fn`` runs in the writer thread, inside a savepoint: if it raises, its changes are rolled back and the
        exception is raised here; other writes in the same batch still commit.
        """
        pending = _PendingWrite(fn)
        await self._send.send(pending)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[no-any-return]

    async def writer(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The single writer: takes what is queued, commits it as one transaction, wakes the waiters."""
        task_status.started()
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                # The thread must finish even if we are cancelled: a half-run transaction would hold the lock.
                async with self._write_lock:
                    await trio.to_thread.run_sync(
                        self._commit_batch, batch, abandon_on_cancel=False, limiter=self._writer_thread
                    )
                for item in batch:
                    item.done.set()

    def _commit_batch(self, batch: list[_PendingWrite]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                conn.execute("SAVEPOINT w")
                try:
                    item.result = item.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO w")
                    item.error = translate(exc, "writing") if isinstance(exc, sqlite3.Error) else exc
                conn.execute("RELEASE w")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            error = translate(exc, "committing")
            log.error("commit failed: %s", error)
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.error("rollback after a failed commit failed too")
            for item in batch:
                item.error = error
                item.result = None

    # --- reading -------------------------------------------------------------------------------------------------
    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(reader)`` in a worker thread on the read connection (a consistent WAL snapshot)."""

        def run() -> T:
            try:
                self._reader.execute("BEGIN")
                try:
                    return fn(self._reader)
                finally:
                    self._reader.execute("COMMIT")
            except sqlite3.Error as exc:
                raise translate(exc, "reading") from exc

        async with self._read_lock:
            return await trio.to_thread.run_sync(run, limiter=self._reader_thread)

    def size_bytes(self) -> int:
        return sum(
            Path(f"{self.path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{self.path}{suffix}").exists()
        )


def _connect(path: Path) -> sqlite3.Connection:
    old = os.umask(0o077)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    finally:
        os.umask(old)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Deleted bytes are overwritten, so forgotten text does not linger in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _check_private_file(path: Path) -> None:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise StorageError(f"{path} is not a regular file; refusing to open it")
    if st.st_uid != os.getuid():
        raise StorageError(f"{path} is owned by uid {st.st_uid}, not by us")


def _refuse_if_damaged(path: Path) -> None:
    """Check the file read-only before anything could write to it (a damaged store is evidence to keep)."""
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreCorruptError(f"cannot open {path} read-only: {type(exc).__name__}") from exc
    try:
        result = probe.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        raise StoreCorruptError(
            f"the database {path} is damaged ({exc.__class__.__name__}); it was left untouched: move it aside "
            "to start a new journal, or restore it from a backup"
        ) from exc
    finally:
        probe.close()
    if result != [("ok",)]:
        raise StoreCorruptError(
            f"the database {path} failed its integrity check; it was left untouched: move it aside to start "
            "a new journal, or restore it from a backup"
        )


def _store_id(conn: sqlite3.Connection, *, made_before_binding: bool) -> str:
    """The store's random id (made on first open). A store made before keyring entries were bound to a store
    gets one too, with a pending move of its entries from their bare names (``_finish_keyring_move``)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (schema.META_STORE_ID,)).fetchone()
    if row is not None:
        if not is_store_id(str(row[0])):
            raise StorageError("the store's id in its meta table is malformed; it was left untouched")
        return str(row[0])
    store_id = secrets.token_hex(8)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (schema.META_STORE_ID, store_id))
        if made_before_binding:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, 'pending')", (schema.META_KEYRING_MOVE,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return store_id


def _finish_keyring_move(conn: sqlite3.Connection, keys: KeyManager) -> None:
    """Move a pre-binding store's keyring entries to its own names; the marker goes only once all have moved."""
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (schema.META_KEYRING_MOVE,)).fetchone() is None:
        return
    from llmojid.daemon.privacy.rotation import load_plan  # rotation imports this module

    ids = set(key_counts(conn))
    plan = load_plan(conn)
    if plan is not None:
        ids |= {plan.to, *plan.old}
    moved = keys.adopt_legacy(ids)
    conn.execute("DELETE FROM meta WHERE key = ?", (schema.META_KEYRING_MOVE,))
    log.info("moved %d keyring entr(ies) to the names of store %s", len(moved), keys.store_id)


def _holdings(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """(holds a value sealed under a data key, holds an id keyed by the index key), over every such table."""
    sealed = bool(key_counts(conn))
    present = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    index_keyed = any(
        conn.execute(f'SELECT 1 FROM "{table}" WHERE "{column}" IS NOT NULL LIMIT 1').fetchone()  # noqa: S608
        for table, column in schema.INDEX_KEYED_COLUMNS.items()
        if table in present
    )
    return sealed, index_keyed


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    if version > schema.SCHEMA_VERSION:
        raise StorageError(
            f"the database has schema version {version}, newer than this llmojid ({schema.SCHEMA_VERSION}); "
            "upgrade llmojid"
        )
    for number in range(version + 1, schema.SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(schema.MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("database migrated to schema version %d", number)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own, outside our transaction)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        raise StorageError("a migration ends with an incomplete statement")
    return out
