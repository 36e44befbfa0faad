"""The hook: its frames are the protocol's, it imports the standard library only, it always exits 0 with its
harness's output, and through the real script, socket and daemon each harness's turns become exactly the
expected journal rows. Hostile transcripts and payloads never fail the hook or the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmojid.client import hook
from llmojid.client import protocol as p
from tests.harness_transcripts import ClaudeSession, CodexSession, Expected, HermesSession, jsonl
from tests.hook_support import (
    HOOK_PATH_MODULES,
    imported_modules,
    journal_rows,
    live_daemon,
    run_hook,
    spool_files,
    wait_spool_drained,
)
from tests.support import DaemonProcess, make_env

__all__ = ["live_daemon"]  # the fixture, used by name below


def _expected(rows: list[p.JournalRow]) -> list[Expected]:
    return [Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd) for r in rows]


# --- pure -------------------------------------------------------------------------------------------------------------
def test_hook_constants_match_the_protocol() -> None:
    assert hook.PROTOCOL_VERSION == p.PROTOCOL_VERSION
    assert hook.MAX_FRAME_BYTES == p.MAX_FRAME_BYTES


def test_hook_frames_are_protocol_messages() -> None:
    payload = b'{"any": "bytes", "\xff": 1}'
    decoder = p.FrameDecoder()
    decoder.feed(hook.hook_frames("codex", payload))
    bodies = [decoder.next_frame(), decoder.next_frame()]
    assert decoder.next_frame() is p.NEED_DATA
    hello, event = (p.decode_client_message(b) for b in bodies if isinstance(b, bytes))
    assert hello == p.Hello(id=1, version=p.PROTOCOL_VERSION, client="hook")
    assert event == p.HookEvent(id=2, harness="codex", payload=payload)


def test_the_hook_reads_only_the_standard_library(tmp_path: Path) -> None:
    """``python -X importtime`` of a hook call: nothing but the standard library and the hook's own modules."""
    env = make_env(tmp_path)
    code = (
        "import sys; sys.argv = ['llmojid-ctl', 'hook', 'claude-code']; from llmojid.client.entry import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], input=b"{}", env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0
    ours, foreign = imported_modules(result.stderr)
    assert ours <= HOOK_PATH_MODULES and foreign == set()
    assert "llmojid.client.protocol" not in ours and "llmojid.client.cli" not in ours


@pytest.mark.parametrize(("harness", "expected"), [("hermes", b"{}\n"), ("claude-code", b""), ("codex", b"")])
def test_without_a_daemon_the_hook_exits_0_with_its_harness_output(
    tmp_path: Path, harness: str, expected: bytes
) -> None:
    env = make_env(tmp_path)
    for payload in (b"{}", b"", b"\xff\x00 not json", b"[" * 10_000):
        result = run_hook(env, harness, payload, timeout_ms=200)
        assert result.returncode == 0
        assert result.stdout == expected
        assert payload[:8] not in result.stderr or not payload
    # The daemon never ran here: there is no key to seal to, so nothing was written (and it said so).
    assert b"not recorded" in result.stderr
    assert not (tmp_path / "home" / ".local" / "state" / "llmojid" / "spool").exists()


def test_the_hook_exits_0_when_stdin_is_closed(tmp_path: Path) -> None:
    env = dict(make_env(tmp_path), LLMOJID_HOOK_TIMEOUT_MS="100")
    result = subprocess.run(
        [sys.executable, "-c", "from llmojid.client.entry import main; main()", "hook", "hermes"],
        stdin=subprocess.DEVNULL,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, b"{}\n")


def test_the_hook_does_not_hang_on_a_stdin_that_stays_open(tmp_path: Path) -> None:
    env = dict(make_env(tmp_path), LLMOJID_HOOK_TIMEOUT_MS="100")
    child = subprocess.Popen(
        [sys.executable, "-c", "from llmojid.client.entry import main; main()", "hook", "hermes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(b'{"extra": {}}')
    child.stdin.flush()  # and never closed
    try:
        assert child.wait(timeout=60) == 0  # liveness only: it gives up on the silent stdin and exits
        assert child.stdout.read() == b"{}\n"
    finally:
        child.kill()
        child.stdin.close()


def test_timeout_setting_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(hook.TIMEOUT_ENV, raising=False)
    assert hook._timeout_ms() == hook.DEFAULT_TIMEOUT_MS
    config = tmp_path / "llmojid" / "config.toml"
    config.parent.mkdir()
    config.write_text("hook_timeout_ms = 1234\n")
    config.chmod(0o600)
    assert hook._timeout_ms() == 1234
    monkeypatch.setenv(hook.TIMEOUT_ENV, "77")
    assert hook._timeout_ms() == 77
    monkeypatch.setenv(hook.TIMEOUT_ENV, "nonsense")
    assert hook._timeout_ms() == 1234
    config.chmod(0o666)  # writable by others: ignored
    assert hook._timeout_ms() == hook.DEFAULT_TIMEOUT_MS


# --- through the real script, socket and daemon ----------------------------------------------------------------------
def test_claude_code_turns_become_exactly_the_expected_rows(live_daemon: DaemonProcess) -> None:
    session = ClaudeSession(canary="CANARY-CC")
    path = live_daemon.home / "projects" / f"{session.session}.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"")
    expected: list[Expected] = []
    for n in range(1, 9):
        events, rows = session.turn(n)
        expected += rows
        with path.open("ab") as f:
            f.write(jsonl(events))
        result = run_hook(live_daemon.env, "claude-code", session.stop_payload(str(path)))
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    # A second Stop for the same turn (stop_hook_active) and a SubagentStop add nothing.
    run_hook(live_daemon.env, "claude-code", session.stop_payload(str(path)))
    subagent = json.loads(session.stop_payload(str(path))) | {"hook_event_name": "SubagentStop"}
    run_hook(live_daemon.env, "claude-code", json.dumps(subagent).encode())
    assert _expected(journal_rows(live_daemon)) == expected
    assert len(expected) == 16
    assert spool_files(live_daemon) == []  # every event was acknowledged, none spooled


@pytest.mark.parametrize("new_shape", [False, True], ids=["codex-older", "codex-0.169"])
def test_codex_turns_become_exactly_the_expected_rows(live_daemon: DaemonProcess, new_shape: bool) -> None:
    session = CodexSession(new_shape=new_shape)
    path = live_daemon.home / "sessions" / "rollout-2026-01-02T03-04-05-x.jsonl"
    path.parent.mkdir()
    path.write_bytes(jsonl(session.header()))
    expected: list[Expected] = []
    for n in range(1, 7):
        lines, rows = session.turn(n)
        expected += rows
        with path.open("ab") as f:
            f.write(jsonl(lines))
        result = run_hook(live_daemon.env, "codex", session.stop_payload(str(path)))
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert _expected(journal_rows(live_daemon)) == expected
    assert len(expected) == 12
    assert spool_files(live_daemon) == []


def test_hermes_turns_become_exactly_the_expected_rows(live_daemon: DaemonProcess) -> None:
    session = HermesSession()
    expected: list[tuple[str, str, str]] = []
    for n in range(1, 7):
        payload, rows = session.turn(n)
        expected += rows
        result = run_hook(live_daemon.env, "hermes", payload)
        assert (result.returncode, result.stdout, result.stderr) == (0, b"{}\n", b"")
    run_hook(live_daemon.env, "hermes", payload)  # the same turn again: stored once
    got = journal_rows(live_daemon)
    assert [(r.kaomoji, r.assistant_text, r.user_text) for r in got] == expected
    assert {(r.harness, r.session, r.model, r.cwd) for r in got} == {
        ("hermes", session.session, session.model, session.cwd)
    }


def test_generic_messages_become_rows(live_daemon: DaemonProcess) -> None:
    message = {
        "model": "m1",
        "cwd": "/w",
        "user_text": "u",
        "assistant_text": "ʕ•ᴥ•ʔ bear",
        "ts": "2026-02-03T04:05:06Z",
    }
    result = run_hook(live_daemon.env, "generic", json.dumps(message).encode())
    assert (result.returncode, result.stdout) == (0, b"")
    run_hook(live_daemon.env, "generic", json.dumps(message).encode())
    run_hook(live_daemon.env, "generic", json.dumps(message | {"assistant_text": "no face"}).encode())
    assert [(r.kaomoji, r.assistant_text, r.ts, r.model, r.cwd) for r in journal_rows(live_daemon)] == [
        ("ʕ•ᴥ•ʔ", "bear", "2026-02-03T04:05:06Z", "m1", "/w")
    ]


def test_hostile_input_never_fails_the_hook_or_the_daemon(live_daemon: DaemonProcess) -> None:
    session = ClaudeSession()
    path = live_daemon.home / "hostile.jsonl"
    events, expected = session.turn(1)
    good = jsonl(events).splitlines(keepends=True)
    junk = [b"not json\n", b"\x00\xff\xfe binary\n", b'{"type": "assistant", "message": 5}\n', b"[" * 50_000 + b"\n"]
    path.write_bytes(b"".join(line + junk[i % len(junk)] for i, line in enumerate(good)) + b'{"type": "assist')
    fifo = live_daemon.home / "fifo.jsonl"
    os.mkfifo(fifo)
    payloads = [
        session.stop_payload(str(path)),
        b"\xff\xfe\x00 binary payload",
        b"not json",
        b'{"transcript_path": 5, "hook_event_name": "Stop"}',
        b'{"transcript_path": "relative/path.jsonl"}',
        json.dumps({"transcript_path": str(fifo)}).encode(),
        json.dumps({"transcript_path": "/dev/zero"}).encode(),
        json.dumps({"transcript_path": str(live_daemon.home)}).encode(),
        json.dumps({"transcript_path": "/no/such/file.jsonl"}).encode(),
    ]
    everyone = ("claude-code", "codex", "hermes", "generic", "no-such-harness")
    for i, payload in enumerate(payloads):
        # Undecodable payloads go to every adapter; payloads naming paths to the transcript readers.
        for harness in everyone if i < 3 else ("claude-code", "codex"):
            result = run_hook(live_daemon.env, harness, payload)
            assert result.returncode == 0
            assert result.stderr == b""
    assert live_daemon.proc is not None and live_daemon.proc.poll() is None
    assert _expected(journal_rows(live_daemon)) == expected
    assert spool_files(live_daemon) == []


def test_a_replaced_transcript_is_read_from_its_start(live_daemon: DaemonProcess) -> None:
    """Rotation/truncation through the daemon: the cursor starts over and the new file's rows all land."""
    path = live_daemon.home / "rotating.jsonl"
    first = ClaudeSession(session="11111111-0000-4000-8000-000000000001")
    events, expected = first.turn(1)
    path.write_bytes(jsonl(events))
    run_hook(live_daemon.env, "claude-code", first.stop_payload(str(path)))
    second = ClaudeSession(session="22222222-0000-4000-8000-000000000002")
    events, more = second.turn(2)
    replacement = path.with_name("next.jsonl")
    replacement.write_bytes(jsonl(events)[:100] + b"\n")  # a shorter file under the same name: truncated
    os.replace(replacement, path)
    run_hook(live_daemon.env, "claude-code", first.stop_payload(str(path)))
    path.write_bytes(jsonl(events))  # and rewritten in place with the full turn
    run_hook(live_daemon.env, "claude-code", first.stop_payload(str(path)))
    assert _expected(journal_rows(live_daemon)) == expected + more


def test_a_payload_too_large_for_a_frame_goes_through_the_spool(live_daemon: DaemonProcess) -> None:
    padding = "x" * (5 * 1024 * 1024)  # 5 MiB: over the protocol's 4 MiB frame (an unknown field, ignored)
    message = {"model": "m", "assistant_text": "(◕‿◕) big", "ts": "2026-04-05T06:07:08Z", "padding": padding}
    result = run_hook(live_daemon.env, "generic", json.dumps(message).encode())
    assert (result.returncode, result.stderr) == (0, b"")
    wait_spool_drained(live_daemon)  # the running daemon looks at its spool every few seconds
    assert [(r.kaomoji, r.assistant_text) for r in journal_rows(live_daemon)] == [("(◕‿◕)", "big")]
