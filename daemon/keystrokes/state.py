"""The typing component: key-event batches in, sealed prompt-window embeddings and deviation scores out.

Flow: a ``Keystrokes`` message is validated and fed to the :class:`WindowAssembler`; every window it
closes (an ENTER: one submitted prompt) is stored at once as a row (its closing time, the sender kind,
and a sealed summary: event and class counts, timing aggregates); the raw events are never written.
Windows long enough to carry a rhythm go to a queue; the component's background task encodes them with
the TCN (torch is imported by the first encode, in a worker thread, not before), then, in one write,
seals each embedding, applies it to the baseline (:mod:`baseline`: enrolment, slow update) and seals
its deviation score and flag.

Requests: ``typing.status`` (enrolment, counts, recent windows and scores), ``typing.reset`` (forget the
baseline; enrolment starts over) and ``typing.link`` (the prompt window a journal turn answers, by time).

Resource handling: the component owns the encoder (a few hundred KB of weights plus torch, once loaded)
and a bounded queue of windows waiting for it; ``close`` drops both. A window still queued when the
daemon stops is marked ``unencoded`` on the next start (its events were only ever in memory).
Error handling: a bad batch is INVALID_ARGUMENT with a message that names the problem, never a value.
If the encoder cannot load (weights missing or tampered: a clear :class:`EncoderWeightsError`), the
error is logged once, reported by ``typing.status``, and windows are kept as ``unencoded``; the daemon
keeps serving everything else.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import trio

from llmojid.client import protocol as p
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.keystrokes.baseline import (
    ENROLL_WINDOWS,
    MAX_LINK_SECONDS,
    SUSTAINED_WINDOWS,
    Baseline,
    Thresholds,
    embedding_to_bytes,
    link_turn,
    observe,
    parse_ts,
    sustained_deviation,
)
from llmojid.daemon.keystrokes.features import KeyClass, KeyEvent, rhythm_events, window_stats
from llmojid.daemon.keystrokes.windows import InvalidEvents, WindowAssembler, checked_events, source_kind
from llmojid.daemon.store import StorageError, Store, utc_now

log = logging.getLogger("llmojid.typing")

WINDOW_TABLE: Final = "typing_window"
BASELINE_TABLE: Final = "typing_baseline"
#: The baseline is one row; its id is part of the sealing associated data.
BASELINE_ROW: Final = 1
#: A window needs this many typed keys (after dropping pastes and its Enter) to be encoded: a "y" or
#: "continue" carries no rhythm. The shortest Aalto training sentences have ~15.
MIN_ENCODE_EVENTS: Final = 12
#: Windows waiting for the encoder. The worker takes them all at once, so this only fills if encoding is
#: stuck; then new windows are stored as unencoded rather than queued without bound.
ENCODE_QUEUE: Final = 256
#: Windows shown by typing.status at most.
MAX_RECENT: Final = 200
#: Longest accepted ``source`` string: it keys an in-memory buffer, so a sender cannot make it large.
MAX_SOURCE_LENGTH: Final = 128
#: Journal turns linked in one typing.link request at most.
MAX_LINK_TURNS: Final = 1000

# Window status values (plaintext: they say what happened to a window, not how anyone typed).
SHORT, PENDING, ENROLLED, SCORED, UNENCODED = "short", "pending", "enrolled", "scored", "unencoded"


class StatusArgs(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 10


class LinkArgs(msgspec.Struct, forbid_unknown_fields=True):
    journal_ids: list[int]


@dataclass(frozen=True, slots=True)
class _Closed:
    """A stored window waiting for the encoder."""

    window_id: int
    events: list[KeyEvent]
    release_known_fraction: float


def _summary(window: Sequence[KeyEvent]) -> dict[str, Any]:
    """The sealed per-window summary: counts and aggregates only (no per-key data)."""
    stats = asdict(window_stats(window))
    classes = {c.name.lower(): 0 for c in KeyClass}
    for event in window:
        classes[KeyClass(event.key_class).name.lower()] += 1
    out: dict[str, Any] = {"classes": classes}
    for key, value in stats.items():
        out[key] = None if isinstance(value, float) and not np.isfinite(value) else value
    return out


class TypingState:
    """The daemon component for keystroke timing (see the module docstring)."""

    def __init__(self, store: Store, thresholds: Thresholds | None = None) -> None:
        from llmojid.daemon.keystrokes.encoder import DEVIATION_THRESHOLDS

        self.store = store
        self.thresholds = thresholds or DEVIATION_THRESHOLDS
        self.assembler = WindowAssembler()
        self._send, self._receive = trio.open_memory_channel[_Closed](ENCODE_QUEUE)
        self._encoder: Any = None
        self._encoder_error = ""
        self._encode_seconds: list[float] = []

    @classmethod
    def for_daemon(cls, daemon: Any) -> TypingState:
        return cls(daemon.store)

    # --- lifecycle ---------------------------------------------------------------------------------
    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add(p.Keystrokes, self._keystrokes)
        dispatcher.add_named("typing.status", self._status)
        dispatcher.add_named("typing.reset", self._reset)
        dispatcher.add_named("typing.link", self._link)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Mark windows orphaned by the last stop, then encode queued windows for the daemon's life."""
        await self.store.write(
            lambda conn: conn.execute(
                "UPDATE typing_window SET status = ? WHERE status = ?",
                (UNENCODED, PENDING),
            )
        )
        task_status.started()
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while True:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                try:
                    await self._encode_and_score(batch)
                except StorageError as exc:
                    # the windows stay 'pending' (marked unencoded at the next start); keep serving
                    log.error("storing %d typing windows failed: %s", len(batch), exc)

    def close(self) -> None:
        self._send.close()
        self._encoder = None
        self.assembler.clear()

    # --- ingest ------------------------------------------------------------------------------------
    async def _keystrokes(self, msg: p.Keystrokes, _ctx: CallContext) -> p.Ok:
        if len(msg.events) > p.MAX_KEY_EVENTS_PER_BATCH:
            raise DispatchError(
                p.ErrorCode.INVALID_ARGUMENT, f"at most {p.MAX_KEY_EVENTS_PER_BATCH} key events per batch"
            )
        if len(msg.source) > MAX_SOURCE_LENGTH:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"source is longer than {MAX_SOURCE_LENGTH} characters")
        try:
            events = checked_events((e.press_ms, e.release_ms, e.key_class) for e in msg.events)
        except InvalidEvents as exc:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        closed = self.assembler.feed(msg.source, events)
        if not closed:
            return p.Ok()
        kind = source_kind(msg.source)
        now = utc_now()
        prepared = []
        for window in closed:
            rhythm = rhythm_events(window)
            encodable = len(rhythm) >= MIN_ENCODE_EVENTS
            prepared.append((window, rhythm, encodable, _summary(window)))

        def insert(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for _window, _rhythm, encodable, summary in prepared:
                cur = conn.execute(
                    "INSERT INTO typing_window (closed_at, source, status, created_at)"
                    " VALUES (?, ?, ?, ?) RETURNING id",
                    (now, kind, PENDING if encodable else SHORT, now),
                )
                row_id = int(cur.fetchone()[0])
                sealed = self.store.seal_bytes(
                    json.dumps(summary).encode(), table=WINDOW_TABLE, column="summary", row_id=row_id
                )
                conn.execute("UPDATE typing_window SET summary = ? WHERE id = ?", (sealed, row_id))
                ids.append(row_id)
            return ids

        ids = await self.store.write(insert)
        overflow = []
        for row_id, (_window, rhythm, encodable, summary) in zip(ids, prepared, strict=True):
            if not encodable:
                continue
            try:
                self._send.send_nowait(_Closed(row_id, rhythm, float(summary["release_known_fraction"])))
            except (trio.WouldBlock, trio.ClosedResourceError):
                overflow.append(row_id)
        if overflow:
            log.warning("encoder queue full: %d windows stored unencoded", len(overflow))
            await self._mark(overflow, UNENCODED)
        return p.Ok()

    async def _mark(self, ids: list[int], status: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE typing_window SET status = ? WHERE id = ?",
                [(status, i) for i in ids],
            )

        await self.store.write(update)

    # --- encoding and scoring ----------------------------------------------------------------------
    def _encode_sync(self, windows: list[list[KeyEvent]]) -> npt.NDArray[np.float32]:
        """Runs in a worker thread: loads the encoder on first use (this is where torch is imported)."""
        if self._encoder is None:
            from llmojid.daemon.keystrokes.encoder import Encoder

            self._encoder = Encoder(threads=1)
        t0 = time.perf_counter()
        out: npt.NDArray[np.float32] = self._encoder.encode(windows)
        self._encode_seconds = [*self._encode_seconds[-99:], time.perf_counter() - t0]
        return out

    async def _encode_and_score(self, batch: list[_Closed]) -> None:
        from llmojid.daemon.keystrokes.encoder import EncoderWeightsError

        ids = [c.window_id for c in batch]
        if self._encoder_error:
            await self._mark(ids, UNENCODED)
            return
        try:
            z = await trio.to_thread.run_sync(self._encode_sync, [c.events for c in batch])
        except EncoderWeightsError as exc:
            self._encoder_error = str(exc)
            log.error("the typing encoder cannot load; windows stay unencoded: %s", exc)
            await self._mark(ids, UNENCODED)
            return
        except Exception:
            log.exception("encoding %d typing windows failed", len(batch))
            await self._mark(ids, UNENCODED)
            return

        def apply(conn: sqlite3.Connection) -> None:
            baseline = self._read_baseline(conn)
            recent = self._recent_deviations(conn)
            for closed, vec in zip(batch, z, strict=True):
                threshold = self.thresholds.for_window(closed.release_known_fraction)
                outcome = observe(baseline, vec, threshold)
                baseline = outcome.baseline
                recent = [] if outcome.deviation is None else [*recent, outcome.deviation][-SUSTAINED_WINDOWS:]
                sustained = sustained_deviation(recent)
                sustained_threshold = self.thresholds.sustained_for_window(closed.release_known_fraction)
                score = {
                    "deviation": outcome.deviation,
                    "threshold": None if outcome.deviation is None else threshold,
                    "flagged": outcome.flagged,
                    "sustained_deviation": sustained,
                    "sustained_threshold": None if sustained is None else sustained_threshold,
                    "sustained_flagged": sustained is not None and sustained > sustained_threshold,
                }
                rid = closed.window_id
                sealed_z = self.store.seal_bytes(
                    embedding_to_bytes(vec), table=WINDOW_TABLE, column="embedding", row_id=rid
                )
                sealed_score = self.store.seal_bytes(
                    json.dumps(score).encode(), table=WINDOW_TABLE, column="score", row_id=rid
                )
                conn.execute(
                    "UPDATE typing_window SET status = ?, embedding = ?, score = ? WHERE id = ?",
                    (
                        ENROLLED if outcome.enrolled_now else SCORED,
                        sealed_z,
                        sealed_score,
                        rid,
                    ),
                )
            if baseline is not None:
                self._write_baseline(conn, baseline)

        await self.store.write(apply)

    def _recent_deviations(self, conn: sqlite3.Connection) -> list[float]:
        """Deviations of the newest scored windows since the baseline was last enrolled, oldest first (the
        context of the next sustained decision; an enrolling window starts it over)."""
        rows = conn.execute(
            "SELECT id, status, score FROM typing_window WHERE status IN (?, ?) ORDER BY id DESC LIMIT ?",
            (SCORED, ENROLLED, SUSTAINED_WINDOWS - 1),
        ).fetchall()
        out: list[float] = []
        for rid, status, score in reversed(rows):
            if status == ENROLLED or score is None:
                out = []
                continue
            value = json.loads(self.store.open_bytes(score, table=WINDOW_TABLE, column="score", row_id=rid))
            out = [] if value.get("deviation") is None else [*out, float(value["deviation"])]
        return out

    def _read_baseline(self, conn: sqlite3.Connection) -> Baseline | None:
        row = conn.execute("SELECT state FROM typing_baseline WHERE id = ?", (BASELINE_ROW,)).fetchone()
        if row is None:
            return None
        data = self.store.open_bytes(row[0], table=BASELINE_TABLE, column="state", row_id=BASELINE_ROW)
        return Baseline.from_bytes(data)

    def _write_baseline(self, conn: sqlite3.Connection, baseline: Baseline) -> None:
        sealed = self.store.seal_bytes(baseline.to_bytes(), table=BASELINE_TABLE, column="state", row_id=BASELINE_ROW)
        conn.execute(
            "INSERT INTO typing_baseline (id, state, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (BASELINE_ROW, sealed, utc_now()),
        )

    # --- requests ----------------------------------------------------------------------------------
    async def _status(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args = args_as(StatusArgs, msg)
        limit = max(0, min(args.limit, MAX_RECENT))

        def query(conn: sqlite3.Connection) -> dict[str, Any]:
            counts = dict(conn.execute("SELECT status, count(*) FROM typing_window GROUP BY status").fetchall())
            baseline = self._read_baseline(conn)
            updated = conn.execute("SELECT updated_at FROM typing_baseline WHERE id = ?", (BASELINE_ROW,)).fetchone()
            recent = [
                self._window_view(row)
                for row in conn.execute(
                    "SELECT id, closed_at, source, status, summary, score FROM typing_window ORDER BY id DESC LIMIT ?",
                    (limit,),
                )
            ]
            return {
                "counts": counts,
                "baseline": baseline,
                "baseline_updated_at": updated[0] if updated else "",
                "recent": recent,
            }

        found = await self.store.read(query)
        counts: dict[str, int] = found["counts"]
        baseline: Baseline | None = found["baseline"]
        enrolled = 0 if baseline is None else min(baseline.count, ENROLL_WINDOWS)
        if baseline is None:
            state = "not started"
        elif baseline.enrolled:
            state = "enrolled"
        else:
            state = "enrolling"
        return p.Result(
            value={
                "windows_seen": sum(counts.values()),
                "windows_by_status": {k: counts.get(k, 0) for k in (SHORT, PENDING, ENROLLED, SCORED, UNENCODED)},
                "open_windows": self.assembler.open_count(),
                "enrollment": {
                    "state": state,
                    "windows": enrolled,
                    "needed": ENROLL_WINDOWS,
                    "updates": 0 if baseline is None else max(0, baseline.count - ENROLL_WINDOWS),
                    "updated_at": found["baseline_updated_at"],
                },
                "thresholds": {
                    "with_release": self.thresholds.with_release,
                    "press_only": self.thresholds.press_only,
                    "sustained_with_release": self.thresholds.sustained_with_release,
                    "sustained_press_only": self.thresholds.sustained_press_only,
                    "sustained_windows": SUSTAINED_WINDOWS,
                },
                "encoder": {
                    "loaded": self._encoder is not None,
                    "error": self._encoder_error,
                    "last_encode_ms": round(self._encode_seconds[-1] * 1000, 3) if self._encode_seconds else None,
                },
                "recent": found["recent"],
            }
        )

    def _window_view(self, row: tuple[Any, ...]) -> dict[str, Any]:
        rid, closed_at, source, status, summary, score = row
        view: dict[str, Any] = {"id": rid, "closed_at": closed_at, "source": source, "status": status}
        if summary is not None:
            view.update(json.loads(self.store.open_bytes(summary, table=WINDOW_TABLE, column="summary", row_id=rid)))
        if score is not None:
            view.update(json.loads(self.store.open_bytes(score, table=WINDOW_TABLE, column="score", row_id=rid)))
        else:
            view.update({"deviation": None, "threshold": None, "flagged": False})
        view.setdefault("sustained_deviation", None)  # scores written before sustained decisions existed
        view.setdefault("sustained_flagged", False)
        return view

    async def _reset(self, _msg: p.Request, _ctx: CallContext) -> p.Result:
        def forget(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM typing_baseline").rowcount

        removed = await self.store.write(forget)
        log.info("typing baseline reset")
        return p.Result(value={"forgot_baseline": bool(removed)})

    async def _link(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args = args_as(LinkArgs, msg)
        if len(args.journal_ids) > MAX_LINK_TURNS:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"at most {MAX_LINK_TURNS} journal ids")
        return p.Result(value={"links": await self.windows_for_turns(args.journal_ids)})

    async def windows_for_turns(self, journal_ids: Sequence[int]) -> list[dict[str, Any]]:
        """For each journal row id: the prompt window its turn answers (``window_id`` None when there is
        none: no typing window closed within MAX_LINK_SECONDS before the turn, or no such row)."""

        def query(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            out = []
            for jid in journal_ids:
                row = conn.execute("SELECT ts FROM journal WHERE id = ?", (jid,)).fetchone()
                link: dict[str, Any] = {"journal_id": jid, "window_id": None}
                out.append(link)
                if row is None:
                    continue
                try:
                    turn = parse_ts(row[0])
                except ValueError:
                    continue
                lo = _iso(turn - MAX_LINK_SECONDS)
                hi = _iso(turn)
                candidates = conn.execute(
                    "SELECT id, closed_at FROM typing_window WHERE closed_at >= ? AND closed_at <= ?"
                    " ORDER BY closed_at, id",
                    (lo, hi),
                ).fetchall()
                i = link_turn(turn, [parse_ts(c[1]) for c in candidates])
                if i is not None:
                    link["window_id"] = int(candidates[i][0])
                    link["closed_at"] = candidates[i][1]
            return out

        return await self.store.read(query)


def _iso(posix: float) -> str:
    """POSIX seconds in the store's timestamp format (fixed width, so text order is time order)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(posix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
