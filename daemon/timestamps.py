"""Journal times in one form: ISO-8601 UTC, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``.

Why one form: ``forget --before``, retention, ``stats`` and the report compare and cut ``ts`` as strings, which
orders times only when every value is UTC in this shape. A ``+05:00`` offset, a space for the ``T`` or a missing
zone would sort wrongly and escape forgetting, so times are normalised where rows enter the journal
(``Journal.insert``), a client's unreadable time is refused (``SubmitRows``: nothing stored; a generic hook
message: skipped), and times stored before this rule are rewritten once (``normalise_stored_times``).

A value already in the form is kept byte for byte (a transcript's ``...:06.120Z`` stays as written); a time with
no zone is taken as UTC, as ``forget --before`` takes it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import msgspec

from llmojid.client.protocol import JournalRow

log = logging.getLogger("llmojid.timestamps")

_NORMAL: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
#: ``meta`` row recording how far ``normalise_stored_times`` got (a journal row id), or ``done``.
META_PROGRESS: Final = "ts-normalised"
#: Rows rewritten per transaction.
BATCH: Final = 2_000


class BadTimestampError(ValueError):
    """A time that is not ISO-8601. The message names the problem, never the value."""


def normalise_ts(text: str) -> str:
    """``text`` as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (UTC); raises BadTimestampError when it is not ISO-8601."""
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadTimestampError("a time is not ISO-8601 (e.g. 2026-11-05T10:30:00Z or +05:00)") from None
    if _NORMAL.fullmatch(stripped):
        return stripped
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def is_time(text: str) -> bool:
    try:
        normalise_ts(text)
    except BadTimestampError:
        return False
    return True


def with_time(rows: Iterable[JournalRow], fallback: str) -> list[JournalRow]:
    """Rows read from a transcript: a missing or unreadable time becomes ``fallback`` (when the event came)."""
    return [r if r.ts and is_time(r.ts) else msgspec.structs.replace(r, ts=fallback) for r in rows]


def normalise_stored_times(conn: sqlite3.Connection) -> int:
    """Rewrite journal times stored before normalisation (blocking, on the store's connection, at open).

    Resumable: one transaction per batch, each recording the last row id it covered in ``meta``; a kill leaves
    the rows before it done and the rest as they were. A stored time that does not parse is left as it was (it
    is the user's data; the count is logged). Returns the rows rewritten.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_PROGRESS,)).fetchone()
    if row is not None and row[0] == "done":
        return 0
    after = int(row[0]) if row is not None else 0
    changed = unreadable = 0
    while True:
        rows = conn.execute("SELECT id, ts FROM journal WHERE id > ? ORDER BY id LIMIT ?", (after, BATCH)).fetchall()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row_id, ts in rows:
                try:
                    normal = normalise_ts(str(ts))
                except BadTimestampError:
                    unreadable += 1
                    continue
                if normal != ts:
                    conn.execute("UPDATE journal SET ts = ? WHERE id = ?", (normal, row_id))
                    changed += 1
            after = int(rows[-1][0]) if rows else after
            done = len(rows) < BATCH
            _set_progress(conn, "done" if done else str(after))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if done:
            break
    if changed or unreadable:
        log.info("journal times normalised to UTC: %d rewritten, %d unreadable left as they were", changed, unreadable)
    return changed


def _set_progress(conn: sqlite3.Connection, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (META_PROGRESS, value),
    )
