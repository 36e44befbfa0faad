"""The report's numbers (``report.data``): aggregates only, for ``llmojid-ctl report`` to draw.

Why a request of its own: the report needs sums that no other request gives in one consistent read (faces per
model per day, circumplex cells weighted by use, deviation scores beside the faces that answered each prompt),
and it must never receive journal text. So this component opens **no journal text column** itself: it counts
from the journal's plaintext columns (time, model, harness, faces), opens only the synthesis cache's lexicon bags
(``daemon/model/cache.py``, locked vocabulary) and the typing windows' scores (numbers), and returns sums. The
session diary it includes (``daemon/sessions.py``) opens session ids and prompts to group and count rows, and
returns counts only.

The reply (every list capped by a named constant, ``truncated`` says which were cut):

* ``journal``: rows, distinct faces, first and last time; ``models`` and ``harnesses``: rows, faces, first, last;
* ``faces``: per (model, canonical face): count, first and last time, and the written forms with their counts;
* ``over_time``: the time ``unit`` chosen from the journal's span (hour, day, week or month: see
  :func:`time_unit`), rows per (bucket, model) in ``by_model`` and per (bucket, face) for the most used faces in
  ``by_face``;
* ``sessions``: the newest lines of the session diary (``llmojid.daemon.sessions``: aggregates only) and how
  many sessions there are;
* ``synthesis``: the synthesizers the cache holds bags from, the one chosen (``synthesis_model`` argument, else
  the one with most cells), its ``bags`` per (model, face), and per model the circumplex cells and stance words,
  each face's weight being its row count spread evenly over its bag's words;
* ``typing``: window counts by status, the scored windows' times and deviations (with threshold and flag), the
  faces of the journal turns in that time span counted per time bucket (``bucket_seconds``: seconds for a few
  minutes of prompts, hours for months), and per (model, face) the mean deviation of the prompts its turns
  answered (linked as ``typing.link`` does: the latest window at most an hour before).

Timestamps are compared as ISO-8601 UTC text where they share the store's format and parsed where they must be
matched (journal rows may carry an offset).

Resource handling: one ``Store.read`` (one WAL snapshot) per request, on the store's reader thread.
Error handling: a bag or score that does not open (another key, damage) is skipped and counted in
``unreadable``; arguments out of range are INVALID_ARGUMENT naming the argument.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from llmojid.client import protocol as p
from llmojid.common.lexicon import CELL_OF_WORD, CELLS, LEXICON_VERSION, STANCE_WORDS
from llmojid.daemon import sessions
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.keys import KeyringUnavailableError
from llmojid.daemon.keystrokes.baseline import MAX_LINK_SECONDS, link_turn, parse_ts
from llmojid.daemon.model import cache
from llmojid.daemon.seal import SealError
from llmojid.daemon.store import Store

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

REQUEST_NAME: Final = "report.data"
#: (model, face) cells returned at most, most used first: a frame stays far below the protocol's 4 MiB.
MAX_CELLS: Final = 2000
#: Written forms listed per cell at most (the most written first).
MAX_FORMS: Final = 5
#: (time bucket, model) and (time bucket, face) rows returned at most (the newest first).
MAX_TIME_ROWS: Final = 20_000
#: Each time unit's bucket start as SQLite computes it from a row's time (UTC; NULL when the time does not parse).
UNIT_SQL: Final[dict[str, str]] = {
    "hour": "strftime('%Y-%m-%dT%H:00:00Z', ts)",
    "day": "strftime('%Y-%m-%dT00:00:00Z', ts)",
    "week": "strftime('%Y-%m-%dT00:00:00Z', ts, 'weekday 0', '-6 days')",  # the Monday that starts it
    "month": "strftime('%Y-%m-01T00:00:00Z', ts)",
}
#: Sessions of the diary (``llmojid.daemon.sessions``) the report shows (the newest).
REPORT_SESSIONS: Final = 40
#: Faces whose use over time is returned (``top`` argument, at most this many).
MAX_TOP: Final = 50
#: Typing windows on the timeline at most (the newest).
MAX_WINDOWS: Final = 5000
#: (minute, model, face) rows on the timeline at most (the newest).
MAX_EVENTS: Final = 20_000
#: Widths (seconds) the timeline's faces are counted in: the narrowest that gives at most MAX_BUCKETS buckets
#: over the typing span (a few minutes of prompts get seconds, months get hours).
BUCKET_SECONDS: Final = (1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400)
MAX_BUCKETS: Final = 600
#: Windows that get a score (others are 'short', 'pending', 'unencoded', or 'enrolled' without a deviation).
SCORED_STATUSES: Final = ("scored", "enrolled")


class ReportArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``top``: faces whose use over time is returned; ``synthesis_model``: whose bags to use ('' = the one with most
    cells)."""

    top: int = 12
    synthesis_model: str = ""


@dataclass
class _Tally:
    """Running sums for one (model, face) linked to typing windows."""

    turns: int = 0
    deviation_sum: float = 0.0
    flagged: int = 0


def _span(conn: sqlite3.Connection, column: str) -> list[dict[str, Any]]:
    return [
        {column: value, "rows": int(n), "faces": int(faces), "first_seen": first or "", "last_seen": last or ""}
        for value, n, faces, first, last in conn.execute(
            f"SELECT {column}, count(*) AS n, count(DISTINCT canonical), min(ts), max(ts) FROM journal"  # noqa: S608
            f" GROUP BY {column} ORDER BY n DESC, {column}"
        )
    ]


def _faces(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], bool]:
    """Per (model, face): count, first and last time, written forms (most written first)."""
    rows = conn.execute(
        "SELECT model, canonical, count(*) AS n, min(ts), max(ts) FROM journal WHERE canonical != ''"
        " GROUP BY model, canonical ORDER BY n DESC, model, canonical LIMIT ?",
        (MAX_CELLS + 1,),
    ).fetchall()
    truncated = len(rows) > MAX_CELLS
    forms: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for model, canonical, kaomoji, n in conn.execute(
        "SELECT model, canonical, kaomoji, count(*) FROM journal WHERE canonical != '' GROUP BY model, canonical,"
        " kaomoji"
    ):
        forms[(model, canonical)].append((int(n), str(kaomoji)))
    out = []
    for model, canonical, n, first, last in rows[:MAX_CELLS]:
        written = sorted(forms.get((model, canonical), []), key=lambda f: (-f[0], f[1]))[:MAX_FORMS]
        out.append(
            {
                "model": model,
                "canonical": canonical,
                "count": int(n),
                "first_seen": first,
                "last_seen": last,
                "forms": [{"kaomoji": k, "count": c} for c, k in written],
            }
        )
    return out, truncated


def time_unit(span_seconds: float) -> str:
    """The unit the report counts use over time in, from the journal's span: hours for up to two days, days for
    up to eight weeks, weeks for up to three years, months beyond. Pure."""
    if span_seconds <= 2 * 86_400:
        return "hour"
    if span_seconds <= 56 * 86_400:
        return "day"
    if span_seconds <= 3 * 365 * 86_400:
        return "week"
    return "month"


def _over_time(conn: sqlite3.Connection, top: int, first: str, last: str) -> tuple[dict[str, Any], bool]:
    """Rows per (time bucket, model), and per (time bucket, face) for the ``top`` most used faces, in the unit
    :func:`time_unit` picks for the journal's span. Buckets are UTC (SQLite's date functions honour a row's
    offset); a bucket is named by its start."""
    try:
        span = parse_ts(last) - parse_ts(first) if first and last else 0.0
    except ValueError:
        span = 0.0
    unit = time_unit(span)
    bucket = UNIT_SQL[unit]
    by_model = conn.execute(
        f"SELECT {bucket} AS t, model, count(*) FROM journal WHERE t IS NOT NULL GROUP BY t, model"  # noqa: S608
        " ORDER BY t DESC, model LIMIT ?",
        (MAX_TIME_ROWS + 1,),
    ).fetchall()
    tops = [
        r[0]
        for r in conn.execute(
            "SELECT canonical, count(*) AS n FROM journal WHERE canonical != '' GROUP BY canonical"
            " ORDER BY n DESC, canonical LIMIT ?",
            (top,),
        )
    ]
    by_face: list[tuple[str, str, int]] = []
    if tops:
        marks = ",".join("?" * len(tops))
        by_face = conn.execute(
            f"SELECT {bucket} AS t, canonical, count(*) FROM journal WHERE t IS NOT NULL"  # noqa: S608
            f" AND canonical IN ({marks}) GROUP BY t, canonical ORDER BY t DESC, canonical LIMIT ?",
            (*tops, MAX_TIME_ROWS + 1),
        ).fetchall()
    truncated = len(by_model) > MAX_TIME_ROWS or len(by_face) > MAX_TIME_ROWS
    model_rows = [{"t": t, "model": m, "count": int(n)} for t, m, n in reversed(by_model[:MAX_TIME_ROWS])]
    face_rows = [{"t": t, "canonical": c, "count": int(n)} for t, c, n in reversed(by_face[:MAX_TIME_ROWS])]
    return {"unit": unit, "span_seconds": round(span), "by_model": model_rows, "by_face": face_rows}, truncated


def _synthesis(
    store: Store, conn: sqlite3.Connection, wanted: str, counts: dict[tuple[str, str], int]
) -> dict[str, Any]:
    """The cached bags of one synthesizer and the per-model circumplex and stance weights they give."""
    cells = list(cache.read_all(store, conn))
    (stored,) = conn.execute(
        "SELECT count(*) FROM synthesis_cache WHERE lexicon_version = ? AND synthesis IS NOT NULL", (LEXICON_VERSION,)
    ).fetchone()
    by_synth: Counter[tuple[str, str, str]] = Counter((c.synthesis_model, c.backend, c.method) for c in cells)
    synthesizers = [
        {"synthesis_model": s, "backend": b, "method": m, "cells": n}
        for (s, b, m), n in sorted(by_synth.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    candidates = [s for s in synthesizers if not wanted or s["synthesis_model"] == wanted]
    if wanted and not candidates:
        raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "the cache holds no bags from that synthesis model")
    chosen = candidates[0] if candidates else None
    bags: list[dict[str, Any]] = []
    primary: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(CELLS, 0.0))
    stance: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(STANCE_WORDS, 0.0))
    synthesized_rows: Counter[str] = Counter()
    if chosen is not None:
        key = (chosen["synthesis_model"], chosen["backend"], chosen["method"])
        for c in cells:
            if (c.synthesis_model, c.backend, c.method) != key:
                continue
            rows = counts.get((c.source_model, c.canonical), 0)
            bags.append(
                {
                    "model": c.source_model,
                    "canonical": c.canonical,
                    "count": rows,
                    "samples": c.sample_count,
                    "primary_affect": list(c.bag.primary_affect),
                    "stance_modality_function": list(c.bag.stance_modality_function),
                }
            )
            if not rows:
                continue  # a cell forgotten since it was synthesized: no weight
            synthesized_rows[c.source_model] += rows
            for word in c.bag.primary_affect:
                primary[c.source_model][CELL_OF_WORD[word]] += rows / len(c.bag.primary_affect)
            for word in c.bag.stance_modality_function:
                stance[c.source_model][word] += rows / len(c.bag.stance_modality_function)
    bags.sort(key=lambda b: (-b["count"], b["model"], b["canonical"]))
    return {
        "synthesizers": synthesizers,
        "chosen": chosen,
        "bags": bags,
        "by_model": [
            {
                "model": model,
                "synthesized_rows": synthesized_rows[model],
                "cells": {k: round(v, 6) for k, v in primary[model].items()},
                "stance": {k: round(v, 6) for k, v in stance[model].items()},
            }
            for model in sorted(synthesized_rows)
        ],
        "unreadable": int(stored) - len(cells),
    }


def _iso(posix: float) -> str:
    return datetime.fromtimestamp(posix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bucket_for(span_seconds: float) -> int:
    """The narrowest of BUCKET_SECONDS that cuts ``span_seconds`` into at most MAX_BUCKETS pieces. Pure."""
    return next((b for b in BUCKET_SECONDS if span_seconds / b <= MAX_BUCKETS), BUCKET_SECONDS[-1])


def _typing(store: Store, conn: sqlite3.Connection) -> dict[str, Any]:
    """Windows by status, the scored timeline, and the faces of the turns in its span, linked to windows."""
    by_status = {str(s): int(n) for s, n in conn.execute("SELECT status, count(*) FROM typing_window GROUP BY status")}
    marks = ",".join("?" * len(SCORED_STATUSES))
    rows = conn.execute(
        f"SELECT id, closed_at, status, score FROM typing_window WHERE status IN ({marks}) AND score IS NOT NULL"  # noqa: S608
        " ORDER BY closed_at DESC, id DESC LIMIT ?",
        (*SCORED_STATUSES, MAX_WINDOWS + 1),
    ).fetchall()
    truncated = len(rows) > MAX_WINDOWS
    windows: list[dict[str, Any]] = []
    unreadable = 0
    for row_id, closed_at, status, blob in reversed(rows[:MAX_WINDOWS]):
        try:
            score = json.loads(store.open_bytes(blob, table="typing_window", column="score", row_id=int(row_id)))
            posix = parse_ts(closed_at)
        except (SealError, KeyringUnavailableError, ValueError):
            unreadable += 1
            continue
        deviation = score.get("deviation")
        windows.append(
            {
                "closed_at": closed_at,
                "t": posix,
                "status": status,
                "deviation": None if deviation is None else float(deviation),
                "threshold": score.get("threshold"),
                "flagged": bool(score.get("flagged")),
            }
        )
    events, linked, bucket, events_truncated = _linked_faces(conn, windows)
    for w in windows:
        del w["t"]
    return {
        "by_status": by_status,
        "windows": windows,
        "first": windows[0]["closed_at"] if windows else "",
        "last": windows[-1]["closed_at"] if windows else "",
        "face_events": events,
        "bucket_seconds": bucket,
        "faces_by_deviation": linked,
        "unreadable": unreadable,
        "truncated": truncated or events_truncated,
    }


def _linked_faces(
    conn: sqlite3.Connection, windows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, bool]:
    """The journal's faces from the first window to an hour after the last, counted per time bucket (its width
    returned too), and per (model, face) the deviations of the prompts its turns answered."""
    if not windows:
        return [], [], BUCKET_SECONDS[0], False
    lo, hi = windows[0]["t"], windows[-1]["t"] + MAX_LINK_SECONDS
    day_lo, day_hi = _iso(lo)[:10], _iso(hi)[:10]
    times = [w["t"] for w in windows]  # sorted: windows come in closing order
    turns: list[tuple[float, str, str]] = []
    for ts, model, canonical in conn.execute(
        "SELECT ts, model, canonical FROM journal WHERE canonical != '' AND substr(ts, 1, 10) BETWEEN ? AND ?",
        (day_lo, day_hi),
    ):
        try:
            turn = parse_ts(ts)
        except ValueError:
            continue
        if lo <= turn <= hi:
            turns.append((turn, model, canonical))
    last = max((t for t, _m, _c in turns), default=windows[-1]["t"])
    bucket = bucket_for(max(last, windows[-1]["t"]) - lo)
    per_bucket: Counter[tuple[str, str, str]] = Counter()
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for turn, model, canonical in turns:
        per_bucket[(_iso(turn - turn % bucket), model, canonical)] += 1
        i = link_turn(turn, times)
        window = windows[i] if i is not None else None
        if window is None or window["deviation"] is None:
            continue  # answers no prompt, or one still enrolling
        tally = tallies[(model, canonical)]
        tally.turns += 1
        tally.deviation_sum += window["deviation"]
        tally.flagged += bool(window["flagged"])
    keys = sorted(per_bucket)
    truncated = len(keys) > MAX_EVENTS
    events = [{"t": t, "model": mo, "canonical": c, "count": per_bucket[(t, mo, c)]} for t, mo, c in keys]
    linked = [
        {
            "model": model,
            "canonical": canonical,
            "turns": t.turns,
            "mean_deviation": round(t.deviation_sum / t.turns, 6),
            "flagged_turns": t.flagged,
        }
        for (model, canonical), t in sorted(tallies.items(), key=lambda kv: (-kv[1].turns, kv[0]))
    ]
    return events[-MAX_EVENTS:], linked, bucket, truncated


def gather(store: Store, conn: sqlite3.Connection, *, top: int, synthesis_model: str) -> dict[str, Any]:
    """Every number of the report, from one read transaction (runs on the store's reader thread)."""
    total, distinct, first, last = conn.execute(
        "SELECT count(*), count(DISTINCT canonical), min(ts), max(ts) FROM journal"
    ).fetchone()
    faces, faces_truncated = _faces(conn)
    counts = {
        (str(m), str(c)): int(n)
        for m, c, n in conn.execute("SELECT model, canonical, count(*) FROM journal GROUP BY model, canonical")
    }
    over_time, over_time_truncated = _over_time(conn, top, first or "", last or "")
    diary = sessions.gather(store, conn, since=None, limit=REPORT_SESSIONS)
    return {
        "lexicon_version": LEXICON_VERSION,
        "journal": {
            "rows": int(total),
            "distinct_faces": int(distinct),
            "first_seen": first or "",
            "last_seen": last or "",
        },
        "models": _span(conn, "model"),
        "harnesses": _span(conn, "harness"),
        "faces": faces,
        "over_time": over_time,
        "sessions": {"shown": diary["sessions"], "total": diary["total"]},
        "synthesis": _synthesis(store, conn, synthesis_model, counts),
        "typing": _typing(store, conn),
        "truncated": {"faces": faces_truncated, "over_time": over_time_truncated},
    }


class ReportData:
    """Serves ``report.data``. Build it with ``ReportData.for_daemon(daemon)`` (``llmojid.daemon.components``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> ReportData:
        return cls(daemon.store)

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named(REQUEST_NAME, self._on_data)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass

    async def _on_data(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args: ReportArgs = args_as(ReportArgs, msg)
        if not 1 <= args.top <= MAX_TOP:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"top must be between 1 and {MAX_TOP}")
        if len(args.synthesis_model) > 200:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "the synthesis model name is too long")
        value = await self.store.read(partial(gather, self.store, top=args.top, synthesis_model=args.synthesis_model))
        value["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return p.Result(value=value)
