"""The ingest component: hook events in, journal rows out, durably, once, and cheaply on long transcripts.

* ``HookEvent`` handler: decode the harness's payload (the hook carries it as-is), hand it to the harness's
  adapter, commit the rows, and only then reply ``HookAck``: an acknowledged row is on disk (the store syncs
  before ``write`` returns), so the hook may exit; an event that is not acknowledged in time is spooled by the
  hook, and a late commit plus a spooled copy still store each row once (the journal's message-id key).
* Transcripts are read incrementally (``reader``). A transcript's cursor advances in the same transaction as the
  rows read up to it, so a crash can never leave the cursor past rows that were not committed (or rows committed
  behind a cursor that did not move: those would only be re-read and deduplicated). Events for one transcript are
  serialized by a per-transcript lock; events for different transcripts run side by side.
* The spool: at start the component publishes the public key hooks seal to, then drains spooled events in
  arrival order, each file deleted only after its rows are committed; it looks again every
  ``SPOOL_POLL_SECONDS`` (hooks spool while the daemon runs too, when an ack is late or a payload too large).

Hostile input never fails the daemon: a payload that does not decode, names no readable regular file, or holds bad
lines is counted in ``ingest_health`` and acknowledged with the rows that could be read (a spooled copy would
fail the same way). Only storage and keyring failures become an error reply, so the hook spools and the event is
retried later.

Resource handling: transcript reads run in worker threads of their own (``TRANSCRIPT_READ_THREADS``, a
``CapacityLimiter`` apart from trio's default one and from the store's), so payloads naming files on a hung mount
can tie up at most those threads, never the writer or the readers; a hook event reads at most
``EVENT_READ_BUDGET_BYTES`` of its transcript (the rest on its next event), so a sparse terabyte costs one budget
per event; a read stuck in the kernel is abandoned at shutdown rather than waited for. Commits go through the
store's single writer.
Error handling: log lines name what happened and the harness, never a path, a payload or any text.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.common.spool_format import BAD_SUFFIX
from llmojid.common.taxonomy import leading_face
from llmojid.daemon import spool
from llmojid.daemon.adapters import ADAPTERS, PayloadAdapter, TranscriptAdapter
from llmojid.daemon.adapters.base import decode_json
from llmojid.daemon.adapters.reader import MAX_SLICE_BYTES, Cursor, NotReadable, read_slice
from llmojid.daemon.dispatch import CallContext, Dispatcher
from llmojid.daemon.journal import Journal
from llmojid.daemon.keys import KeyManager, KeyringUnavailableError
from llmojid.daemon.seal import SealError
from llmojid.daemon.security import SecurityError, check_private_dir
from llmojid.daemon.store import StorageError, Store, utc_now
from llmojid.daemon.timestamps import with_time

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

log = logging.getLogger("llmojid.ingest")

CURSOR_TABLE: Final = "transcript_cursor"
#: How often the spool is looked at while the daemon runs (it is always drained at start).
SPOOL_POLL_SECONDS: Final = 10.0
#: Longest transcript path accepted from a payload (PATH_MAX on Linux).
MAX_PATH_BYTES: Final = 4096
#: Cursors kept in memory after each commit, so a hook event touches the database only to commit. A transcript
#: not among them (least recently used go first) has its cursor read from the store.
CURSOR_CACHE_SIZE: Final = 1024
#: Payloads up to this size are decoded and parsed on the trio thread (a thread hop would cost more); larger ones
#: (long Hermes histories) in a worker thread.
INLINE_DECODE_BYTES: Final = 256 * 1024
#: When a Stop event announces a face-led message the transcript does not hold yet, look again after these waits.
FOLLOW_UP_DELAYS: Final = (0.2, 0.5, 1.0, 2.0, 4.0)
FOLLOW_UP_QUEUE: Final = 256
#: Worker threads that may read transcripts at once (each may be stuck on a hung mount; none is the writer's).
TRANSCRIPT_READ_THREADS: Final = 4
#: Most transcript bytes one hook event consumes (two slices); a longer backlog is read on the next events.
EVENT_READ_BUDGET_BYTES: Final = 2 * MAX_SLICE_BYTES

RowFilter = Callable[[p.JournalRow], bool]


class HookIngest:
    """The component. Build it with ``HookIngest.for_daemon(daemon)`` (``llmojid.daemon.components``)."""

    def __init__(self, store: Store, journal: Journal, keys: KeyManager, *, spool_dir: Path, public_key_path: Path):
        self.store = store
        self.journal = journal
        self.keys = keys
        self.spool_dir = spool_dir
        self.public_key_path = public_key_path
        self._private_key = b""
        self._locks: dict[bytes, trio.Lock] = {}
        self._cursors: OrderedDict[bytes, Cursor] = OrderedDict()
        self._drain_lock = trio.Lock()
        self._read_limiter = trio.CapacityLimiter(TRANSCRIPT_READ_THREADS)
        self._follow_send, self._follow_receive = trio.open_memory_channel[
            tuple[TranscriptAdapter, str, dict[str, Any]]
        ](FOLLOW_UP_QUEUE)

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> HookIngest:
        return cls(
            daemon.store,
            daemon.journal,
            daemon.keys,
            spool_dir=paths.spool_dir(),
            public_key_path=paths.spool_public_key_path(),
        )

    # --- lifecycle -----------------------------------------------------------------------------------------------
    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add(p.HookEvent, self._on_hook_event)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Publish the spool key, then drain the spool now and every SPOOL_POLL_SECONDS."""
        # On this thread, like every other keyring call: the keyring client is not known to be thread-safe.
        self._private_key = self.keys.spool_private_key()
        spool_ok = True
        try:
            check_private_dir(self.spool_dir, create=True)
            await trio.to_thread.run_sync(spool.publish_public_key, self._private_key, self.public_key_path)
        except (SecurityError, OSError) as exc:
            # Hooks then cannot spool (they find no key or no private directory), but live events still work.
            log.error("the spool is unavailable: %s", exc if isinstance(exc, SecurityError) else exc.strerror)
            spool_ok = False
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow_ups)
            while spool_ok:
                await self.drain_spool()
                await trio.sleep(SPOOL_POLL_SECONDS)
            await trio.sleep_forever()

    async def _follow_ups(self) -> None:
        """Re-read transcripts whose Stop event came before the harness had written the message it announced.

        Claude Code and Codex may fire Stop while the last assistant line is still being flushed; the payload's
        ``last_assistant_message`` tells us a face-led message exists, so we look again a few times (reads are
        incremental and rows deduplicated, so a re-read costs little and never doubles a row).
        """
        async for adapter, path, payload in self._follow_receive:
            for delay in FOLLOW_UP_DELAYS:
                await trio.sleep(delay)
                try:
                    added = await self.ingest_transcript(
                        adapter, path, payload, received_at=utc_now(), budget=EVENT_READ_BUDGET_BYTES
                    )
                    if added:
                        break
                except StorageError as exc:  # e.g. a full disk: the next hook event reads the transcript again
                    log.warning("a follow-up read of a transcript failed: %s", exc)
                    break

    def close(self) -> None:
        pass

    # --- hook events ---------------------------------------------------------------------------------------------
    async def _on_hook_event(self, msg: p.HookEvent, _ctx: CallContext) -> p.HookAck:
        return p.HookAck(rows_added=await self.ingest_event(msg.harness, msg.payload, received_at=utc_now()))

    async def ingest_event(self, harness: str, raw: bytes, *, received_at: str, spooled: bool = False) -> int:
        """Journal one hook event; returns the rows added. Raises only StorageError / KeyringUnavailableError."""
        adapter = ADAPTERS.get(harness)
        if adapter is None:
            log.warning("a hook event named an unknown harness; ignored")
            return 0
        if isinstance(adapter, PayloadAdapter):
            if len(raw) <= INLINE_DECODE_BYTES:
                rows = adapter.rows_from_payload(raw, received_at)
            else:
                rows = await trio.to_thread.run_sync(adapter.rows_from_payload, raw, received_at)
            commit = partial(self._commit, harness=harness, rows=rows or [], event_at=received_at, spooled=spooled)
            return await self.store.write(partial(commit, bad_payloads=int(rows is None)))
        payload = (
            decode_json(raw) if len(raw) <= INLINE_DECODE_BYTES else await trio.to_thread.run_sync(decode_json, raw)
        )
        path = adapter.transcript_of(payload) if isinstance(payload, dict) else None
        if isinstance(payload, dict) and path is not None and _acceptable_path(path):
            added = await self.ingest_transcript(
                adapter, path, payload, received_at=received_at, spooled=spooled, budget=EVENT_READ_BUDGET_BYTES
            )
            if not added and not spooled and _announces_a_face(payload):
                with contextlib.suppress(trio.WouldBlock):  # a full queue only loses the extra look, never a row
                    self._follow_send.send_nowait((adapter, path, payload))
            return added
        # Not JSON, or a path we refuse, is bad input; an event that names nothing to journal (SubagentStop) is not.
        bad = int(not isinstance(payload, dict) or path is not None)
        commit = partial(self._commit, harness=harness, rows=[], event_at=received_at, spooled=spooled)
        return await self.store.write(partial(commit, bad_payloads=bad))

    async def ingest_transcript(
        self,
        adapter: TranscriptAdapter,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        received_at: str = "",
        spooled: bool = False,
        row_filter: RowFilter | None = None,
        budget: int | None = None,
    ) -> int:
        """Read a transcript from its cursor to its end (or ``budget`` bytes), journal its rows, move its cursor;
        returns rows added.

        Also the importer's entry point (``payload`` None). With a ``row_filter`` (e.g. ``--since``) only the rows
        it keeps are journaled and the cursor is left where it was, so a later full read still sees the rest.
        """
        received_at = received_at or utc_now()
        hints = adapter.initial_state(_stem(path), payload or {})
        key = self.store.dedup_key("cursor", adapter.harness, path)
        lock = self._locks.setdefault(key, trio.Lock())
        commit = partial(self._commit, harness=adapter.harness, event_at=received_at, spooled=spooled)
        total = read = 0
        try:
            async with lock:
                cursor = None if row_filter else await self._cursor(key)
                cursor = cursor or Cursor(state=hints)
                if payload and adapter.event_state is not None:
                    cursor = msgspec.structs.replace(cursor, state=adapter.event_state(cursor.state, payload))
                events = 1  # the event is counted once, with the first slice
                while True:
                    try:
                        piece, rows, state = await trio.to_thread.run_sync(
                            _read_and_parse,
                            adapter,
                            path,
                            cursor,
                            hints,
                            limiter=self._read_limiter,
                            abandon_on_cancel=True,  # a read hung in the kernel must not hold up shutdown
                        )
                    except NotReadable:
                        await self.store.write(partial(commit, rows=[], bad_payloads=1, events=events))
                        return total
                    if piece.restarted:
                        log.info(
                            "a %s transcript was truncated, rotated or rewritten; reading it from its start",
                            adapter.harness,
                        )
                    rows = with_time(rows, received_at)
                    if row_filter is not None:
                        rows = [r for r in rows if row_filter(r)]
                    moved = msgspec.structs.replace(piece.cursor, state=state)
                    total += await self.store.write(
                        partial(
                            commit,
                            rows=rows,
                            bad_lines=state.bad_lines - piece.cursor.state.bad_lines,
                            cursor=None if row_filter else (key, moved),
                            events=events,
                        )
                    )
                    events = 0
                    if row_filter is None:
                        self._remember(key, moved)
                    if not piece.more or moved.offset == cursor.offset:
                        return total
                    read += moved.offset - (0 if piece.restarted else cursor.offset)
                    if budget is not None and read >= budget:
                        log.info("a %s transcript has more than one event's read budget; the rest comes next time",
                                 adapter.harness)  # fmt: skip
                        return total
                    cursor = moved
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)

    async def _cursor(self, key: bytes) -> Cursor | None:
        cached = self._cursors.get(key)
        if cached is not None:
            self._cursors.move_to_end(key)
            return cached
        return await self.store.read(partial(self._load_cursor, key=key))

    def _remember(self, key: bytes, cursor: Cursor) -> None:
        """Cache a cursor that was just committed (never one that was not: the cache must not run ahead)."""
        self._cursors[key] = cursor
        self._cursors.move_to_end(key)
        while len(self._cursors) > CURSOR_CACHE_SIZE:
            self._cursors.popitem(last=False)

    # --- the spool -----------------------------------------------------------------------------------------------
    async def drain_spool(self) -> int:
        """Journal every finished spool file, oldest first, deleting each after its rows are committed."""
        if not self._private_key:
            return 0
        drained = 0
        async with self._drain_lock:
            for path in await trio.to_thread.run_sync(spool.pending, self.spool_dir):
                try:
                    entry = await trio.to_thread.run_sync(self._open_spool_file, path)
                except spool.SpoolError as exc:
                    log.warning("%s; kept it as %s%s", exc, path.name, BAD_SUFFIX)
                    spool.quarantine(path)
                    continue
                try:
                    await self.ingest_event(entry.harness, entry.payload, received_at=entry.ts, spooled=True)
                except (StorageError, OSError, KeyringUnavailableError) as exc:
                    # Transient (disk full, the keyring away or locked): keep the file and the order; the next
                    # round (SPOOL_POLL_SECONDS) tries again. Never quarantined for it: .bad is never retried.
                    log.error("draining the spool stopped: %s", type(exc).__name__)
                    break
                except Exception as exc:
                    log.error("a spool entry could not be journaled (%s); kept it", type(exc).__name__)
                    spool.quarantine(path)
                    continue
                path.unlink(missing_ok=True)
                drained += 1
        if drained:
            log.info("drained %d spooled hook event(s)", drained)
        return drained

    def _open_spool_file(self, path: Path) -> spool.SpoolEntry:
        return spool.open_entry(self._private_key, spool.read_file(path))

    # --- the store (these run in the writer / reader thread) -----------------------------------------------------
    def _load_cursor(self, conn: sqlite3.Connection, *, key: bytes) -> Cursor | None:
        found = conn.execute("SELECT id, state FROM transcript_cursor WHERE path_key = ?", (key,)).fetchone()
        if found is None or found[1] is None:
            return None
        row_id, sealed = found
        try:
            raw = self.store.open_bytes(sealed, table=CURSOR_TABLE, column="state", row_id=row_id)
            return msgspec.msgpack.decode(raw, type=Cursor)
        except (SealError, msgspec.DecodeError, msgspec.ValidationError):
            log.warning("a transcript cursor did not open; that transcript is read again from its start")
            return None

    def _commit(
        self,
        conn: sqlite3.Connection,
        *,
        harness: str,
        rows: list[p.JournalRow],
        event_at: str,
        spooled: bool,
        bad_payloads: int = 0,
        bad_lines: int = 0,
        cursor: tuple[bytes, Cursor] | None = None,
        events: int = 1,
    ) -> int:
        added = self.journal.insert(conn, rows)
        if cursor is not None:
            key, value = cursor
            (row_id,) = conn.execute(
                "INSERT INTO transcript_cursor (path_key, harness, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (path_key) DO UPDATE SET updated_at = excluded.updated_at RETURNING id",
                (key, harness, utc_now()),
            ).fetchone()
            sealed = self.store.seal_bytes(
                msgspec.msgpack.encode(value), table=CURSOR_TABLE, column="state", row_id=row_id
            )
            conn.execute("UPDATE transcript_cursor SET state = ? WHERE id = ?", (sealed, row_id))
        conn.execute(
            "INSERT INTO ingest_health (harness, events, spooled, rows_added, bad_payloads, bad_lines, last_event_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (harness) DO UPDATE SET"
            " events = events + excluded.events, spooled = spooled + excluded.spooled,"
            " rows_added = rows_added + excluded.rows_added, bad_payloads = bad_payloads + excluded.bad_payloads,"
            " bad_lines = bad_lines + excluded.bad_lines,"
            " last_event_at = max(last_event_at, excluded.last_event_at)",
            (harness, events, int(spooled and events > 0), added, bad_payloads, bad_lines, event_at if events else ""),
        )
        return added


def _read_and_parse(
    adapter: TranscriptAdapter, path: str, cursor: Cursor, hints: Any
) -> tuple[Any, list[p.JournalRow], Any]:
    """One slice of a transcript, parsed (runs in a worker thread)."""
    piece = read_slice(path, cursor, hints)
    state = piece.cursor.state
    if adapter.context is not None:
        state = adapter.context(path, state)
    rows, state = adapter.parse_transcript_lines(piece.lines, state)
    return piece, rows, state


def _announces_a_face(payload: dict[str, Any]) -> bool:
    """Whether the Stop payload says its last assistant message is face-led (newer Claude Code and Codex)."""
    last = payload.get("last_assistant_message")
    return isinstance(last, str) and leading_face(last) is not None


def _acceptable_path(path: str) -> bool:
    """An absolute path of sane length without NUL (anything else a payload names is refused unread)."""
    return os.path.isabs(path) and "\x00" not in path and len(path.encode("utf-8", "surrogatepass")) <= MAX_PATH_BYTES


def _stem(path: str) -> str:
    name = os.path.basename(path)
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else name
