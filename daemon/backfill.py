"""Backfill: replay the session histories harnesses keep on disk into the journal (``journal.import``).

Where the histories are (spec section 6; each harness's home honours its own variable, as the harness does):

* Claude Code: ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``, ``projects/**/*.jsonl``;
* Codex: ``$CODEX_HOME`` or ``~/.codex``, ``sessions/**/rollout-*.jsonl``;
* Hermes: ``$HERMES_HOME`` or ``~/.hermes``, ``sessions/*.json`` (a session log: ``{session_id, model, messages}``)
  and ``sessions/*.jsonl`` (one message per line).
* Gemini CLI: ``$GEMINI_CLI_HOME/.gemini`` or ``~/.gemini``, ``tmp/<project>/chats/*.jsonl``; the project's root
  (the rows' cwd) is in ``tmp/<project>/.project_root``.
* Antigravity is not replayed: its transcripts name no model (the hook takes it from the Stop payload), and rows
  are keyed by model.
* OpenCode: its SQLite history (``llmojid.daemon.opencode_history``: read-only, never in OpenCode's way); each
  assistant message goes through ``adapters.opencode.rows_from_message`` as the plugin's hand-off would.
* Grok Build: ``~/.grok/sessions/<project>/<session>/updates.jsonl``, subagent sessions (listed under a parent's
  ``subagents/``) left out.

The reading is the hook path's own: transcripts go through ``adapters.reader.read_slice`` (same line cap, same
handling of a half-written last line) and the harness adapter's ``parse_transcript_lines`` from a fresh state, so
a message gets the message id the hook gave it; Hermes turns go through ``adapters.hermes.rows_from_payload``
as the ``post_llm_call`` payload of that turn would. Rows then go through ``Journal.insert``, whose key
(harness, session, message id) makes a row the hooks already wrote count as present, not new.

The importer leaves the hooks' transcript cursors and the ingest counters alone: an import is not hook
activity (``stats`` reads those counters to say when each hook last fired).

Progress is streamed (``Progress`` frames: files and bytes done of the totals, rows found and new) at most every
``PROGRESS_INTERVAL`` seconds. ``dry_run`` reads everything and writes nothing: "new" then counts rows whose key
the journal does not hold yet.

Error handling: an unreadable file is counted and skipped; a bad line is counted (``bad_lines``) and the good
lines around it still count. Nothing here logs a path or any text.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from llmojid.client import protocol as p
from llmojid.daemon import opencode_history
from llmojid.daemon.adapters import ADAPTERS, TranscriptAdapter, hermes
from llmojid.daemon.adapters import opencode as opencode_adapter
from llmojid.daemon.adapters.base import decode_json
from llmojid.daemon.adapters.reader import Cursor, NotReadable, open_regular, read_slice
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.journal import Journal
from llmojid.daemon.store import Store
from llmojid.daemon.timestamps import with_time

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

log = logging.getLogger("llmojid.backfill")
SendProgress = Callable[[dict[str, object]], Awaitable[None]]

REQUEST_NAME: Final = "journal.import"
IMPORTABLE: Final = ("claude-code", "codex", "hermes", "gemini", "opencode", "grok")
#: Least time between two progress frames (a terminal redraw, not a flood on the socket).
PROGRESS_INTERVAL: Final = 0.1
#: Rows per write transaction (and per existence query in a dry run).
BATCH_ROWS: Final = 500
#: A Hermes session log larger than this is skipped (they are JSON documents read whole).
MAX_SESSION_LOG_BYTES: Final = 64 * 1024 * 1024
#: Longest Gemini CLI ``.project_root`` read (it holds one path).
MAX_PROJECT_ROOT_BYTES: Final = 4096
#: OpenCode sessions read per worker-thread call (each one in its own short read).
OPENCODE_SESSIONS_PER_READ: Final = 50


class ImportArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    harness: str = ""
    #: ISO date or date-time (UTC when no offset): only rows at or after it.
    since: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class Source:
    harness: str
    path: str
    size: int
    mtime: float


@dataclass
class Tally:
    files: int = 0
    unreadable: int = 0
    rows_found: int = 0
    rows_new: int = 0
    rows_before_since: int = 0
    bad_lines: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "files": self.files,
            "unreadable": self.unreadable,
            "rows_found": self.rows_found,
            "rows_new": self.rows_new,
            "rows_present": self.rows_found - self.rows_new,
            "rows_before_since": self.rows_before_since,
            "bad_lines": self.bad_lines,
        }


# --- Where the histories are ------------------------------------------------------------------------------------------
def harness_home(harness: str, home: str, environ: Mapping[str, str]) -> str:
    if harness == "gemini":  # $GEMINI_CLI_HOME is a home that holds .gemini/, not the directory itself
        override = environ.get("GEMINI_CLI_HOME", "")
        return os.path.join(override if os.path.isabs(override) else home, ".gemini")
    var, default = {
        "claude-code": ("CLAUDE_CONFIG_DIR", ".claude"),
        "codex": ("CODEX_HOME", ".codex"),
        "hermes": ("HERMES_HOME", ".hermes"),
        "grok": ("", ".grok"),
    }[harness]
    override = environ.get(var, "")
    return override if os.path.isabs(override) else os.path.join(home, default)


def _wanted(harness: str, name: str) -> bool:
    if harness == "claude-code":
        return name.endswith(".jsonl")
    if harness == "codex":
        return name.startswith("rollout-") and name.endswith(".jsonl")
    if harness == "gemini":
        return name.startswith("session-") and name.endswith(".jsonl")
    return name.endswith((".json", ".jsonl"))


_SUBDIR: Final = {"claude-code": "projects", "codex": "sessions", "hermes": "sessions", "gemini": "tmp"}


def _in_place(harness: str, root: str, directory: str) -> bool:
    """Whether files in ``directory`` are histories: Gemini CLI keeps them in ``tmp/<project>/chats/`` only."""
    if harness != "gemini":
        return True
    rel = os.path.relpath(directory, root).split(os.sep)
    return len(rel) == 2 and rel[1] == "chats"


def discover(harnesses: tuple[str, ...], home: str, environ: Mapping[str, str], since: datetime | None) -> list[Source]:
    """Every history file to read, in a stable order (harness, path). Follows no symlinked directory.

    Blocking (a directory walk): run it in a worker thread. Files last written before ``since`` are left out:
    none of their messages can be newer.
    """
    found: list[Source] = []
    for harness in harnesses:
        if harness in ("opencode", "grok"):
            paths = (
                opencode_history.database_paths(home, environ)
                if harness == "opencode"
                else grok_transcripts(os.path.join(harness_home(harness, home, environ), "sessions"))
            )
            found += _sources(harness, paths, since)
            continue
        root = os.path.join(harness_home(harness, home, environ), _SUBDIR[harness])
        walk: Iterator[tuple[str, list[str], list[str]]] = os.walk(root, followlinks=False)
        if harness == "hermes":  # Hermes keeps its session logs flat
            walk = iter([next(walk, (root, [], []))])
        paths = []
        for directory, dirs, names in walk:
            dirs.sort()
            if _in_place(harness, root, directory):
                paths += [os.path.join(directory, name) for name in sorted(names) if _wanted(harness, name)]
        found += _sources(harness, paths, since)
    return found


def _sources(harness: str, paths: list[str], since: datetime | None) -> list[Source]:
    """The regular files among ``paths`` (never followed if a link) last written at or after ``since``."""
    out = []
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        written = st.st_mtime
        if harness == "opencode":  # a WAL-mode database is written to its -wal file until a checkpoint
            with contextlib.suppress(OSError):
                written = max(written, os.stat(path + "-wal").st_mtime)
        if since is None or datetime.fromtimestamp(written, UTC) >= since:
            out.append(Source(harness, path, st.st_size, written))
    return out


def grok_transcripts(root: str) -> list[str]:
    """``<root>/<project>/<session>/updates.jsonl`` of every session that is not a subagent's."""
    children = _grok_subagent_ids(root)
    found = []
    for path in sorted(glob.glob(os.path.join(glob.escape(root), "*", "*", "updates.jsonl"))):
        if os.path.basename(os.path.dirname(path)) not in children:
            found.append(path)
    return found


def _grok_subagent_ids(root: str) -> set[str]:
    """Ids of subagent sessions: every folder name and JSON string under a parent's ``subagents/`` (their files
    are undocumented, so, as llmoji does, anything that could be an id counts; only session folder names are ever
    compared with the set). The parent's own id is left out."""
    ids: set[str] = set()
    for sub in glob.glob(os.path.join(glob.escape(root), "*", "*", "subagents")):
        found: set[str] = set()
        for directory, dirs, names in os.walk(sub, followlinks=False):
            found.update(dirs)
            for name in names:
                if not name.endswith(".json"):
                    continue
                try:
                    with open(os.path.join(directory, name), "rb") as handle:
                        stack: list[Any] = [decode_json(handle.read(MAX_SESSION_LOG_BYTES))]
                except OSError:
                    continue
                while stack:
                    node = stack.pop()
                    if isinstance(node, dict):
                        stack.extend(node.values())
                    elif isinstance(node, list):
                        stack.extend(node)
                    elif isinstance(node, str):
                        found.add(node)
        found.discard(os.path.basename(os.path.dirname(sub)))
        ids |= found
    return ids


# --- Times ------------------------------------------------------------------------------------------------------------
def parse_since(text: str) -> datetime | None:
    """``--since``: a date or an ISO date-time; UTC unless it names an offset. Raises ValueError."""
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_ts(ts: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Reading ----------------------------------------------------------------------------------------------------------
@dataclass
class Slice:
    rows: list[p.JournalRow]
    bad_lines: int
    bytes_done: int
    more: bool
    cursor: Cursor = field(default_factory=Cursor)


def _stem(path: str) -> str:
    name = os.path.basename(path)
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else name


def _hints(harness: str, path: str) -> dict[str, Any]:
    """What a hook payload would have told about a transcript that the file does not: Gemini CLI's cwd."""
    if harness != "gemini":
        return {}
    marker = os.path.join(os.path.dirname(os.path.dirname(path)), ".project_root")
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        raw = os.read(fd, MAX_PROJECT_ROOT_BYTES)
    except OSError:
        return {}
    finally:
        os.close(fd)
    root = raw.decode("utf-8", "replace").strip()
    return {"cwd": root} if os.path.isabs(root) and "\n" not in root else {}


def read_transcript_slice(adapter: TranscriptAdapter, path: str, cursor: Cursor | None) -> Slice:
    """The next slice of a transcript, parsed exactly as the hook path parses it. Raises NotReadable."""
    fresh = adapter.initial_state(_stem(path), _hints(adapter.harness, path))
    start = cursor or Cursor(state=fresh)
    piece = read_slice(path, start, fresh)
    state = piece.cursor.state
    if adapter.context is not None:
        state = adapter.context(path, state)
    rows, state = adapter.parse_transcript_lines(piece.lines, state)
    moved = msgspec.structs.replace(piece.cursor, state=state)
    more = piece.more and moved.offset != start.offset
    return Slice(rows, state.bad_lines - piece.cursor.state.bad_lines, moved.offset, more, moved)


def hermes_payloads(document: Any, stem: str, fallback_ts: str) -> tuple[list[tuple[dict[str, Any], str]], int]:
    """The ``post_llm_call`` payload each turn of a Hermes session would have sent, with the turn's time.

    ``document`` is a session log (an object with ``messages``) or the list of objects of a JSONL session.
    Returns (payloads, bad entries). Pure.
    """
    meta: dict[str, Any] = {}
    if isinstance(document, dict):
        meta = document
        messages = document.get("messages")
    else:
        objects = document if isinstance(document, list) else []
        messages = [o for o in objects if isinstance(o, dict) and "role" in o]
        meta = next((o for o in objects if isinstance(o, dict) and "role" not in o), {})
    if not isinstance(messages, list):
        return [], 1
    bad = sum(1 for m in messages if not isinstance(m, dict))
    session = meta.get("session_id") if isinstance(meta.get("session_id"), str) else ""
    session = session or stem.removeprefix("session_")
    model = meta.get("model") if isinstance(meta.get("model"), str) else ""
    session_ts = next((meta[k] for k in ("last_updated", "session_start") if isinstance(meta.get(k), str)), "")
    users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    out: list[tuple[dict[str, Any], str]] = []
    for n, start in enumerate(users):
        end = users[n + 1] if n + 1 < len(users) else len(messages)
        turn = messages[start:end]
        stamps = [str(m["timestamp"]) for m in turn if isinstance(m, dict) and isinstance(m.get("timestamp"), str)]
        payload: dict[str, Any] = {
            "hook_event_name": "post_llm_call",
            "session_id": session,
            "cwd": meta.get("cwd") if isinstance(meta.get("cwd"), str) else "",
            "extra": {"model": model, "conversation_history": messages[:end]},
        }
        out.append((payload, stamps[-1] if stamps else str(session_ts or fallback_ts)))
    return out, bad


def read_hermes(path: str, mtime: float) -> tuple[list[p.JournalRow], int]:
    """Rows of one Hermes session file (blocking). Raises NotReadable."""
    fd = open_regular(path, "session")
    try:
        st = os.fstat(fd)
        if st.st_size > MAX_SESSION_LOG_BYTES:
            raise NotReadable("the session log is too large")
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    stem = os.path.basename(path).rsplit(".", 1)[0]
    if path.endswith(".jsonl"):
        objects = [decode_json(line) for line in raw.splitlines() if line.strip()]
        bad = sum(1 for o in objects if not isinstance(o, dict))
        payloads, more_bad = hermes_payloads(objects, stem, iso(mtime))
    else:
        document = decode_json(raw)
        bad = 0 if isinstance(document, dict) else 1
        payloads, more_bad = hermes_payloads(document, stem, iso(mtime)) if not bad else ([], 0)
    rows: list[p.JournalRow] = []
    for payload, ts in payloads:
        rows += hermes.rows_from_payload(payload, ts)
    return rows, bad + more_bad


# --- The component ----------------------------------------------------------------------------------------------------
class Backfill:
    """Serves ``journal.import``. Build it with ``Backfill.for_daemon(daemon)`` (``llmojid.daemon.components``)."""

    def __init__(self, store: Store, journal: Journal, *, home: str, environ: Mapping[str, str]) -> None:
        self.store = store
        self.journal = journal
        self.home = home
        self.environ = environ

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> Backfill:
        return cls(daemon.store, daemon.journal, home=os.path.expanduser("~"), environ=os.environ)

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named(REQUEST_NAME, self._on_import)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass

    async def _on_import(self, msg: p.Request, ctx: CallContext) -> p.Result:
        args: ImportArgs = args_as(ImportArgs, msg)
        if args.harness and args.harness not in IMPORTABLE:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"harness must be one of: {', '.join(IMPORTABLE)}")
        try:
            since = parse_since(args.since)
        except ValueError:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "since must be an ISO date or date-time") from None
        harnesses = (args.harness,) if args.harness else IMPORTABLE
        return p.Result(value=await self.run_import(harnesses, since, args.dry_run, ctx.send_progress))

    async def run_import(
        self, harnesses: tuple[str, ...], since: datetime | None, dry_run: bool, send_progress: SendProgress
    ) -> dict[str, Any]:
        sources = await trio.to_thread.run_sync(discover, harnesses, self.home, self.environ, since)
        tallies = {h: Tally() for h in harnesses}
        progress = Progress(send_progress, files_total=len(sources), bytes_total=sum(s.size for s in sources))
        await progress.send(force=True)
        seen: set[bytes] = set()
        for source in sources:
            tally = tallies[source.harness]
            tally.files += 1
            try:
                async for rows, bad, done in self._rows_of(source):
                    tally.bad_lines += bad
                    rows, early = keep_since(rows, since, source.mtime)
                    tally.rows_before_since += early
                    tally.rows_found += len(rows)
                    new = await self._count_new(rows, seen) if dry_run else await self._insert(rows)
                    tally.rows_new += new
                    progress.rows_found += len(rows)
                    progress.rows_new += new
                    await progress.send(bytes_in_file=done)
            except NotReadable:
                tally.unreadable += 1
            progress.finish_file(source.size)
            await progress.send()
        await progress.send(force=True, phase="done")
        return {
            "dry_run": dry_run,
            "since": since.isoformat() if since else "",
            "harnesses": {h: t.as_dict() for h, t in tallies.items()},
        }

    async def _rows_of(self, source: Source) -> AsyncIterator[tuple[list[p.JournalRow], int, int]]:
        """Yield (rows, bad lines, bytes of the file done) slice by slice. Raises NotReadable."""
        if source.harness == "hermes":
            rows, bad = await trio.to_thread.run_sync(read_hermes, source.path, source.mtime)
            yield rows, bad, source.size
            return
        if source.harness == "opencode":
            async for item in _opencode_rows(source):
                yield item
            return
        adapter = ADAPTERS[source.harness]
        assert isinstance(adapter, TranscriptAdapter)
        cursor: Cursor | None = None
        while True:
            piece = await trio.to_thread.run_sync(read_transcript_slice, adapter, source.path, cursor)
            fallback = iso(source.mtime)
            rows = with_time(piece.rows, fallback)
            yield rows, piece.bad_lines, piece.bytes_done
            if not piece.more:
                return
            cursor = piece.cursor

    async def _insert(self, rows: list[p.JournalRow]) -> int:
        return await insert_rows(self.store, self.journal, rows)

    async def _count_new(self, rows: list[p.JournalRow], seen: set[bytes]) -> int:
        return await count_new(self.store, rows, seen)


async def insert_rows(store: Store, journal: Journal, rows: list[p.JournalRow]) -> int:
    """Journal ``rows`` in transactions of BATCH_ROWS; returns how many were new."""
    added = 0
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        added += await store.write(partial(journal.insert, rows=batch))
    return added


async def count_new(store: Store, rows: list[p.JournalRow], seen: set[bytes]) -> int:
    """How many of ``rows`` the journal lacks (and this run, whose keys are ``seen``, has not counted yet).
    Writes nothing: what a dry run reports as new."""
    keys = []
    for row in rows:
        key = store.dedup_key(row.harness, row.session, row.message_id)
        if key not in seen:
            seen.add(key)
            keys.append(key)
    new = 0
    for start in range(0, len(keys), BATCH_ROWS):
        batch = keys[start : start + BATCH_ROWS]
        present = await store.read(partial(_present, keys=batch))
        new += len(batch) - present
    return new


async def _opencode_rows(source: Source) -> AsyncIterator[tuple[list[p.JournalRow], int, int]]:
    """Rows of an OpenCode history database, a few sessions per worker-thread call. Raises NotReadable."""
    chosen = await trio.to_thread.run_sync(opencode_history.sessions, source.path)
    fallback = iso(source.mtime)
    for start in range(0, len(chosen), OPENCODE_SESSIONS_PER_READ):
        batch = chosen[start : start + OPENCODE_SESSIONS_PER_READ]
        documents, bad = await trio.to_thread.run_sync(opencode_history.documents, source.path, batch)
        rows = [row for d in documents for row in opencode_adapter.rows_from_message(d, fallback)]
        yield rows, bad, source.size * (start + len(batch)) // max(1, len(chosen))


def _present(conn: sqlite3.Connection, *, keys: list[bytes]) -> int:
    marks = ",".join("?" * len(keys))
    (count,) = conn.execute(f"SELECT count(*) FROM journal WHERE dedup IN ({marks})", keys).fetchone()  # noqa: S608
    return int(count)


def keep_since(rows: list[p.JournalRow], since: datetime | None, mtime: float) -> tuple[list[p.JournalRow], int]:
    """Rows at or after ``since`` (a row whose time does not parse takes its file's modification time)."""
    if since is None:
        return rows, 0
    fallback = datetime.fromtimestamp(mtime, UTC)
    kept = [r for r in rows if (parse_ts(r.ts) or fallback) >= since]
    return kept, len(rows) - len(kept)


class Progress:
    """Throttled progress frames: at most one per PROGRESS_INTERVAL, plus the first and the last."""

    def __init__(self, send: SendProgress, *, files_total: int, bytes_total: int) -> None:
        self._send = send
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_before = 0
        self.bytes_in_file = 0
        self.rows_found = 0
        self.rows_new = 0
        self._last = -1.0

    def finish_file(self, size: int) -> None:
        self.files_done += 1
        self.bytes_before += size
        self.bytes_in_file = 0

    async def send(self, *, force: bool = False, bytes_in_file: int | None = None, phase: str = "read") -> None:
        if bytes_in_file is not None:
            self.bytes_in_file = bytes_in_file
        now = trio.current_time()
        if not force and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        await self._send(
            {
                "phase": phase,
                "files_done": self.files_done,
                "files_total": self.files_total,
                "bytes_done": min(self.bytes_total, self.bytes_before + self.bytes_in_file),
                "bytes_total": self.bytes_total,
                "rows_found": self.rows_found,
                "rows_new": self.rows_new,
            }
        )


__all__ = [
    "REQUEST_NAME",
    "Backfill",
    "ImportArgs",
    "Progress",
    "count_new",
    "discover",
    "hermes_payloads",
    "insert_rows",
    "keep_since",
    "parse_since",
]
