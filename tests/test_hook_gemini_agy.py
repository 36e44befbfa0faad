"""Gemini CLI and Antigravity through the real hook scripts, the real daemon and the backfill (``import gemini``).

The chat files and step lists are built to the formats in spec section 6 (``tests/harness_transcripts.py``); the
real Gemini CLI writing them is ``tests/test_hook_gemini_real.py``. Shown here: each hook prints what its harness
expects (nothing; ``{}``) and exits 0; rows land once across ``--resume`` rewrites and across the new file a resume
in a later minute starts; Antigravity rows take each Stop payload's model; the backfill reads only
``tmp/<project>/chats/*.jsonl``, takes the cwd from ``.project_root`` and adds nothing the hooks already wrote; the
API key in the hook's environment reaches no file or log of ours.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from tests.harness_transcripts import AgySession, Expected, GeminiSession, jsonl
from tests.hook_support import journal_rows, run_hook, start
from tests.support import LLMOJID_CTL, DaemonProcess, scan_for

API_KEY = "AIza-HOOK-ENV-CANARY-0123456789"


@pytest.fixture
def home_daemon(workdir: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    daemon_env.pop("GEMINI_CLI_HOME", None)
    proc = start(DaemonProcess(workdir, daemon_env))
    yield proc
    assert proc.stop() == 0, proc.log()


def _key(row: p.JournalRow | Expected) -> tuple[str, str, str, str, str, str, str]:
    return (row.ts, row.model, row.session, row.kaomoji, row.assistant_text, row.user_text, row.cwd)


def _import(proc: DaemonProcess, **args: object) -> dict[str, int]:
    with Client(proc.socket_path, timeout=120) as client:
        reply = client.request(p.Request(name="journal.import", args={"harness": "gemini", **args}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    tally: dict[str, int] = reply.value["harnesses"]["gemini"]
    return tally


def _append(path: Path, lines: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        out.write(jsonl(lines))


def test_gemini_hook_turns_and_resumes_land_once_and_backfill_adds_nothing(home_daemon: DaemonProcess) -> None:
    home = home_daemon.home
    session = GeminiSession()
    project = home / ".gemini" / "tmp" / "geminiproject"
    (project / "chats").mkdir(parents=True)
    (project / ".project_root").write_text(session.cwd)
    first = project / "chats" / "session-2026-01-02T03-04-1e95d6d4.jsonl"
    later = project / "chats" / "session-2026-01-02T03-09-1e95d6d4.jsonl"
    hook_env = dict(home_daemon.env, GEMINI_API_KEY=API_KEY)
    expected: list[Expected] = []

    def turn(path: Path, n: int, before: list[dict[str, object]]) -> None:
        lines, rows = session.turn(n)
        _append(path, before + lines)
        expected.extend(rows)
        result = run_hook(hook_env, "gemini", session.after_agent_payload(str(path), prompt=f"gemini task {n}"))
        assert result.returncode == 0 and result.stdout == b"" and result.stderr == b"", result

    turn(first, 1, list(session.header()))
    turn(first, 2, session.resume())  # --resume in the same minute: appended to the same file
    turn(later, 3, session.resume())  # --resume in a later minute: a new file that opens with the rewrite
    rows = journal_rows(home_daemon, "gemini")
    assert sorted(map(_key, rows)) == sorted(map(_key, expected)), home_daemon.log()
    assert len(rows) == 6

    tally = _import(home_daemon)
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"]) == (2, 6, 0, 0)
    assert scan_for(home_daemon.state_dir, [API_KEY.encode()]) == []
    assert API_KEY not in home_daemon.log()


def test_gemini_backfill_reads_only_chat_files_and_takes_the_project_root(home_daemon: DaemonProcess) -> None:
    home = home_daemon.home
    session = GeminiSession(cwd="/home/someone/elsewhere")
    project = home / ".gemini" / "tmp" / "0123abcd"
    (project / "chats").mkdir(parents=True)
    (project / ".project_root").write_text(session.cwd + "\n")
    lines, expected = session.header(), []
    for n in range(1, 4):
        more, rows = session.turn(n)
        lines += more
        expected += rows
    _append(project / "chats" / "session-2026-01-02T03-04-1e95d6d4.jsonl", lines)
    # Not histories: a log next to the chats, a chat file outside a project, a checkpoint in a deeper folder.
    _append(project / "logs.jsonl", lines)
    _append(home / ".gemini" / "tmp" / "session-stray.jsonl", lines)
    _append(project / "chats" / "nested" / "session-x.jsonl", lines)

    dry = _import(home_daemon, dry_run=True)
    assert (dry["files"], dry["rows_found"], dry["rows_new"]) == (1, len(expected), len(expected))
    assert journal_rows(home_daemon) == []
    real = _import(home_daemon)
    assert real == dry
    assert sorted(map(_key, journal_rows(home_daemon, "gemini"))) == sorted(map(_key, expected))

    cli = subprocess.run(
        [LLMOJID_CTL, "import", "agy"], env=home_daemon.env, capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 2 and "import takes one harness" in cli.stderr and "agy" not in cli.stderr.split("(")[1]
    with pytest.raises(DaemonError) as refused:
        _import(home_daemon, harness="agy")
    assert refused.value.code == p.ErrorCode.INVALID_ARGUMENT


def test_agy_hook_prints_an_empty_object_and_rows_take_each_turns_model(home_daemon: DaemonProcess) -> None:
    session = AgySession()
    path = Path(session.transcript_path(str(home_daemon.home / ".gemini" / "antigravity-cli")))
    expected: list[Expected] = []
    for n, model in enumerate(["gemini-3-pro", "gemini-3-pro", "claude-sonnet-4-5"], start=1):
        steps, rows, prompt = session.turn(n, model)
        _append(path, steps)
        expected += rows
        result = run_hook(home_daemon.env, "agy", session.stop_payload(str(path), model, prompt))
        assert result.returncode == 0 and result.stdout == b"{}\n", result
    again = run_hook(home_daemon.env, "agy", session.stop_payload(str(path), "gemini-3-pro", "x"))
    assert again.stdout == b"{}\n"
    rows = journal_rows(home_daemon, "agy")
    assert sorted(map(_key, rows)) == sorted(map(_key, expected)), home_daemon.log()
    assert [r.model for r in rows] == ["gemini-3-pro"] * 4 + ["claude-sonnet-4-5"] * 2
    # A payload that is not a Stop, or names no transcript, adds nothing and still answers {}.
    other = run_hook(home_daemon.env, "agy", json.dumps({"hookEventName": "PreToolUse"}).encode())
    assert other.returncode == 0 and other.stdout == b"{}\n"
    assert len(journal_rows(home_daemon, "agy")) == 6
