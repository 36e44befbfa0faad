"""The real Codex CLI fires the Stop hook ``llmojid-ctl hooks install codex`` installs, and its reply lands.

Codex talks to a loopback stand-in of the OpenAI Responses API (a ``model_providers`` entry in the temporary
HOME's ``~/.codex/config.toml`` with ``wire_api = "responses"``) that answers every turn with one kaomoji-led
message, streamed as Server-Sent Events the way the API streams. The hook and the ``[features] hooks = true``
flag are written by our own installer, so the test covers what a user gets. Two turns (``codex exec``, then
``codex exec resume --last``, which appends to the same rollout) check that the rollout is read incrementally and
each message is journaled once; the rollout Codex wrote is then parsed again with the Codex adapter directly.

Codex runs a new hook only once the user has trusted it; ``--dangerously-bypass-hook-trust`` stands in for that.

Skipped, with the reason, when the CLI is not installed. To run it: ``scripts/setup`` (it runs
``npm install --prefix .cache/harnesses @openai/codex``), or set ``LLMOJID_TEST_CODEX`` to a ``codex`` binary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from llmojid.daemon.adapters import codex as codex_adapter
from tests.hook_support import journal_rows, spool_files
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL, DaemonProcess

REPLY_BODY = "Hello from the stand-in API, CANARY-REAL."
REPLY = f"(◕‿◕) {REPLY_BODY}"
MODEL = "stand-in-model"
API_KEY_ENV = "LLMOJID_STAND_IN_API_KEY"
HARNESS_DIR = Path(__file__).resolve().parent.parent / ".cache" / "harnesses" / "node_modules" / "@openai"
#: Variables of the outer environment that would point Codex somewhere other than the temporary HOME and stand-in.
LEAKY_ENV = ("CODEX_HOME", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "CODEX_INTERNAL_ORIGINATOR_OVERRIDE")


def _codex_binary() -> str | None:
    """``LLMOJID_TEST_CODEX``, else the native binary npm unpacked into .cache/harnesses, else ``codex`` on PATH.

    The npm package's ``bin/codex.js`` only execs the platform package's native binary, so that is run directly.
    """
    if os.environ.get("LLMOJID_TEST_CODEX"):
        return os.environ["LLMOJID_TEST_CODEX"]
    native = sorted(HARNESS_DIR.glob("codex*/vendor/*/bin/codex"))
    if native:
        return str(native[0])
    return shutil.which("codex")


class _StandInAPI(StandInHandler):
    """Answers POST .../responses with REPLY as an SSE stream, anything else with {} (and records the requests)."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.read_json()
        if not self.path.endswith("/responses"):
            self.send("application/json", b"{}")
            return
        self.requests.append(body)
        n = len(self.requests)
        item = {"type": "message", "role": "assistant", "id": f"msg_standin_{n}", "status": "in_progress"}
        done = item | {"status": "completed", "content": [{"type": "output_text", "text": REPLY, "annotations": []}]}
        usage = {
            "input_tokens": 10,
            "input_tokens_details": None,
            "output_tokens": 12,
            "output_tokens_details": None,
            "total_tokens": 22,
        }
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": {"id": f"resp_standin_{n}"}},
            {"type": "response.output_item.added", "output_index": 0, "item": item | {"content": []}},
            {"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0, "delta": REPLY},
            {"type": "response.output_item.done", "output_index": 0, "item": done},
            {"type": "response.completed", "response": {"id": f"resp_standin_{n}", "usage": usage}},
        ]
        self.send_sse(events)

    def do_GET(self) -> None:
        self.send("application/json", b'{"models": []}')


@pytest.fixture
def stand_in_api() -> Iterator[str]:
    _StandInAPI.requests.clear()
    with serve_stand_in(_StandInAPI) as url:
        yield url + "/v1"


def _config_toml(base_url: str) -> str:
    return (
        f'model = "{MODEL}"\n'
        'model_provider = "standin"\n'
        "\n"
        "[model_providers.standin]\n"
        'name = "llmojid test stand-in"\n'
        f'base_url = "{base_url}"\n'
        'wire_api = "responses"\n'
        f'env_key = "{API_KEY_ENV}"\n'
        "supports_websockets = false\n"
    )


def _sent_text(request: dict[str, Any]) -> str:
    """Every text part of a Responses API request's input, joined (to see which prompts reached the stand-in)."""
    parts = [c.get("text", "") for i in request.get("input", []) if isinstance(i, dict) for c in i.get("content", [])]
    return "\n".join(p for p in parts if isinstance(p, str))


def _rollout_shapes(lines: list[bytes]) -> set[str]:
    """Which of the adapter's two shapes a rollout uses: ``agent_message`` events (older Codex) or
    ``item_completed`` ``AgentMessage`` events (0.169.0)."""
    shapes: set[str] = set()
    for line in lines:
        event = json.loads(line)
        payload = event.get("payload") or {}
        if event.get("type") != "event_msg":
            continue
        if payload.get("type") == "agent_message":
            shapes.add("agent_message")
        elif payload.get("type") == "item_completed" and (payload.get("item") or {}).get("type") == "AgentMessage":
            shapes.add("item_completed")
    return shapes


@pytest.mark.slow
@pytest.mark.skipif(
    _codex_binary() is None,
    reason="Codex CLI not installed: run scripts/setup (npm install --prefix .cache/harnesses @openai/codex) or "
    "set LLMOJID_TEST_CODEX to a codex binary",
)
def test_codex_fires_our_stop_hook_and_the_row_lands(daemon: DaemonProcess, stand_in_api: str) -> None:
    codex = _codex_binary()
    assert codex is not None
    codex_home = daemon.home / ".codex"
    codex_home.mkdir()
    config = codex_home / "config.toml"
    config.write_text(_config_toml(stand_in_api))

    installed = daemon.ctl("hooks", "install", "codex")
    assert installed.returncode == 0, installed.stderr
    assert tomllib.loads(config.read_text()) == tomllib.loads(_config_toml(stand_in_api)) | {
        "features": {"hooks": True}
    }
    hooks = json.loads((codex_home / "hooks.json").read_text())
    assert [h["command"] for e in hooks["hooks"]["Stop"] for h in e["hooks"]] == [f"{LLMOJID_CTL} hook codex"]

    project = daemon.home / "project"
    project.mkdir()
    env = {k: v for k, v in daemon.env.items() if k not in LEAKY_ENV}
    env.update({API_KEY_ENV: "sk-stand-in", "LLMOJID_HOOK_TIMEOUT_MS": "10000", "NO_COLOR": "1"})
    # Without the trust bypass Codex 0.169.0 skips the untrusted hook silently (checked by hand).
    trust = ["--dangerously-bypass-hook-trust", "--skip-git-repo-check"]
    logs = ""
    for args in (["exec", *trust, "first prompt"], ["exec", "resume", "--last", *trust, "second prompt"]):
        result = subprocess.run(
            [codex, *args], env=env, cwd=project, stdin=subprocess.DEVNULL, capture_output=True, timeout=300
        )
        logs += result.stderr.decode(errors="replace")
        assert result.returncode == 0, logs[-2000:]
        assert REPLY in result.stdout.decode()

    # Codex reached the stand-in, with each prompt (the second request carries the whole thread).
    assert len(_StandInAPI.requests) == 2
    assert all(r.get("stream") is True and r.get("model") == MODEL for r in _StandInAPI.requests)
    assert "first prompt" in _sent_text(_StandInAPI.requests[0])
    assert "second prompt" in _sent_text(_StandInAPI.requests[1])

    rows = journal_rows(daemon, "codex")
    expected = [("(◕‿◕)", REPLY_BODY, "first prompt"), ("(◕‿◕)", REPLY_BODY, "second prompt")]
    assert [(r.kaomoji, r.assistant_text, r.user_text) for r in rows] == expected, f"{logs[-2000:]}\n{daemon.log()}"
    rollouts = sorted((codex_home / "sessions").rglob("rollout-*.jsonl"))
    assert len(rollouts) == 1, "resume --last appends to the first session's rollout"
    lines = rollouts[0].read_bytes().splitlines()
    assert {r.session for r in rows} == {json.loads(lines[0])["payload"]["id"]}
    assert all(r.model == MODEL and r.cwd == str(project) for r in rows)
    assert spool_files(daemon) == []

    # The rollout, parsed from scratch by the adapter, gives the rows the hook path journaled, one per turn.
    assert _rollout_shapes(lines), "the rollout holds neither assistant-message shape the adapter knows"
    parsed, state = codex_adapter.parse_transcript_lines(lines, codex_adapter.initial_state(rollouts[0].stem, {}))
    assert state.bad_lines == 0
    assert [(r.kaomoji, r.assistant_text, r.user_text, r.session, r.model, r.cwd) for r in parsed] == [
        (r.kaomoji, r.assistant_text, r.user_text, r.session, r.model, r.cwd) for r in rows
    ]
    assert len({r.message_id for r in parsed}) == 2
    # A backfill of the same rollout derives the same message ids as the hook path did: nothing new to add.
    tally = daemon.ctl_json("import", "codex", "--json")["harnesses"]["codex"]
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"]) == (1, 2, 0, 0)
    assert len(journal_rows(daemon, "codex")) == 2
