"""Journal statistics and health (``journal.stats``): what ``llmojid-ctl stats`` shows.

Everything here is counted from plaintext columns (timestamps, harness, model, faces) and from the ingest
counters; no sealed value is opened, so stats cost no decryption and reveal nothing a bundle would not.

* faces: count per canonical face (the form that pools variants), its most written raw form, first and last
  seen; the ``top`` most counted, ties broken by face so the order is stable;
* models and harnesses: rows, distinct faces, first and last seen;
* ``by`` model or harness: the top faces within each;
* health: per harness, hook events handled, of them spooled, rows added, payloads that did not decode or named
  no readable file, transcript lines skipped, and when the last hook event arrived (``ingest_health``, kept by
  the hook ingest component); the spool backlog (sealed hook events waiting in the spool directory, and the ones
  set aside as unreadable).

Timestamps are compared as the ISO-8601 UTC strings the journal stores, which sort in time order.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
import trio

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.common.spool_format import BAD_SUFFIX, SPOOL_SUFFIX
from llmojid.daemon import resplit
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.store import Store

if TYPE_CHECKING:
    from llmojid.daemon.app import Daemon

REQUEST_NAME: Final = "journal.stats"
MAX_TOP: Final = 1000


class StatsArgs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    top: int = 20
    by: Literal["", "model", "harness"] = ""


def _span(conn: sqlite3.Connection, where: str = "", params: tuple[Any, ...] = ()) -> tuple[int, str, str]:
    row = conn.execute(f"SELECT count(*), min(ts), max(ts) FROM journal {where}", params).fetchone()  # noqa: S608
    return int(row[0]), row[1] or "", row[2] or ""


def _faces(conn: sqlite3.Connection, top: int, column: str = "", value: str = "") -> list[dict[str, Any]]:
    """The ``top`` canonical faces (optionally within one model or harness), most counted first."""
    where, params = (f"WHERE {column} = ?", (value,)) if column else ("", ())
    rows = conn.execute(
        f"SELECT canonical, count(*) AS n, min(ts), max(ts) FROM journal {where}"  # noqa: S608
        " GROUP BY canonical ORDER BY n DESC, canonical LIMIT ?",
        (*params, top),
    ).fetchall()
    if not rows:
        return []
    forms: dict[str, tuple[int, str]] = {}
    marks = ",".join("?" * len(rows))
    raw_where = f"{where} AND" if where else "WHERE"
    for canonical, kaomoji, n in conn.execute(
        f"SELECT canonical, kaomoji, count(*) FROM journal {raw_where} canonical IN ({marks})"  # noqa: S608
        " GROUP BY canonical, kaomoji",
        (*params, *(r[0] for r in rows)),
    ):
        best = forms.get(canonical)
        if best is None or (n, kaomoji) > (best[0], best[1]):
            forms[canonical] = (n, kaomoji)
    return [
        {"canonical": c, "kaomoji": forms.get(c, (0, c))[1], "count": int(n), "first_seen": first, "last_seen": last}
        for c, n, first, last in rows
    ]


def _groups(conn: sqlite3.Connection, column: str) -> list[dict[str, Any]]:
    return [
        {column: value, "count": int(n), "faces": int(faces), "first_seen": first or "", "last_seen": last or ""}
        for value, n, faces, first, last in conn.execute(
            f"SELECT {column}, count(*) AS n, count(DISTINCT canonical), min(ts), max(ts) FROM journal"  # noqa: S608
            f" GROUP BY {column} ORDER BY n DESC, {column}"
        )
    ]


def _health(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [
        {
            "harness": harness,
            "events": int(events),
            "spooled": int(spooled),
            "rows_added": int(rows_added),
            "bad_payloads": int(bad_payloads),
            "bad_lines": int(bad_lines),
            "last_event_at": last or "",
        }
        for harness, events, spooled, rows_added, bad_payloads, bad_lines, last in conn.execute(
            "SELECT harness, events, spooled, rows_added, bad_payloads, bad_lines, last_event_at"
            " FROM ingest_health ORDER BY harness"
        )
    ]


def query(conn: sqlite3.Connection, *, top: int, by: str) -> dict[str, Any]:
    """All the numbers, from one read transaction (runs on a reader connection)."""
    total, first, last = _span(conn)
    (distinct,) = conn.execute("SELECT count(DISTINCT canonical) FROM journal").fetchone()
    result: dict[str, Any] = {
        "rows": total,
        "distinct_faces": int(distinct),
        "first_seen": first,
        "last_seen": last,
        "faces": _faces(conn, top),
        "models": _groups(conn, "model"),
        "harnesses": _groups(conn, "harness"),
        "hooks": _health(conn),
    }
    moved = resplit.load_report(conn)
    if moved is not None:
        result["resplit"] = asdict(moved)  # what the last change of face rules moved (issue 13)
    if by:
        result["by"] = {
            "key": by,
            "groups": [
                {**group, "top_faces": _faces(conn, top, by, group[by])}
                for group in result[{"model": "models", "harness": "harnesses"}[by]]
            ],
        }
    return result


def spool_backlog(spool_dir: Path) -> dict[str, int]:
    """Sealed hook events waiting to be drained, and ones set aside as unreadable (blocking: a directory read)."""
    try:
        names = os.listdir(spool_dir)
    except OSError:
        names = []
    return {
        "waiting": sum(1 for n in names if n.endswith(SPOOL_SUFFIX)),
        "quarantined": sum(1 for n in names if n.endswith(BAD_SUFFIX)),
    }


class Stats:
    """Serves ``journal.stats``. Build it with ``Stats.for_daemon(daemon)`` (``llmojid.daemon.components``)."""

    def __init__(self, store: Store, *, spool_dir: Path) -> None:
        self.store = store
        self.spool_dir = spool_dir

    @classmethod
    def for_daemon(cls, daemon: Daemon) -> Stats:
        return cls(daemon.store, spool_dir=paths.spool_dir())

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add_named(REQUEST_NAME, self._on_stats)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def close(self) -> None:
        pass

    async def _on_stats(self, msg: p.Request, _ctx: CallContext) -> p.Result:
        args: StatsArgs = args_as(StatsArgs, msg)
        if not 1 <= args.top <= MAX_TOP:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"top must be between 1 and {MAX_TOP}")
        value = await self.store.read(partial(query, top=args.top, by=args.by))
        backlog = await trio.to_thread.run_sync(spool_backlog, self.spool_dir)
        value["spool"] = backlog
        value["parse_errors"] = sum(h["bad_payloads"] + h["bad_lines"] for h in value["hooks"])
        value["now"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return p.Result(value=value)
