"""The real Gemini CLI fires the AfterAgent hook ``llmojid-ctl hooks install gemini`` installs; its replies land.

Gemini CLI talks to a loopback stand-in of the Gemini API (``GOOGLE_GEMINI_BASE_URL``, an API key from the
environment, ``security.auth.selectedType = "gemini-api-key"`` in the user's settings): each turn makes one
``:generateContent`` call (the model router's classifier, in JSON mode) and one ``:streamGenerateContent?alt=sse``
call, which the stand-in answers with one kaomoji-led reply in three chunks (so the payload's ``prompt_response``
is garbled, and the reply must come from the chat file). The hook is written by our own installer into a
``settings.json`` that already holds the user's own settings and hook, with the hard nudge (a ``BeforeAgent``
``printf`` whose context must reach the model). Three turns of one session (``-p``, then
``--resume latest`` twice, which rewrites the whole history into the same chat file each time) check that each
message is journaled once with its face, prompt, reply and model; that the user's settings survive (uninstall
gives the file back byte for byte); and that the hook adds nothing the CLI shows (its stdout would appear as a
"Hook system message").

Hooks run only in trusted folders; ``GEMINI_CLI_TRUST_WORKSPACE=true`` stands in for the user trusting one.

Skipped, with the reason, when the CLI is not installed. To run it: ``scripts/setup`` (it runs
``npm install --prefix .cache/harnesses @google/gemini-cli``), or set ``LLMOJID_TEST_GEMINI`` to a ``gemini``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from llmojid.client.installers import nudge
from llmojid.daemon.adapters import gemini as gemini_adapter
from tests.hook_support import journal_rows, spool_files, wait_spool_drained
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL, DaemonProcess, scan_for

REPLY_BODY = "Hello from the stand-in Gemini API, CANARY-GEMINI."
FACE = "(◕‿◕)"
#: The reply as streamed: three chunks (Gemini CLI garbles ``prompt_response`` for a multi-chunk reply).
CHUNKS = (f"{FACE} Hello from ", "the stand-in Gemini API, ", "CANARY-GEMINI.")
API_KEY = "AIza-LLMOJID-STAND-IN-KEY-CANARY"
PROMPTS = ("first prompt", "second prompt", "third prompt")
HARNESS_BIN = Path(__file__).resolve().parent.parent / ".cache" / "harnesses" / "node_modules" / ".bin" / "gemini"
#: Variables of the outer environment that would point Gemini CLI at another home, key, endpoint or sandbox.
LEAKY_PREFIXES = ("GEMINI_", "GOOGLE_", "VERTEX", "CLOUDSDK_", "SANDBOX")
#: Up to 10 minutes per turn: the first start of the CLI on a loaded machine is slow (it compiles 100 MB of JS).
TURN_TIMEOUT = 600
#: The user's own settings, formatted their way, with a hook of their own: kept byte for byte around our entry.
USER_SETTINGS = """{
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "ui": {
        "hideBanner": true
    },
    "hooks": {
        "BeforeAgent": [{"matcher": "*", "hooks": [{"type": "command", "command": "true", "name": "mine"}]}]
    },
    "general": {"checkpointing": {"enabled": false}}
}
"""


def _gemini_binary() -> str | None:
    """``LLMOJID_TEST_GEMINI``, else the CLI npm installed into .cache/harnesses, else ``gemini`` on PATH."""
    if os.environ.get("LLMOJID_TEST_GEMINI"):
        return os.environ["LLMOJID_TEST_GEMINI"]
    if HARNESS_BIN.exists() and shutil.which("node"):
        return str(HARNESS_BIN)
    return shutil.which("gemini")


class _StandInAPI(StandInHandler):
    """The Gemini API's two calls per turn; records (model, call, last user text) for each."""

    calls: ClassVar[list[tuple[str, str, str]]] = []
    bodies: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.read_json()
        found = re.search(r"/models/([^/:]+):(\w+)", self.path)
        model, call = found.groups() if found else ("", "")
        self.calls.append((model, call, _last_user_text(body)))
        self.bodies.append(json.dumps(body, ensure_ascii=False))
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
        if call == "generateContent":  # the router's classifier, in JSON mode: both of its schemas' fields
            verdict = {
                "complexity_reasoning": "simple",
                "complexity_score": 1,
                "reasoning": "x",
                "model_choice": "flash",
            }
            answer = {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": json.dumps(verdict)}]}, "finishReason": "STOP"}
                ],
                "usageMetadata": usage,
                "modelVersion": model,
            }
            self.send("application/json", json.dumps(answer).encode())
            return
        if call == "streamGenerateContent":
            stream = b""
            for i, chunk in enumerate(CHUNKS):
                event: dict[str, Any] = {
                    "candidates": [{"content": {"role": "model", "parts": [{"text": chunk}]}, "index": 0}],
                    "modelVersion": model,
                }
                if i == len(CHUNKS) - 1:
                    event["candidates"][0]["finishReason"] = "STOP"
                    event["usageMetadata"] = usage
                stream += b"data: " + json.dumps(event).encode() + b"\r\n\r\n"
            self.send("text/event-stream", stream)
            return
        self.send("application/json", b"{}")

    def do_GET(self) -> None:
        self.send("application/json", b"{}")


def _last_user_text(body: dict[str, Any]) -> str:
    contents = [c for c in body.get("contents", []) if isinstance(c, dict) and c.get("role") == "user"]
    parts = contents[-1].get("parts", []) if contents else []
    return "\n".join(p.get("text", "") for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


@pytest.fixture
def stand_in_api() -> Iterator[str]:
    _StandInAPI.calls.clear()
    _StandInAPI.bodies.clear()
    with serve_stand_in(_StandInAPI) as url:
        yield url


def _run_turn(gemini: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gemini, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TURN_TIMEOUT,
    )


@pytest.mark.slow
@pytest.mark.skipif(
    _gemini_binary() is None,
    reason="Gemini CLI not installed: run scripts/setup (npm install --prefix .cache/harnesses @google/gemini-cli) "
    "or set LLMOJID_TEST_GEMINI to a gemini executable (node must be on PATH)",
)
def test_gemini_cli_fires_our_after_agent_hook_and_three_turns_land_once(
    daemon: DaemonProcess, stand_in_api: str
) -> None:
    gemini = _gemini_binary()
    assert gemini is not None
    gemini_dir = daemon.home / ".gemini"
    gemini_dir.mkdir()
    settings = gemini_dir / "settings.json"
    settings.write_text(USER_SETTINGS)

    # With the hard nudge too: a BeforeAgent printf whose additionalContext Gemini CLI hands the model.
    installed = daemon.ctl("hooks", "install", "gemini", "--nudge", "hard")
    said = installed.stdout.decode()
    assert "trusted folders" in said, said  # the folder-trust note
    ours = f"{LLMOJID_CTL} hook gemini"
    after = json.loads(settings.read_text())
    mine = json.loads(USER_SETTINGS)
    nudge_hook = {"hooks": [{"type": "command", "command": nudge.hard_command("additional-context", nudge.SHORT)}]}
    assert after == mine | {
        "hooks": {
            "BeforeAgent": [*mine["hooks"]["BeforeAgent"], nudge_hook],
            "AfterAgent": [{"hooks": [{"type": "command", "command": ours}]}],
        }
    }
    status = {h["harness"]: h for h in daemon.ctl_json("hooks", "status", "--json")["harnesses"]}["gemini"]
    assert status["installed"] and status["current"]
    assert any("no folder is trusted yet" in step for step in status["to_do"]), status

    project = daemon.home / "project"
    project.mkdir()
    env = {k: v for k, v in daemon.env.items() if not k.startswith(LEAKY_PREFIXES)}
    env.update(
        GEMINI_API_KEY=API_KEY,
        GOOGLE_GEMINI_BASE_URL=stand_in_api,
        GEMINI_CLI_TRUST_WORKSPACE="true",
        LLMOJID_HOOK_TIMEOUT_MS="10000",
        NO_COLOR="1",
        TERM="dumb",
    )
    logs = ""
    for n, prompt in enumerate(PROMPTS):
        args = ["-p", prompt] if n == 0 else ["--resume", "latest", "-p", prompt]
        result = _run_turn(gemini, args, env, project)
        logs += result.stderr
        assert result.returncode == 0, logs[-3000:]
        # Exactly the reply: our hook printed nothing (its stdout would show as a "Hook system message").
        assert result.stdout == "".join(CHUNKS) + "\n", result.stdout
        assert "Hook system message" not in result.stderr

    # Each turn reached the stand-in: the classifier, then the streamed reply, with that turn's prompt (the first
    # one behind the <session_context> block).
    streams = [(model, text) for model, call, text in _StandInAPI.calls if call == "streamGenerateContent"]
    sent = [t.split("\n<hook_context>")[0] for _, t in streams]  # the nudge comes after the prompt
    assert len(sent) == 3 and all(t.endswith(p) for t, p in zip(sent, PROMPTS, strict=True)), streams
    assert sum(1 for _, call, _ in _StandInAPI.calls if call == "generateContent") >= 3
    streamed = [b for b, (_, call, _) in zip(_StandInAPI.bodies, _StandInAPI.calls, strict=True) if "stream" in call]
    assert all(nudge.SHORT in body for body in streamed), "the hard nudge reached the model on every turn"
    models = {model for model, _ in streams}
    assert len(models) == 1 and "" not in models
    (model,) = models

    # Under heavy load an ack can miss even the 10 s budget: the hook then spools, and the daemon drains it.
    wait_spool_drained(daemon)
    rows = journal_rows(daemon, "gemini")
    assert [(r.kaomoji, r.assistant_text, r.user_text, r.model) for r in rows] == [
        (FACE, REPLY_BODY, prompt, model) for prompt in PROMPTS
    ], f"{logs[-2000:]}\n{daemon.log()}"
    # --resume appends to the session's file, or (in a later minute) starts session-<minute>-<id8>.jsonl.
    chats = sorted((gemini_dir / "tmp").glob("*/chats/session-*.jsonl"))
    assert 1 <= len(chats) <= 3
    files = [[json.loads(line) for line in chat.read_bytes().splitlines()] for chat in chats]
    sessions = {line["sessionId"] for lines in files for line in lines if "sessionId" in line and "id" not in line}
    assert {r.session for r in rows} == sessions and len(sessions) == 1
    assert all(r.cwd == str(project) for r in rows)
    assert spool_files(daemon) == []

    # The chat files, parsed from scratch, give the rows the hook path journaled, one per reply record.
    parsed: list[Any] = []
    for chat in chats:
        more, state = gemini_adapter.parse_transcript_lines(
            chat.read_bytes().splitlines(), gemini_adapter.initial_state(chat.stem, {"cwd": str(project)})
        )
        assert state.bad_lines == 0
        parsed += more
    assert [(r.kaomoji, r.assistant_text, r.user_text, r.model, r.ts) for r in parsed] == [
        (r.kaomoji, r.assistant_text, r.user_text, r.model, r.ts) for r in rows
    ]
    replies = [line for lines in files for line in lines if line.get("type") == "gemini"]
    assert [r.message_id for r in parsed] == [record["id"] for record in replies]
    # The dedup was needed: the files hold the earlier replies again, inside --resume's history rewrites.
    rewritten = [
        m["id"]
        for lines in files
        for line in lines
        for m in (line.get("$set") or {}).get("messages", [])
        if m.get("type") == "gemini"
    ]
    assert rewritten.count(replies[0]["id"]) == 2 and rewritten.count(replies[1]["id"]) == 1
    # A backfill of the same files derives the same message ids as the hook path did: nothing new to add.
    tally = daemon.ctl_json("import", "gemini", "--json")["harnesses"]["gemini"]
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"]) == (len(chats), 3, 0, 0)
    assert len(journal_rows(daemon, "gemini")) == 3

    # The API key the hook inherited from Gemini CLI is nowhere in our files or logs.
    assert scan_for(daemon.state_dir, [API_KEY.encode()]) == []
    assert API_KEY not in daemon.log()

    # Uninstall gives the user's settings back byte for byte.
    daemon.ctl("hooks", "uninstall", "gemini")
    assert settings.read_text() == USER_SETTINGS
