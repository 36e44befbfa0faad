"""Migration 5: a journal written under the old face rules is re-split when the daemon opens it (issue 13).

Real parts: the daemon process, its SQLite file, the OS keyring. Rows are written the way the old daemon wrote them
(``tests/legacy_taxonomy.py`` is the taxonomy before issue 13: its split and its canonical form repeated to a fixed
point), the schema version is put back to 4, and the daemon is started again; ``stats`` before and after shows what
moved, and ``journal tail`` shows the rows under their new faces with their text intact.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmojid.common import taxonomy
from llmojid.daemon import resplit
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.store import Store, utc_now
from tests import legacy_taxonomy
from tests.support import DaemonProcess
from tests.test_audit_helpers import audit, failures

#: Messages whose face or canonical key the new rules change, and one they leave alone.
MESSAGES = [
    "(>_<)ゞ Sorry, my mistake.",  # the old detector cut the salute off: (>_<)
    "( ｀∀´)ノ Fixed it.",  # same span, new one-pass key: ( `∀´) instead of (`∀´)
    "ヽ(・∀・ )ﾉ All green.",  # same span, key (・∀・ ) instead of (・∀・)
    "(^_^) Done, the tests pass.",  # unchanged
    "(^_^) Another one.",  # unchanged
]


def _write_old_rows(db: Path, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Insert rows exactly as the old daemon would have, sealed with the daemon's own key."""
    monkeypatch.setattr("llmojid.daemon.keys.SERVICE", service)
    store = Store.open(db, KeyManager.open())
    try:
        conn = store._conn
        conn.execute("BEGIN IMMEDIATE")
        for i, message in enumerate(MESSAGES):
            found = legacy_taxonomy.leading_face(message)
            assert found is not None
            face, text = found
            dedup = store.dedup_key("claude-code", "s1", f"m{i}")
            (row_id,) = conn.execute(
                "INSERT INTO journal (dedup, ts, harness, model, kaomoji, canonical, created_at)"
                " VALUES (?, ?, 'claude-code', 'claude-x', ?, ?, ?) RETURNING id",
                (dedup, f"2026-01-0{i + 1}T00:00:00Z", face, legacy_taxonomy.canonicalize(face), utc_now()),
            ).fetchone()
            sealed = {
                c: store.seal_text(v, table="journal", column=c, row_id=row_id)
                for c, v in (("session", "s1"), ("user_text", "fix it"), ("assistant_text", text), ("cwd", "/w"))
            }
            conn.execute(
                "UPDATE journal SET session = ?, user_text = ?, assistant_text = ?, cwd = ? WHERE id = ?",
                (sealed["session"], sealed["user_text"], sealed["assistant_text"], sealed["cwd"], row_id),
            )
        conn.execute(
            "INSERT INTO synthesis_cache (synthesis_model, backend, method, lexicon_version, source_model,"
            " canonical, samples_key, sample_count, synthesis, created_at)"
            " VALUES ('m.gguf', 'llama.cpp', 'scoring', 2, 'claude-x', '(`∀´)', x'00', 1, NULL, ?)",
            (utc_now(),),
        )
        conn.execute("COMMIT")
    finally:
        store.close()


def _counts(stats: dict[str, object]) -> dict[str, int]:
    faces = stats["faces"]
    assert isinstance(faces, list)
    return {str(f["canonical"]): int(f["count"]) for f in faces}


def test_old_journal_is_resplit_on_open(daemon: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon.ctl("status")
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    _write_old_rows(db, daemon.env["LLMOJID_KEYRING_SERVICE"], monkeypatch)

    daemon.start()
    before_stats = daemon.ctl_json("stats", "--json")
    assert "resplit" not in before_stats  # the new journal was empty when migration 5 ran: nothing to report
    before = _counts(before_stats)
    assert before == {"(^_^)": 2, "(>_<)": 1, "(`∀´)": 1, "(・∀・)": 1}  # the old keys
    assert daemon.stop() == 0
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 4")  # as a journal of the release before issue 13

    daemon.start()
    after = daemon.ctl_json("stats", "--json")
    assert _counts(after) == {"(^_^)": 2, "(>_<)ゞ": 1, "( `∀´)": 1, "(・∀・ )": 1}  # what moved
    assert after["rows"] == before_rows(before)
    assert after["resplit"] == {
        "rows": 5, "face_changed": 1, "canonical_changed": 2, "kept_not_face_led": 0, "cache_cells_dropped": 1
    }  # fmt: skip
    human = daemon.ctl("stats").stdout.decode()
    assert "face rules: 5 rows re-split when the rules became llmoji 3.0's: 1 to a new face, 2 to a new key" in human
    tail = {r["kaomoji"]: r for r in daemon.ctl_json_lines("journal", "tail", "--json", "-n", "10")}
    assert tail["(>_<)ゞ"]["assistant_text"] == "Sorry, my mistake."  # resealed, readable
    assert tail["( ｀∀´)ノ"]["canonical"] == "( `∀´)"
    assert all(taxonomy.canonicalize(face) == row["canonical"] for face, row in tail.items())
    _code, audited, _err = audit(daemon)
    assert not [f for f in failures(audited) if "meta" in f or "journal" in f]  # the counts in meta are plain ints
    assert daemon.stop() == 0

    with sqlite3.connect(db) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        cache = conn.execute("SELECT count(*) FROM synthesis_cache").fetchone()[0]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
        report = resplit.load_report(conn)
    assert resplit.PENDING_KEY not in meta
    assert report == resplit.ResplitReport(rows=5, face_changed=1, canonical_changed=2, cache_cells_dropped=1)
    assert cache == 0  # the cell of the old key (`∀´) was dropped


def before_rows(counts: dict[str, int]) -> int:
    return sum(counts.values())


def test_resplit_resumes_and_is_idempotent(daemon: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-split stopped half way resumes after its last batch; running it again on a done journal moves nothing."""
    daemon.ctl("status")
    assert daemon.stop() == 0
    db = daemon.state_dir / "llmojid.db"
    _write_old_rows(db, daemon.env["LLMOJID_KEYRING_SERVICE"], monkeypatch)
    with sqlite3.connect(db) as conn:
        # As if a crash came after the first committed batch, which covered rows 1-2.
        conn.execute("INSERT INTO meta (key, value) VALUES ('resplit_after', '2')")
    store = Store.open(db, KeyManager.open())
    try:
        rows = dict(store._conn.execute("SELECT id, kaomoji FROM journal").fetchall())
        assert rows[1] == "(>_<)"  # before the resume point: untouched by this run
        assert rows[3] == "ヽ(・∀・ )ﾉ"
        canon = dict(store._conn.execute("SELECT id, canonical FROM journal").fetchall())
        assert canon[3] == "(・∀・ )"  # after it: re-split
        assert resplit.pending(store._conn) is None
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('resplit_after', '0')")
        before = conn.execute("SELECT id, kaomoji, canonical FROM journal ORDER BY id").fetchall()
    store = Store.open(db, KeyManager.open())
    try:
        first = store._conn.execute("SELECT id, kaomoji, canonical FROM journal ORDER BY id").fetchall()
        assert first != before and first[0][1] == "(>_<)ゞ"
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('resplit_after', '0')")
    store = Store.open(db, KeyManager.open())
    try:
        again = store._conn.execute("SELECT id, kaomoji, canonical FROM journal ORDER BY id").fetchall()
        report = resplit.load_report(store._conn)
    finally:
        store.close()
    assert again == first
    assert report == resplit.ResplitReport(rows=5)
    daemon.start()  # the fixture stops it and checks the exit code
