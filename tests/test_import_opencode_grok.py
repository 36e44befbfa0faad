"""``import opencode`` and ``import grok`` through the real daemon.

OpenCode: an ``opencode.db`` with OpenCode 1.18's tables, in WAL mode, held open by a writer in the middle of a
transaction (a running OpenCode): the import neither blocks nor waits for it, sees only committed messages,
changes no byte of the database, and skips subagent sessions. Grok Build: a ``~/.grok/sessions`` tree built to
the documented contract, a subagent session left out; and the hook path (real hook script, Stop payloads turn by
turn) derives the ids a later import finds present.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.harness_transcripts import Expected, GrokSession, OpenCodeSession, jsonl
from tests.hook_support import journal_rows, run_hook
from tests.support import DaemonProcess

#: The three tables the importer reads, as OpenCode 1.18.33 creates them (other columns trimmed).
OPENCODE_SCHEMA = """
CREATE TABLE session (id text PRIMARY KEY, project_id text NOT NULL, parent_id text, slug text NOT NULL,
  directory text NOT NULL, title text NOT NULL, version text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL);
CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL, data text NOT NULL);
CREATE TABLE part (id text PRIMARY KEY, message_id text NOT NULL, session_id text NOT NULL,
  time_created integer NOT NULL, time_updated integer NOT NULL, data text NOT NULL);
"""


def _rows(proc: DaemonProcess, harness: str) -> list[Expected]:
    return [
        Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd)
        for r in journal_rows(proc, harness)
    ]


def _store(conn: sqlite3.Connection, documents: list[dict[str, Any]]) -> None:
    """Documents written as OpenCode keeps them: ids in the columns only, the rest as JSON ``data``."""
    for document in documents:
        session = document["session"]
        conn.execute(
            "INSERT OR IGNORE INTO session VALUES (?, 'global', ?, 'slug', ?, 'title', '1.18.33', 1, 1)",
            (session["id"], session["parentID"], session["directory"]),
        )
        for info, parts in (
            (document["prompt"]["info"], document["prompt"]["parts"]),
            (document["info"], document["parts"]),
        ):
            data = {k: v for k, v in info.items() if k not in ("id", "sessionID")}
            conn.execute(
                "INSERT OR IGNORE INTO message VALUES (?, ?, ?, ?, ?)",
                (info["id"], info["sessionID"], info["time"]["created"], 1, json.dumps(data)),
            )
            for part in parts:
                body = {k: v for k, v in part.items() if k not in ("id", "messageID")}
                conn.execute(
                    "INSERT OR IGNORE INTO part VALUES (?, ?, ?, 1, 1, ?)",
                    (part["id"], info["id"], info["sessionID"], json.dumps(body)),
                )
            tool = {"type": "tool", "tool": "read", "state": {"output": "file body"}}
            conn.execute(
                "INSERT OR IGNORE INTO part VALUES (?, ?, ?, 1, 1, ?)",
                (f"prt_tool_{info['id']}", info["id"], info["sessionID"], json.dumps(tool)),
            )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_opencode_reads_a_live_database_without_blocking_or_changing_it(daemon: DaemonProcess) -> None:
    folder = daemon.home / ".local" / "share" / "opencode"
    folder.mkdir(parents=True)
    database = folder / "opencode.db"
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.executescript(OPENCODE_SCHEMA)
    first, second = OpenCodeSession(), OpenCodeSession(session="ses_0c0de0000000000000000002", cwd="/srv/other")
    child = OpenCodeSession(session="ses_0c0de00000000000000child", parent_session=first.session)
    expected: list[Expected] = []
    writer.execute("BEGIN")
    for session in (first, second, child):
        for n in range(1, 4):
            documents, wanted = session.turn(n)
            _store(writer, documents)
            expected += wanted
    writer.execute("COMMIT")
    # A running OpenCode in the middle of writing a turn: a write transaction that is open all through the import.
    writer.execute("BEGIN IMMEDIATE")
    _store(writer, OpenCodeSession(session="ses_0c0de0000000000uncommit").turn(1)[0])
    # The -shm file is WAL's shared lock table, where every reader marks its snapshot: only data files are compared.
    files = {p: _digest(p) for p in folder.iterdir() if not p.name.endswith("-shm")}
    try:
        started = time.monotonic()
        tally = daemon.ctl_json("import", "opencode", "--json")["harnesses"]["opencode"]
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"], tally["unreadable"]) == (
        1,
        6,
        6,
        0,
        0,
    ), f"took {took:.1f} s"
    assert sorted(_rows(daemon, "opencode"), key=lambda e: (e.session, e.ts)) == sorted(
        expected, key=lambda e: (e.session, e.ts)
    )
    after = {p: _digest(p) for p in folder.iterdir() if not p.name.endswith("-shm")}
    assert after == files, "the import wrote nothing into OpenCode's database or its WAL"
    again = daemon.ctl_json("import", "opencode", "--json")["harnesses"]["opencode"]
    assert (again["rows_found"], again["rows_new"]) == (6, 0)
    writer.close()


def test_import_opencode_honours_opencode_db(daemon: DaemonProcess) -> None:
    """``OPENCODE_DB`` in the daemon's environment names the database (relative: inside OpenCode's data folder)."""
    folder = daemon.home / ".local" / "share" / "opencode"
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "elsewhere.db", isolation_level=None)
    conn.executescript(OPENCODE_SCHEMA)
    documents, expected = OpenCodeSession().turn(1)
    _store(conn, documents)
    conn.close()
    assert daemon.ctl_json("import", "opencode", "--json")["harnesses"]["opencode"]["files"] == 0
    daemon.stop()
    daemon.env["OPENCODE_DB"] = "elsewhere.db"
    daemon.start()
    tally = daemon.ctl_json("import", "opencode", "--json")["harnesses"]["opencode"]
    assert (tally["files"], tally["rows_new"]) == (1, 1)
    assert _rows(daemon, "opencode") == expected


def _grok_folder(home: Path, session: GrokSession) -> Path:
    folder = home / ".grok" / "sessions" / "project-hash" / session.session
    folder.mkdir(parents=True)
    (folder / "chat_history.jsonl").write_bytes(jsonl(session.chat_history()))
    (folder / "summary.json").write_text(json.dumps({"info": {"cwd": session.cwd}}))
    return folder


def test_import_grok_replays_sessions_and_leaves_subagents_out(daemon: DaemonProcess) -> None:
    parent, helper = GrokSession(), GrokSession(session="0198c0de-0000-7000-8000-0000000000aa")
    expected: list[Expected] = []
    for session in (parent, helper):
        lines: list[dict[str, Any]] = []
        for n in range(1, 4):
            turn, done, wanted = session.turn(n)
            lines += turn + done
            if session is parent:
                expected += wanted
        (_grok_folder(daemon.home, session) / "updates.jsonl").write_bytes(jsonl(lines))
    subagents = daemon.home / ".grok" / "sessions" / "project-hash" / parent.session / "subagents"
    subagents.mkdir()
    (subagents / "task-1.json").write_text(json.dumps({"child": {"sessionId": helper.session}}))
    tally = daemon.ctl_json("import", "grok", "--json")["harnesses"]["grok"]
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"]) == (1, 6, 6, 0)
    assert _rows(daemon, "grok") == expected


def test_grok_hooks_turn_by_turn_then_an_import_adds_nothing(daemon: DaemonProcess) -> None:
    session = GrokSession()
    folder = _grok_folder(daemon.home, session)
    transcript = folder / "updates.jsonl"
    expected: list[Expected] = []
    for n in range(1, 4):
        turn, done, wanted = session.turn(n)
        with transcript.open("ab") as f:
            f.write(jsonl(turn))
        result = run_hook(daemon.env, "grok", session.stop_payload(str(transcript), n))
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
        # The observe-only Stop at teardown journals nothing.
        run_hook(daemon.env, "grok", session.stop_payload(str(transcript), n, reason="session_end"))
        with transcript.open("ab") as f:
            f.write(jsonl(done))
        expected += wanted
    assert _rows(daemon, "grok") == expected
    tally = daemon.ctl_json("import", "grok", "--json")["harnesses"]["grok"]
    assert (tally["rows_found"], tally["rows_new"]) == (6, 0)


def test_import_opencode_since_sees_writes_still_in_the_wal(daemon: DaemonProcess) -> None:
    """A WAL database's own file keeps its old time until a checkpoint: ``--since`` must look at the -wal too."""
    folder = daemon.home / ".local" / "share" / "opencode"
    folder.mkdir(parents=True)
    database = folder / "opencode.db"
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.executescript(OPENCODE_SCHEMA)
    documents, expected = OpenCodeSession().turn(1)
    writer.execute("BEGIN")
    _store(writer, documents)
    writer.execute("COMMIT")
    long_ago = time.time() - 400 * 86400
    os.utime(database, (long_ago, long_ago))
    try:
        tally = daemon.ctl_json("import", "opencode", "--since", "2025-12-31", "--json")["harnesses"]["opencode"]
    finally:
        writer.close()
    assert (tally["files"], tally["rows_new"]) == (1, len(expected))
