"""The session diary (``journal.sessions``): one line per assistant session, from metadata only.

What a line holds (and nothing else; :data:`SESSION_FIELDS` is the list the auditor enforces): the harness, the
models (most messages first), the first and last message's time and the seconds between them, the number of
turns and of kaomoji-led messages, the faces used with their counts, the circumplex cells of the faces' lexicon
bags where ``analyze`` made one, and the typing windows of the session with their mean deviation and flags.
No prompt, reply, path, cwd or session id: the daemon opens the sealed ``session`` and ``user_text`` columns
to group and count rows, keeps a digest of each prompt only while it counts, and returns numbers, names, faces
and lexicon cells. ``bundle`` never reads this (it is personal: when you worked, for how long).

Definitions (README, "Sessions"):

* **session**: the journal rows of one (harness, session id). Rows stored without a session id (the generic hook
  when the sender names none) make one session per harness and UTC day.
* **turn**: a user prompt answered with at least one kaomoji-led message: consecutive messages of a session that
  answer the same prompt are one turn. The journal stores kaomoji-led messages only, so a prompt whose every
  answer was face-less is not seen (and not counted). A message with no prompt known (none sent, or dropped by
  retention: ``retain_text_days`` sets it NULL) continues the turn before it.
* **typing windows**: attributed as ``typing.link`` links a turn: each message answers the latest prompt window
  that closed at or before it, at most an hour earlier; a session's windows are the distinct windows its messages
  answer. Two sessions running side by side can therefore share a window.
* **start** and **duration**: the first and last kaomoji-led message (the journal keeps no other time).

Resource handling: one ``Store.read`` (one WAL snapshot) per request, on the store's reader thread.
Error handling: a row whose sealed values do not open (another key, damage) is skipped and counted in
``unreadable``; ``since`` that does not parse and ``limit`` out of range are INVALID_ARGUMENT.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from llmojid.client import protocol as p
from llmojid.common.lexicon import CELL_OF_WORD
from llmojid.daemon.backfill import parse_since
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.keys import KeyringUnavailableError
from llmojid.daemon.keystrokes.baseline import link_turn, parse_ts
from llmojid.daemon.model import cache
from llmojid.daemon.seal import SealError
from llmojid.daemon.store import Store

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

REQUEST_NAME: Final = "journal.sessions"
#: Sessions returned at most (the newest): a frame stays far below the protocol's 4 MiB.
MAX_SESSIONS: Final = 2000
#: Faces listed per session at most (the most used first; ``faces_total`` counts them all).
MAX_FACES: Final = 20
#: The keys of one line, exactly: the auditor refuses a line with any other.
SESSION_FIELDS: Final = frozenset(
    {
        "harness",
        "model",
        "models",
        "start",
        "end",
        "duration_seconds",
        "turns",
        "messages",
        "faces",
        "faces_total",
        "cells",
        "analyzed_messages",
        "typing",
    }
)
TYPING_FIELDS: Final = frozenset({"windows", "scored", "mean_deviation", "flagged"})


class SessionsArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``since``: only sessions with a message at or after it (ISO date or date-time, '' = all); ``limit``: the
    newest sessions returned at most."""

    since: str = ""
    limit: int = MAX_SESSIONS


@dataclass
class _Session:
    """Running sums for one session while the rows are read (the prompt digest is dropped with it)."""

    harness: str
    first: tuple[float, str]
    last: tuple[float, str]
    models: Counter[str] = field(default_factory=Counter)
    faces: Counter[str] = field(default_factory=Counter)
    cells: dict[str, float] = field(default_factory=dict)
    analyzed: int = 0
    messages: int = 0
    turns: int = 0
    prompt: bytes = b""
    windows: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Window:
    row_id: int
    t: float
    status: str
    score: bytes | None


def chosen_bags(store: Store, conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, ...]]:
    """Primary-affect words per (source model, face), from the synthesizer with the most cells (the report's
    default choice)."""
    cells = list(cache.read_all(store, conn))
    by_synth = Counter((c.synthesis_model, c.backend, c.method) for c in cells)
    if not by_synth:
        return {}
    best = min(by_synth.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return {
        (c.source_model, c.canonical): tuple(c.bag.primary_affect)
        for c in cells
        if (c.synthesis_model, c.backend, c.method) == best
    }


def _windows(conn: sqlite3.Connection) -> list[_Window]:
    out = []
    for row_id, closed_at, status, score in conn.execute(
        "SELECT id, closed_at, status, score FROM typing_window ORDER BY closed_at, id"
    ):
        try:
            out.append(_Window(int(row_id), parse_ts(closed_at), str(status), score))
        except ValueError:
            continue
    return out


def _typing(store: Store, windows: list[_Window], linked: set[int]) -> dict[str, Any]:
    """Count, scored count, mean deviation and flags of the windows at the given indexes."""
    deviations: list[float] = []
    flagged = 0
    for i in sorted(linked):
        w = windows[i]
        if w.score is None:
            continue
        try:
            score = json.loads(store.open_bytes(w.score, table="typing_window", column="score", row_id=w.row_id))
        except (SealError, KeyringUnavailableError, ValueError):
            continue
        if score.get("deviation") is None:
            continue  # an enrolment window: no score
        deviations.append(float(score["deviation"]))
        flagged += bool(score.get("flagged"))
    return {
        "windows": len(linked),
        "scored": len(deviations),
        "mean_deviation": round(sum(deviations) / len(deviations), 6) if deviations else None,
        "flagged": flagged,
    }


def _line(store: Store, s: _Session, windows: list[_Window]) -> dict[str, Any]:
    models = sorted(s.models.items(), key=lambda kv: (-kv[1], kv[0]))
    faces = sorted(s.faces.items(), key=lambda kv: (-kv[1], kv[0]))
    cells = sorted(((c, w) for c, w in s.cells.items() if w), key=lambda kv: (-kv[1], kv[0]))
    return {
        "harness": s.harness,
        "model": models[0][0],
        "models": [m for m, _n in models],
        "start": s.first[1],
        "end": s.last[1],
        "duration_seconds": round(s.last[0] - s.first[0]),
        "turns": s.turns,
        "messages": s.messages,
        "faces": [{"canonical": f, "count": n} for f, n in faces[:MAX_FACES]],
        "faces_total": len(faces),
        "cells": [{"cell": c, "messages": round(w, 3)} for c, w in cells],
        "analyzed_messages": s.analyzed,
        "typing": _typing(store, windows, s.windows),
    }


def gather(store: Store, conn: sqlite3.Connection, *, since: datetime | None, limit: int) -> dict[str, Any]:
    """The diary from one read transaction (runs on the store's reader thread)."""
    bags = chosen_bags(store, conn)
    windows = _windows(conn)
    times = [w.t for w in windows]
    sessions: dict[tuple[str, str], _Session] = {}
    unreadable = 0
    for row_id, ts, harness, model, canonical, sealed_session, sealed_prompt in conn.execute(
        "SELECT id, ts, harness, model, canonical, session, user_text FROM journal ORDER BY ts, id"
    ):
        try:
            t = parse_ts(ts)
            session = store.open_text(sealed_session, table="journal", column="session", row_id=int(row_id))
            prompt = store.open_text(sealed_prompt, table="journal", column="user_text", row_id=int(row_id))
        except (SealError, KeyringUnavailableError, ValueError):
            unreadable += 1
            continue
        key = (harness, session) if session else (harness, f"\x00{ts[:10]}")
        del session
        s = sessions.get(key)
        if s is None:
            s = sessions[key] = _Session(harness=harness, first=(t, ts), last=(t, ts))
        digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).digest()[:16] if prompt else s.prompt
        del prompt
        if s.messages == 0 or digest != s.prompt:
            s.turns += 1
        s.prompt = digest
        s.messages += 1
        s.first, s.last = min(s.first, (t, ts)), max(s.last, (t, ts))  # text order is time order unless offsets
        s.models[model] += 1
        if canonical:
            s.faces[canonical] += 1
        words = bags.get((model, canonical))
        if words:
            s.analyzed += 1
            for word in words:
                cell = CELL_OF_WORD[word]
                s.cells[cell] = s.cells.get(cell, 0.0) + 1.0 / len(words)
        i = link_turn(t, times)
        if i is not None:
            s.windows.add(i)
    ordered = sorted(sessions.values(), key=lambda s: (s.first, s.harness))
    if since is not None:
        ordered = [s for s in ordered if s.last[0] >= since.timestamp()]
    shown = ordered[-limit:] if limit else []
    return {
        "sessions": [_line(store, s, windows) for s in shown],
        "total": len(ordered),
        "truncated": len(shown) < len(ordered),
        "unreadable": unreadable,
    }


class SessionDiary:
    """Serves ``journal.sessions``. Build it with ``SessionDiary.for_daemon(daemon)`` (``components``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> SessionDiary:
        return cls(daemon.store)

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named(REQUEST_NAME, self._on_sessions)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass

    async def _on_sessions(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args: SessionsArgs = args_as(SessionsArgs, msg)
        if not 1 <= args.limit <= MAX_SESSIONS:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"limit must be between 1 and {MAX_SESSIONS}")
        try:
            since = parse_since(args.since) if args.since else None
        except ValueError:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "since must be an ISO date or date-time") from None
        value = await self.store.read(partial(gather, self.store, since=since, limit=args.limit))
        return p.Result(value=value)
