"""Forgetting and retention without a daemon: scopes, what each deletes, and that VACUUM leaves no bytes behind."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmojid.daemon import schema
from llmojid.daemon.privacy import forget, retention


def migrated(path: Path | str = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=ON")
    for script in schema.MIGRATIONS:
        conn.executescript(script)
    return conn


def add_row(conn: sqlite3.Connection, ts: str, harness: str, model: str, face: str = "(◕‿◕)") -> None:
    conn.execute(
        "INSERT INTO journal (dedup, ts, harness, model, kaomoji, canonical, user_text, created_at)"
        " VALUES (randomblob(16), ?, ?, ?, ?, ?, X'01', ?)",
        (ts, harness, model, face, face, ts),
    )


def add_cell(conn: sqlite3.Connection, model: str, face: str = "(◕‿◕)") -> None:
    conn.execute(
        "INSERT INTO synthesis_cache (synthesis_model, backend, method, lexicon_version, source_model, canonical,"
        " samples_key, sample_count, synthesis, created_at) VALUES ('s', 'llama.cpp', 'scoring', 2, ?, ?,"
        " randomblob(16), 1, X'01', '2026-11-20T00:00:00Z')",
        (model, face),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-05", "2026-11-05T00:00:00"),
        ("2026-11-05T10:30", "2026-11-05T10:30:00"),
        ("2026-11-05T10:30:00Z", "2026-11-05T10:30:00"),
        ("2026-11-05T12:30:00+02:00", "2026-11-05T10:30:00"),
    ],
)
def test_dates_normalise_to_utc_seconds(text: str, expected: str) -> None:
    assert forget.normalise_date(text) == expected


def test_stored_times_compare_by_time() -> None:
    cut = forget.normalise_date("2026-11-05T10:00:00Z")
    stored = ["2026-11-05T09:59:59.999Z", "2026-11-05T10:00:00Z", "2026-11-05T10:00:00.5Z"]
    assert [ts < cut for ts in stored] == [True, False, False]  # only the earlier time is "before"


@pytest.mark.parametrize(
    ("args", "message"),
    [({}, "exactly one"), ({"before": "x", "harness": "y"}, "exactly one"), ({"before": "soon"}, "date")],
)
def test_bad_scopes_are_refused(args: dict[str, str], message: str) -> None:
    with pytest.raises(forget.ForgetError, match=message):
        forget.parse_scope(**args)


def test_scoped_forget_deletes_rows_their_cells_and_keeps_cursors() -> None:
    conn = migrated()
    add_row(conn, "2026-11-01T00:00:00Z", "claude-code", "old")
    add_row(conn, "2026-11-09T00:00:00Z", "codex", "new")
    add_row(conn, "2026-11-09T00:00:00Z", "claude-code", "new", face="(>_<)")
    for model, face in (("old", "(◕‿◕)"), ("new", "(◕‿◕)"), ("new", "(>_<)")):
        add_cell(conn, model, face)
    conn.execute(
        "INSERT INTO transcript_cursor (path_key, harness, state, updated_at) VALUES (randomblob(16), 'codex', X'01',"
        " '2026-11-01T00:00:00Z')"
    )
    deleted = forget.delete_rows(conn, forget.parse_scope(before="2026-11-05"))
    assert deleted["journal"] == 1 and deleted["synthesis_cache"] == 1
    deleted = forget.delete_rows(conn, forget.parse_scope(harness="codex"))
    assert deleted["journal"] == 1 and deleted["synthesis_cache"] == 1  # the (new, (◕‿◕)) cell lost its rows
    assert conn.execute("SELECT model, canonical FROM journal").fetchall() == [("new", "(>_<)")]
    assert conn.execute("SELECT source_model, canonical FROM synthesis_cache").fetchall() == [("new", "(>_<)")]
    assert conn.execute("SELECT count(*) FROM transcript_cursor").fetchone() == (1,)
    everything = forget.delete_rows(conn, forget.parse_scope(everything=True))
    assert everything["transcript_cursor"] == 1
    for table in ("journal", "synthesis_cache", "transcript_cursor", "meta"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608


def test_vacuum_leaves_no_bytes_of_deleted_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = migrated(path)
    canary = "model-CANARY-7d1f0a2b"
    for i in range(200):
        add_row(conn, f"2026-11-01T00:00:{i % 60:02d}Z", "claude-code", canary if i % 2 else "kept")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert canary.encode() in path.read_bytes()
    conn.execute("DELETE FROM journal WHERE model = ?", (canary,))
    forget.vacuum(path)
    conn.close()
    leftovers = [p for p in tmp_path.iterdir() if canary.encode() in p.read_bytes()]
    assert leftovers == []
    assert sqlite3.connect(path).execute("SELECT count(*) FROM journal").fetchone() == (100,)


def test_retention_cutoff_and_drop() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert retention.cutoff(0, now) is None
    assert retention.cutoff(30, now) == "2026-10-24T12:00:00"
    conn = migrated()
    add_row(conn, "2026-10-01T00:00:00Z", "codex", "m")
    add_row(conn, "2026-11-20T00:00:00Z", "codex", "m")
    assert retention.drop_text(conn, "2026-10-24T12:00:00") == 1
    assert retention.drop_text(conn, "2026-10-24T12:00:00") == 0  # already dropped
    assert conn.execute("SELECT ts, user_text IS NULL FROM journal ORDER BY ts").fetchall() == [
        ("2026-10-01T00:00:00Z", 1),
        ("2026-11-20T00:00:00Z", 0),
    ]
