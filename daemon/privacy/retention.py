"""Retention (``retain_text_days`` in config.toml): drop raw journal text after N days, keep the counts.

A journal row older than the limit keeps its time, harness, model and faces (what counts, cells and bundles are
made of) and loses its prompt, message and working directory: they become NULL, which the journal reads back as
empty text. The session id stays (an opaque id, needed by nothing but harmless, and sealed).

The pass runs when the daemon starts and then every ``INTERVAL_SECONDS`` (``PrivacyComponent.run``); ``0``
days turns it off. The store's ``secure_delete`` zeroes the old values in place, and a checkpoint moves that
into the main file.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final

#: The raw text retention drops, per table.
RAW_TEXT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {"journal": ("user_text", "assistant_text", "cwd")}
INTERVAL_SECONDS: Final = 3600.0


def cutoff(days: int, now: datetime) -> str | None:
    """The ``YYYY-MM-DDTHH:MM:SS`` (UTC) before which text goes; None when retention is off."""
    if days <= 0:
        return None
    return (now.astimezone(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


def drop_text(conn: sqlite3.Connection, before: str) -> int:
    """Null the raw text of rows older than ``before`` (inside the caller's write transaction); rows changed."""
    changed = 0
    for table, cols in RAW_TEXT_COLUMNS.items():
        sets = ", ".join(f"{c} = NULL" for c in cols)
        any_text = " OR ".join(f"{c} IS NOT NULL" for c in cols)
        sql = f"UPDATE {table} SET {sets} WHERE ts < ? AND ({any_text})"  # noqa: S608 - constant names
        changed += conn.execute(sql, (before,)).rowcount
    return changed
