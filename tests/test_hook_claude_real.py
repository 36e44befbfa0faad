"""The real Claude Code CLI fires our installed Stop hook, and its kaomoji-led answer lands in the journal.

Claude Code talks to a loopback stand-in of the Anthropic Messages API (``ANTHROPIC_BASE_URL``) that answers every
request with one kaomoji-led message, streamed the way the API streams. The hook is registered in the temporary
HOME's ``~/.claude/settings.json`` exactly as an installer writes it. Two turns (the second continues the
session) check that the transcript is read incrementally and each message is journaled once.

Skipped, with the reason, when the CLI is not installed. To run it:
``npm install @anthropic-ai/claude-code`` (then ``node install.cjs`` in its package folder) and put ``claude`` on
PATH or set ``LLMOJID_TEST_CLAUDE`` to the binary (``node_modules/@anthropic-ai/claude-code/bin/claude.exe``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

from tests.hook_support import HOOKS, journal_rows, live_daemon, spool_files
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL, DaemonProcess

__all__ = ["live_daemon"]

REPLY_BODY = "Hello from the stand-in API, CANARY-REAL."
REPLY = f"(◕‿◕) {REPLY_BODY}"


def _claude_binary() -> str | None:
    return os.environ.get("LLMOJID_TEST_CLAUDE") or shutil.which("claude")


class _StandInAPI(StandInHandler):
    """Answers POST /v1/messages (streamed or not) with REPLY, count_tokens with a count, anything else with {}."""

    models: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.read_json()
        if "count_tokens" in self.path:
            self.send("application/json", json.dumps({"input_tokens": 10}).encode())
            return
        model = str(body.get("model") or "stand-in")
        self.models.append(model)
        message = {
            "id": "msg_standin",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }
        if not body.get("stream"):
            done = message | {"content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn"}
            self.send("application/json", json.dumps(done).encode())
            return
        events = [
            {"type": "message_start", "message": message},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": REPLY}},
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 12},
            },
            {"type": "message_stop"},
        ]
        self.send_sse(events)

    def do_GET(self) -> None:
        self.send("application/json", b"{}")


@pytest.fixture
def stand_in_api() -> Iterator[str]:
    with serve_stand_in(_StandInAPI) as url:
        yield url


@pytest.mark.slow
@pytest.mark.skipif(
    _claude_binary() is None,
    reason="Claude Code CLI not installed: npm install @anthropic-ai/claude-code (then node install.cjs in its "
    "package folder) and put claude on PATH or set LLMOJID_TEST_CLAUDE",
)
def test_claude_code_fires_our_stop_hook_and_the_row_lands(live_daemon: DaemonProcess, stand_in_api: str) -> None:
    claude = _claude_binary()
    assert claude is not None
    settings = live_daemon.home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    command = f"/bin/sh {HOOKS / 'claude-code'}"
    settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": command}]}]}}))
    project = live_daemon.home / "project"
    project.mkdir()
    env = dict(
        live_daemon.env,
        LLMOJID_CTL=LLMOJID_CTL,
        LLMOJID_HOOK_TIMEOUT_MS="10000",
        ANTHROPIC_BASE_URL=stand_in_api,
        ANTHROPIC_API_KEY="sk-ant-stand-in",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    for args in (["-p", "first prompt"], ["-c", "-p", "second prompt"]):
        result = subprocess.run([claude, *args], env=env, cwd=project, capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
        assert REPLY in result.stdout.decode()
    # Claude Code may fire Stop before it has flushed the message to the transcript; the daemon then looks
    # again (its payload's last_assistant_message announces a face), so the row can land a moment later.
    deadline = time.monotonic() + 20
    while len(rows := journal_rows(live_daemon, "claude-code")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(r.kaomoji, r.assistant_text, r.user_text) for r in rows] == [
        ("(◕‿◕)", REPLY_BODY, "first prompt"),
        ("(◕‿◕)", REPLY_BODY, "second prompt"),
    ]
    transcripts = list((live_daemon.home / ".claude" / "projects").rglob("*.jsonl"))
    assert {r.session for r in rows} <= {t.stem for t in transcripts}
    assert {r.model for r in rows} <= set(_StandInAPI.models)
    assert all(r.cwd == str(project) for r in rows)
    assert spool_files(live_daemon) == []
