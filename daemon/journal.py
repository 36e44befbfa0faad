"""The journal: kaomoji-led assistant messages, stored with their text sealed.

Rows come from the harness adapters (hook events, backfill) and from ``SubmitRows``. A row is identified by
(harness, session, message id): the same message submitted twice is stored once, which is what makes a retried
hook, a drained spool entry and a backfill over hook-written history all safe.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from llmojid.client.protocol import JournalRow
from llmojid.common.taxonomy import canonicalize
from llmojid.daemon.store import Store, utc_now
from llmojid.daemon.timestamps import normalise_ts

TABLE = "journal"
_SEALED = ("session", "user_text", "assistant_text", "cwd")


class Journal:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, conn: sqlite3.Connection, rows: Iterable[JournalRow]) -> int:
        """Insert rows inside the caller's write transaction; returns how many were new.

        Times are stored in one form (``timestamps.normalise_ts``); an unreadable one raises BadTimestampError,
        which rolls the caller's write back (callers check clients' times first and refuse the request).
        """
        added = 0
        now = utc_now()
        for row in rows:
            dedup = self.store.dedup_key(row.harness, row.session, row.message_id)
            canonical = canonicalize(row.kaomoji)  # derived here, never taken from a client
            cur = conn.execute(
                "INSERT INTO journal (dedup, ts, harness, model, kaomoji, canonical, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup) DO NOTHING RETURNING id",
                (dedup, normalise_ts(row.ts), row.harness, row.model, row.kaomoji, canonical, now),
            )
            found = cur.fetchone()
            if found is None:
                continue
            row_id = int(found[0])
            values = {col: getattr(row, col) for col in _SEALED}
            conn.execute(
                "UPDATE journal SET session = ?, user_text = ?, assistant_text = ?, cwd = ? WHERE id = ?",
                (*(self.store.seal_text(values[c], table=TABLE, column=c, row_id=row_id) for c in _SEALED), row_id),
            )
            added += 1
        return added

    async def submit(self, rows: list[JournalRow]) -> int:
        """Store rows durably; returns how many were new. Returns after the commit is synced."""
        return await self.store.write(lambda conn: self.insert(conn, rows))

    async def tail(self, limit: int, before_row_id: int = 0, harness: str = "") -> list[JournalRow]:
        """The newest rows (newest first), opened for their owner."""

        def query(conn: sqlite3.Connection) -> list[JournalRow]:
            sql = (
                "SELECT id, ts, harness, model, kaomoji, canonical, session, user_text, assistant_text, cwd"
                " FROM journal WHERE (? = 0 OR id < ?) AND (? = '' OR harness = ?) ORDER BY id DESC LIMIT ?"
            )
            out = []
            for rid, ts, hn, model, kao, canon, *sealed in conn.execute(
                sql, (before_row_id, before_row_id, harness, harness, limit)
            ):
                opened = {
                    col: self.store.open_text(blob, table=TABLE, column=col, row_id=rid)
                    for col, blob in zip(_SEALED, sealed, strict=True)
                }
                out.append(
                    JournalRow(
                        row_id=rid,
                        ts=ts,
                        harness=hn,
                        model=model,
                        kaomoji=kao,
                        canonical=canon,
                        message_id="",
                        **opened,
                    )
                )
            return out

        return await self.store.read(query)

    async def counts(self) -> dict[str, int]:
        def query(conn: sqlite3.Connection) -> dict[str, int]:
            (rows,) = conn.execute("SELECT count(*) FROM journal").fetchone()
            (faces,) = conn.execute("SELECT count(DISTINCT canonical) FROM journal").fetchone()
            return {"journal": int(rows), "faces": int(faces)}

        return await self.store.read(query)
