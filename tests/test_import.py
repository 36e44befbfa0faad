"""Backfill (``journal.import``) against a real daemon: histories on disk in a temporary HOME, hooks run for real.

What must hold: the importer finds each harness's histories where the harness keeps them, rows the hooks already
journaled count as present and are not stored twice, a dry run writes nothing and predicts the real run,
``--since`` keeps only later rows, bad lines are counted and skipped, and progress streams to the end.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.commands.importing import render
from llmojid.client.connection import Client, DaemonError
from llmojid.daemon.backfill import hermes_payloads, parse_since
from tests.harness_transcripts import ClaudeSession, CodexSession, Expected, HermesSession, jsonl
from tests.hook_support import journal_rows, run_hook, start
from tests.support import LLMOJID_CTL, DaemonProcess

TURNS = 12


@pytest.fixture
def home_daemon(workdir: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    """A daemon whose HOME (and each harness's home variable) points into the test's temporary HOME."""
    home = Path(daemon_env["HOME"])
    daemon_env.update(
        CLAUDE_CONFIG_DIR=str(home / ".claude"), CODEX_HOME=str(home / ".codex"), HERMES_HOME=str(home / ".hermes")
    )
    proc = start(DaemonProcess(workdir, daemon_env))
    yield proc
    assert proc.stop() == 0, proc.log()


def request_import(proc: DaemonProcess, progress: list[dict[str, object]] | None = None, **args: Any) -> dict[str, Any]:
    with Client(proc.socket_path, timeout=120) as client:
        reply = client.request(
            p.Request(name="journal.import", args=args), on_progress=None if progress is None else progress.append
        )
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    return reply.value


def key(row: p.JournalRow | Expected) -> tuple[str, str, str, str]:
    return (row.kaomoji, row.assistant_text, row.user_text, row.ts)


def claude_transcript(home: Path, turns: range, session: ClaudeSession | None = None) -> tuple[Path, list[Expected]]:
    session = session or ClaudeSession()
    path = home / ".claude" / "projects" / "-home-someone-project" / f"{session.session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    expected: list[Expected] = []
    with path.open("ab") as out:
        for n in turns:
            events, rows = session.turn(n)
            out.write(jsonl(events))
            expected += rows
    return path, expected


def test_import_dedups_against_rows_the_hooks_wrote(home_daemon: DaemonProcess) -> None:
    home = home_daemon.home
    session = ClaudeSession()
    path, first = claude_transcript(home, range(TURNS // 2), session)
    hooked = run_hook(home_daemon.env, "claude-code", session.stop_payload(str(path)))
    assert hooked.returncode == 0
    assert sorted(map(key, journal_rows(home_daemon))) == sorted(map(key, first)), "the hook journaled half"

    _, second = claude_transcript(home, range(TURNS // 2, TURNS), session)
    dry = request_import(home_daemon, harness="claude-code", dry_run=True)["harnesses"]["claude-code"]
    assert dry["rows_found"] == len(first) + len(second)
    assert dry["rows_new"] == len(second) and dry["rows_present"] == len(first)
    assert len(journal_rows(home_daemon)) == len(first), "a dry run writes nothing"

    real = request_import(home_daemon, harness="claude-code")["harnesses"]["claude-code"]
    assert real == dry, "the dry run predicted the import exactly"
    rows = journal_rows(home_daemon)
    assert sorted(map(key, rows)) == sorted(map(key, first + second)), "every message once, none twice"

    again = request_import(home_daemon)["harnesses"]["claude-code"]
    assert again["rows_new"] == 0 and again["rows_found"] == len(first + second)
    assert len(journal_rows(home_daemon)) == len(rows)


def test_import_reads_codex_both_shapes_and_hermes_sessions(home_daemon: DaemonProcess) -> None:
    home = home_daemon.home
    expected: list[Expected] = []
    for new_shape, stamp in ((False, "2026-01-02T03-04-05"), (True, "2026-01-03T03-04-05")):
        codex = CodexSession(new_shape=new_shape, session=f"0199a000-0000-7000-8000-00000000000{int(new_shape)}")
        lines = codex.header()
        for n in range(4):
            turn, rows = codex.turn(n)
            lines += turn
            expected += rows
        rollout = home / ".codex" / "sessions" / "2026" / "01" / "02" / f"rollout-{stamp}-{codex.session}.jsonl"
        rollout.parent.mkdir(parents=True, exist_ok=True)
        rollout.write_bytes(jsonl(lines))
    (home / ".codex" / "sessions" / "2026" / "notes.jsonl").write_text("{}\n")  # not a rollout: not read

    hermes = HermesSession()
    hermes_rows: list[tuple[str, str, str]] = []
    for n in range(3):
        _payload, rows = hermes.turn(n)
        hermes_rows += rows
    # The first turn also arrived through the hook: the import must count it as present.
    assert run_hook(home_daemon.env, "hermes", json.dumps(_hermes_payload_after(hermes, 1)).encode()).returncode == 0
    log = {"session_id": hermes.session, "model": hermes.model, "messages": hermes.history}
    (home / ".hermes" / "sessions").mkdir(parents=True)
    (home / ".hermes" / "sessions" / f"session_{hermes.session}.json").write_text(json.dumps(log))

    progress: list[dict[str, object]] = []
    result = request_import(home_daemon, progress)["harnesses"]
    assert result["codex"]["files"] == 2
    assert result["codex"]["rows_new"] == len(expected)
    assert result["hermes"] == {**result["hermes"], "files": 1, "rows_found": 3, "rows_new": 2, "rows_present": 1}
    codex_rows = journal_rows(home_daemon, "codex")
    assert sorted(map(key, codex_rows)) == sorted(map(key, expected))
    got_hermes = sorted((r.kaomoji, r.assistant_text, r.user_text) for r in journal_rows(home_daemon, "hermes"))
    assert got_hermes == sorted(hermes_rows)
    assert progress[0]["files_done"] == 0 and progress[-1]["phase"] == "done"
    assert progress[-1]["files_done"] == progress[-1]["files_total"] == 3
    assert progress[-1]["bytes_done"] == progress[-1]["bytes_total"] > 0


def _hermes_payload_after(session: HermesSession, turns: int) -> dict[str, Any]:
    """The post_llm_call payload as the hook saw it right after turn ``turns`` (history up to that turn)."""
    history = session.history[: 1 + 5 * turns]
    return {
        "hook_event_name": "post_llm_call",
        "session_id": session.session,
        "cwd": session.cwd,
        "extra": {"user_message": history[-5]["content"], "conversation_history": history, "model": session.model},
    }


def test_since_bad_lines_and_unreadable_files(home_daemon: DaemonProcess) -> None:
    home = home_daemon.home
    path, expected = claude_transcript(home, range(6))
    with path.open("ab") as out:
        out.write(b"not json at all\n\xff\xfe binary\n")
        out.write(b'{"type": "assistant", "message": {"content": 42}}\n')
    cutoff = expected[4].ts  # rows at or after the fifth expected row's time
    result = request_import(home_daemon, since=cutoff)
    tally = result["harnesses"]["claude-code"]
    assert tally["rows_new"] == len(expected) - 4 and tally["rows_before_since"] == 4
    assert tally["bad_lines"] == 2, "the undecodable and binary lines are counted; a wrong-typed event is no row"
    assert sorted(map(key, journal_rows(home_daemon))) == sorted(map(key, expected[4:]))

    fifo = home / ".claude" / "projects" / "-home-someone-project" / "pipe.jsonl"
    os.mkfifo(fifo)
    result = request_import(home_daemon, harness="claude-code")["harnesses"]["claude-code"]
    assert result["rows_new"] == 4 and result["files"] == 1, "a FIFO is not a history file: never opened"


def test_import_refuses_bad_arguments(home_daemon: DaemonProcess) -> None:
    for args in ({"harness": "vim"}, {"since": "yesterday"}, {"dry_run": "yes"}, {"colour": 1}):
        with pytest.raises(DaemonError) as caught:
            request_import(home_daemon, **args)
        assert caught.value.code == p.ErrorCode.INVALID_ARGUMENT


def test_hermes_payloads_split_a_session_into_turns() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "a", "timestamp": "2026-01-01T00:00:00Z"},
        {"role": "assistant", "content": "(◕‿◕) one", "timestamp": "2026-01-01T00:00:05Z"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "(◕‿◕) two"},
    ]
    payloads, bad = hermes_payloads({"session_id": "s1", "messages": messages}, "session_s1", "2026-02-02T00:00:00Z")
    assert bad == 0
    assert [len(pl["extra"]["conversation_history"]) for pl, _ in payloads] == [3, 5]
    assert [ts for _, ts in payloads] == ["2026-01-01T00:00:05Z", "2026-02-02T00:00:00Z"]
    assert {pl["session_id"] for pl, _ in payloads} == {"s1"}
    assert hermes_payloads({"messages": "nope"}, "x", "t") == ([], 1)


def test_since_parsing_and_progress_rendering() -> None:
    assert parse_since("2026-01-02").isoformat() == "2026-01-02T00:00:00+00:00"  # type: ignore[union-attr]
    assert parse_since("2026-01-02T03:04:05+02:00").utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        parse_since("last tuesday")
    line = render({"bytes_done": 50, "bytes_total": 200, "files_done": 1, "files_total": 4, "rows_found": 1200})
    assert line.startswith("[" + "#" * 7 + "." * 21 + "]") and "25%" in line and "1/4 files" in line
    assert "1,200 rows" in line


def test_ctl_import_draws_progress_on_a_terminal_and_prints_the_tally(home_daemon: DaemonProcess) -> None:
    _, expected = claude_transcript(home_daemon.home, range(4))
    master, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [LLMOJID_CTL, "import", "claude-code"],
            env=home_daemon.env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=120,
            check=False,
        )
        os.close(terminal)
        drawn = os.read(master, 1 << 16).decode()
    finally:
        os.close(master)
    assert result.returncode == 0
    assert "\r[" in drawn and "100%" in drawn and f"{len(expected)} new" in drawn, "a bar redrawn in place"
    table = result.stdout.decode().splitlines()
    assert table[0].split() == ["harness", "files", "rows", "new", "present", "bad", "lines", "unreadable"]
    assert table[1].split() == ["claude-code", "1", str(len(expected)), str(len(expected)), "0", "0", "0"]
    piped = home_daemon.ctl("import", "--dry-run", "--json")
    assert b"\r" not in piped.stderr, "no bar when stderr is not a terminal"
    tally = json.loads(piped.stdout)["harnesses"]["claude-code"]
    assert (tally["rows_new"], tally["rows_present"]) == (0, len(expected))
    stats_text = home_daemon.ctl("stats", "--by", "harness").stdout.decode()
    assert f"journal: {len(expected)} rows" in stats_text and "claude-code" in stats_text
    assert home_daemon.ctl("import", "--since", "someday", check=False).returncode == 2
