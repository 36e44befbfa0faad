"""Forgetting (``llmojid-ctl forget --before DATE | --harness H | --all``): delete, then make the bytes go away.

What goes, generically over the tables ``schema.SEALED_COLUMNS`` names (so tables added later are covered):

* ``--before DATE``: rows whose ``ts`` (else ``created_at``) is earlier than DATE;
* ``--harness H``: rows whose ``harness`` is H;
* but never a transcript's read position (``KEEP_ON_SCOPED_FORGET``: forgetting it would re-import the rows);
* in both cases, every row of a derived table (one with ``source_model`` and ``canonical`` columns: the synthesis
  cache) for a cell that lost journal rows: a bag made from forgotten samples goes with them (it is made again
  from what remains at the next ``analyze``);
* ``--all``: every row of every table (but the store's id), the spool, the bundle folder, and then the keys
  (crypto-shredding: what any backup or stray page still holds can no longer be opened), in the crash-safe order
  of ``forget_all``. The daemon then stops, so it starts afresh with new keys.

Why the bytes go: the store runs with ``secure_delete`` (deleted content is zeroed in place), and after deleting,
``vacuum`` rebuilds the file and truncates the WAL, so neither free pages nor old WAL frames keep a copy.

Resource handling: ``delete_rows`` runs inside ``Store.write``; ``vacuum`` opens its own short-lived connection
(VACUUM cannot run inside the store's transactions) and waits for the store's connections through the busy
timeout.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from llmojid.daemon import schema
from llmojid.daemon.privacy.sealed import columns, quote, tables

#: Tables a scoped forget (``--before``, ``--harness``) leaves alone. Transcript read positions: deleting one makes
#: the next hook read that transcript from its start again, which would bring back the very rows just forgotten.
#: (Their sealed parse state holds the transcript's latest prompt; ``--all`` deletes them with everything else.)
KEEP_ON_SCOPED_FORGET: Final = frozenset({"transcript_cursor"})
#: How long vacuum waits for the store's own connections to be idle.
BUSY_TIMEOUT_SECONDS: Final = 30.0
_CHECKPOINT_TRIES: Final = 50


class ForgetError(ValueError):
    """A bad forget request (no scope, two scopes, a date that does not parse)."""


@dataclass(frozen=True)
class Scope:
    """Exactly one of: ``before`` (normalised ``YYYY-MM-DDTHH:MM:SS``, UTC), ``harness``, ``everything``."""

    before: str = ""
    harness: str = ""
    everything: bool = False


def parse_scope(before: str = "", harness: str = "", everything: bool = False) -> Scope:
    chosen = sum((bool(before), bool(harness), everything))
    if chosen != 1:
        raise ForgetError("choose exactly one of --before DATE, --harness NAME, --all")
    if before:
        return Scope(before=normalise_date(before))
    if harness:
        return Scope(harness=harness)
    return Scope(everything=True)


def normalise_date(text: str) -> str:
    """``YYYY-MM-DD`` or an ISO-8601 time (``Z`` or an offset; none means UTC) as ``YYYY-MM-DDTHH:MM:SS`` UTC.

    Stored timestamps are ISO-8601 UTC strings, so a string comparison against this form orders them by time
    (a stored ``...:SS.fffZ`` sorts after the same second here, which is right: it is not before it).
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ForgetError("--before takes a date (YYYY-MM-DD) or an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _scoped_tables(conn: sqlite3.Connection) -> list[str]:
    present = tables(conn)
    return [t for t in schema.SEALED_COLUMNS if t in present]


def delete_rows(conn: sqlite3.Connection, scope: Scope) -> dict[str, int]:
    """Delete what ``scope`` names (inside the caller's write transaction); returns rows deleted per table."""
    deleted: dict[str, int] = {}
    if scope.everything:
        store_id = _store_id(conn)
        for table in tables(conn):
            deleted[table] = conn.execute(f"DELETE FROM {quote(table)}").rowcount  # noqa: S608 - quoted name
        if store_id is not None:
            # The store's id stays: its keyring entries are named by it (a fresh start makes new keys under it).
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (schema.META_STORE_ID, store_id))
            deleted["meta"] -= 1
        return deleted
    cells: set[tuple[str, str]] = set()
    derived: list[str] = []
    for table in _scoped_tables(conn):
        if table in KEEP_ON_SCOPED_FORGET:
            continue
        names = {name for name, _t, _p in columns(conn, table)}
        if {"source_model", "canonical"} <= names:
            derived.append(table)
        where, params = _where(scope, names)
        if where is None:
            continue
        if table == "journal":
            cells |= {
                (str(m), str(c))
                for m, c in conn.execute(f"SELECT DISTINCT model, canonical FROM journal WHERE {where}", params)  # noqa: S608
            }
        deleted[table] = conn.execute(f"DELETE FROM {quote(table)} WHERE {where}", params).rowcount  # noqa: S608
    for table in derived:
        n = 0
        for model, canonical in sorted(cells):
            n += conn.execute(
                f"DELETE FROM {quote(table)} WHERE source_model = ? AND canonical = ?",  # noqa: S608 - quoted name
                (model, canonical),
            ).rowcount
        deleted[table] = deleted.get(table, 0) + n
    return deleted


def _store_id(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (schema.META_STORE_ID,)).fetchone()
    return None if row is None else str(row[0])


def _where(scope: Scope, names: set[str]) -> tuple[str | None, tuple[str, ...]]:
    if scope.before:
        column = "ts" if "ts" in names else "created_at" if "created_at" in names else None
        return (f"{quote(column)} < ?", (scope.before,)) if column else (None, ())
    if scope.harness and "harness" in names:
        return "harness = ?", (scope.harness,)
    return None, ()


def vacuum(database: Path) -> None:
    """Rebuild the database file and empty the WAL, so deleted rows leave no bytes behind (blocking)."""
    conn = sqlite3.connect(database, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("VACUUM")
        checkpoint(conn)
    finally:
        conn.close()


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the database and truncate it to zero bytes (retrying while a reader holds it)."""
    import time

    for _ in range(_CHECKPOINT_TRIES):
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        time.sleep(0.05)
    raise sqlite3.OperationalError("the WAL could not be checkpointed: a reader kept it busy")
