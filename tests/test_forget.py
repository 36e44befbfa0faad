"""Forgetting and retention end to end.

``forget --all`` must leave nothing recoverable: afterwards a plain ``sqlite3`` read finds no row and a byte scan
of every file llmojid owns finds none of the canaries, including one planted in a plaintext column (a model name),
which only the vacuum can remove; the keys are gone from the keyring (crypto-shredding) and the daemon starts
afresh. ``--before`` and ``--harness`` delete exactly their rows and the cache of the faces they touched.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from llmojid.client import protocol as p
from tests.hook_support import journal_rows, run_hook, start
from tests.support import DaemonProcess, scan_for
from tests.test_audit_canary import _turn
from tests.test_audit_helpers import (
    audit,
    failures,
    keyring_entry,
    rows,
    seed_cache,
    submit,
)

SECRETS = ("active-key", "index-key", "spool-key", "submitter-secret")


def needles(*canaries: str) -> list[bytes]:
    return [c.encode(enc) for c in canaries for enc in ("utf-8", "utf-16-le")]


def plain_rows(database: Path) -> dict[str, int]:
    """Row counts per table, read with nothing but sqlite3 (read-only, no llmojid code)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
    finally:
        conn.close()


def test_forget_all_leaves_no_recoverable_row(daemon: DaemonProcess) -> None:
    text, model = f"CANARY-{secrets.token_hex(6)}", f"model-CANARY{secrets.token_hex(5)}"
    assert submit(daemon, rows(text, 12, model=model)) == 12
    seed_cache(daemon, source_model=model)
    daemon.ctl("bundle", "build")
    assert scan_for(daemon.root, needles(model))  # the model name is plaintext: in the file and the bundle
    old_key = keyring_entry(daemon.env, "active-key")
    assert old_key and keyring_entry(daemon.env, f"data-key:{old_key}")

    refused = daemon.ctl("forget", "--all", input=b"no\n", check=False)
    assert refused.returncode == 2 and len(journal_rows(daemon)) == 12

    result = daemon.ctl("forget", "--all", input=b"y\n")
    assert b"deleted the keys" in result.stdout
    assert daemon.proc is not None and daemon.proc.wait(30) == 0  # it stops by itself, cleanly

    counts = plain_rows(daemon.state_dir / "llmojid.db")
    assert counts and all(n == 0 for t, n in counts.items() if t != "meta"), counts
    with sqlite3.connect(f"file:{daemon.state_dir / 'llmojid.db'}?mode=ro", uri=True) as conn:
        # Only the store's id stays: its keyring entries are named by it (no value, no text).
        assert [r[0] for r in conn.execute("SELECT key FROM meta")] == ["store-id"]
    wal = daemon.state_dir / "llmojid.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert scan_for(daemon.root, needles(text, model)) == []
    assert not (Path(daemon.env["XDG_DATA_HOME"]) / "llmojid" / "bundle").exists()
    assert keyring_entry(daemon.env, f"data-key:{old_key}") is None
    assert all(keyring_entry(daemon.env, entry) is None for entry in SECRETS)

    start(daemon)  # afresh: a new key, an empty journal, a clean audit
    assert journal_rows(daemon) == []
    assert keyring_entry(daemon.env, "active-key") not in (None, old_key)
    code, report, _ = audit(daemon)
    assert code == 0, failures(report)


def test_forget_before_and_harness_delete_exactly_their_rows(daemon: DaemonProcess) -> None:
    old_model, codex_model = f"old-CANARY{secrets.token_hex(5)}", "codex-model"
    assert submit(daemon, rows("OLD", 5, model=old_model, day=1)) == 5
    assert submit(daemon, rows("CDX", 4, model=codex_model, harness="codex", day=10)) == 4
    assert submit(daemon, rows("KEEP", 3, model="keep-model", day=12)) == 3
    for model in (old_model, codex_model, "keep-model"):
        seed_cache(daemon, source_model=model)
    session = str(uuid.uuid4())
    transcript = daemon.root / f"{session}.jsonl"
    transcript.write_bytes(_turn(session, "/w", "a hooked prompt", "a hooked answer", 1))
    payload = json.dumps(
        {"session_id": session, "transcript_path": str(transcript), "hook_event_name": "Stop"}
    ).encode()
    assert run_hook(daemon.env, "claude-code", payload).returncode == 0

    assert daemon.ctl("forget", "--before", "not a date", "--yes", check=False).returncode == 2
    assert daemon.ctl("forget", "--yes", check=False).returncode == 2  # a scope is required

    gone = daemon.ctl_json("forget", "--before", "2026-11-05", "--yes", "--json")
    assert gone["deleted"]["journal"] == 5 and gone["deleted"]["synthesis_cache"] == 3 and gone["vacuumed"]
    assert scan_for(daemon.state_dir, needles(old_model)) == []  # vacuumed: not in the file, not in the WAL
    gone = daemon.ctl_json("forget", "--harness", "codex", "--yes", "--json")
    assert gone["deleted"]["journal"] == 4 and gone["deleted"]["synthesis_cache"] == 3

    left = journal_rows(daemon)
    assert sorted({r.model for r in left}) == ["claude-canary-test", "keep-model"] and len(left) == 4
    assert all("KEEP" in r.user_text for r in left if r.model == "keep-model")
    conn = sqlite3.connect(daemon.state_dir / "llmojid.db")
    assert [r[0] for r in conn.execute("SELECT DISTINCT source_model FROM synthesis_cache")] == ["keep-model"]
    conn.close()
    code, report, _ = audit(daemon)
    assert code == 0, failures(report)

    # Forgetting a harness keeps its transcripts' read positions: the next hook event does not bring rows back.
    daemon.ctl("forget", "--harness", "claude-code", "--yes")
    assert journal_rows(daemon) == []
    assert run_hook(daemon.env, "claude-code", payload).returncode == 0
    assert journal_rows(daemon) == []
    with transcript.open("ab") as f:
        f.write(_turn(session, "/w", "a new prompt", "a new answer", 3))
    assert run_hook(daemon.env, "claude-code", payload).returncode == 0
    assert [r.assistant_text for r in journal_rows(daemon)] == ["a new answer"]


def _at(batch: list[p.JournalRow], when: datetime) -> list[p.JournalRow]:
    return [msgspec.structs.replace(r, ts=when.strftime("%Y-%m-%dT%H:%M:%SZ")) for r in batch]


def test_retention_drops_old_text_and_keeps_counts(workdir: Path, daemon_env: dict[str, str]) -> None:
    daemon_env["LLMOJID_RETAIN_TEXT_DAYS"] = "30"
    proc = start(DaemonProcess(workdir, daemon_env))
    try:
        now = datetime.now(UTC)
        assert submit(proc, _at(rows("AGED", 4), now - timedelta(days=400))) == 4
        assert submit(proc, _at(rows("FRESH", 3, start=50), now - timedelta(days=2))) == 3
        assert proc.stop() == 0
        start(proc)  # retention runs in the background when the daemon starts (and hourly after)
        deadline = time.monotonic() + 30
        while "dropped the text of 4 journal row(s)" not in proc.log():
            assert time.monotonic() < deadline, proc.log()
            time.sleep(0.05)
        got = journal_rows(proc)
        assert len(got) == 7  # the rows, and so the counts, stay
        aged = [r for r in got if r.session == "sess-AGED"]  # the session id stays (opaque, sealed)
        kept = [r for r in got if r.session == "sess-FRESH"]
        assert len(aged) == 4 and len(kept) == 3
        assert all(r.user_text == r.assistant_text == r.cwd == "" and r.kaomoji and r.model for r in aged)
        assert all("FRESH" in r.user_text and "FRESH" in r.assistant_text and "FRESH" in r.cwd for r in kept)
        code, report, _ = audit(proc)
        assert code == 0, failures(report)
    finally:
        proc.stop()
