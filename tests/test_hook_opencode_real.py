"""The real OpenCode CLI loads the plugin ``llmojid-ctl hooks install opencode`` writes, and its replies land.

OpenCode talks to a loopback stand-in of an OpenAI-compatible chat-completions API (a provider with
``@ai-sdk/openai-compatible`` and ``baseURL`` http://127.0.0.1:PORT/v1 in the temporary HOME's
``~/.config/opencode/opencode.json``, the user's own config) that answers each turn with its own kaomoji-led
message, streamed as the API streams. Three turns of one session (``opencode run``, ``--continue``, ``--session
ID``; the second turn has the model say something, call OpenCode's ``read`` tool, and answer again: two messages)
check that each finished message is handed over once, with its prompt and model, through the hand-off file the
plugin writes and the detached hook it starts; that the user's config, plugin and AGENTS.md survive
install and uninstall byte for byte; that OpenCode's output is exactly the reply (the plugin prints nothing);
and that ``import opencode`` (reading ``opencode.db`` read-only) finds the same four rows, adding none. A second
test stops the daemon before a turn: the detached hook, alone after OpenCode has exited, spools the message
sealed, and the daemon journals it when it is back.

On its first start OpenCode npm-installs ``@opencode-ai/plugin`` into its config folder; ``scripts/setup`` keeps
a copy in ``.cache/harnesses/opencode-config`` that seeds it (else OpenCode fetches it from the npm registry).

Skipped, with the reason, when the CLI is not installed. To run it: ``scripts/setup`` (it runs
``npm install --prefix .cache/harnesses opencode-ai``), or set ``LLMOJID_TEST_OPENCODE`` to an ``opencode`` binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.hook_support import journal_rows, spool_files, wait_spool_drained
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import DaemonProcess

MODEL = "stand-in-model"
PROMPTS = ("first prompt", "second prompt", "third prompt")
#: The face-led messages each prompt gets. The second turn's first message comes with a call to OpenCode's read
#: tool (a step that ends in ``tool-calls`` and still carries text); the second answers the tool's result.
REPLIES = {
    "first prompt": [("(◕‿◕)", "First answer from the stand-in, CANARY-OPENCODE.")],
    "second prompt": [("(＾▽＾)", "Let me read the notes first."), ("(・_・;)", "The notes say hello.")],
    "third prompt": [("(╯°□°)╯", "Third answer from the stand-in.")],
}
NOTES = "notes.txt"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "harnesses"
PLUGIN_SEED = CACHE / "opencode-config"
#: The user's own files in OpenCode's config folder: they must come out of install and uninstall byte for byte.
USER_PLUGIN = "// the user's own plugin\nexport const Mine = async () => ({});\n"
USER_AGENTS = "# My rules\n\nBe brief.\n"
ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
#: Variables of the outer environment that would point OpenCode somewhere other than the temporary HOME and stand-in.
LEAKY_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENCODE_CONFIG", "OPENCODE_CONFIG_DIR")
#: Generous: the machine is shared and slow, and each ``opencode run`` starts a 180 MB binary.
RUN_TIMEOUT_SECONDS = 300
ROWS_TIMEOUT_SECONDS = 60


def _opencode_binary() -> str | None:
    """``LLMOJID_TEST_OPENCODE``, else the native binary npm unpacked into .cache/harnesses, else ``opencode``."""
    if os.environ.get("LLMOJID_TEST_OPENCODE"):
        return os.environ["LLMOJID_TEST_OPENCODE"]
    native = CACHE / "node_modules" / "opencode-linux-x64" / "bin" / "opencode"
    return str(native) if native.exists() else shutil.which("opencode")


def _opencode_json(base_url: str) -> str:
    """The user's config, written as a person would (a comment-free JSON with their own layout)."""
    return (
        "{\n"
        '  "$schema": "https://opencode.ai/config.json",\n'
        '  "provider": {\n'
        '    "standin": {\n'
        '      "npm": "@ai-sdk/openai-compatible",\n'
        '      "name": "llmojid test stand-in",\n'
        f'      "options": {{ "baseURL": "{base_url}", "apiKey": "sk-stand-in" }},\n'
        f'      "models": {{ "{MODEL}": {{ "name": "Stand-in" }} }}\n'
        "    }\n"
        "  },\n"
        f'  "model": "standin/{MODEL}",\n'
        f'  "small_model": "standin/{MODEL}",\n'
        '  "autoupdate": false,\n'
        '  "share": "disabled"\n'
        "}\n"
    )


class _StandInAPI(StandInHandler):
    """Answers POST .../chat/completions with the reply for the latest prompt it carries (streamed when asked)."""

    requests: ClassVar[list[dict[str, Any]]] = []
    notes: ClassVar[str] = ""

    def do_POST(self) -> None:
        body = self.read_json()
        if not self.path.endswith("/chat/completions"):
            self.send("application/json", b"{}")
            return
        self.requests.append(body)
        replies = REPLIES[_latest_prompt(body)]
        messages = body.get("messages") or [{}]
        answered_tool = isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
        face, text = replies[-1] if answered_tool else replies[0]
        model = str(body.get("model") or MODEL)
        if len(replies) > 1 and not answered_tool and body.get("tools"):
            self.send_chat_completion_stream(f"{face} {text}", model, tool_call=("read", {"filePath": self.notes}))
        elif body.get("stream"):
            self.send_chat_completion_stream(f"{face} {text}", model)
        else:
            self.send_chat_completion(f"{face} {text}")

    def do_GET(self) -> None:
        self.send("application/json", b'{"object": "list", "data": []}')


def _latest_prompt(body: dict[str, Any]) -> str:
    """Which of PROMPTS the request's newest user message carries (a title request carries the first)."""
    said = ""
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"text": content}]
            said = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    return next((p for p in reversed(PROMPTS) if p in said), PROMPTS[0])


@pytest.fixture
def stand_in_api() -> Iterator[str]:
    _StandInAPI.requests.clear()
    with serve_stand_in(_StandInAPI) as url:
        yield url + "/v1"


def _wait_rows(daemon: DaemonProcess, count: int) -> list[Any]:
    """The hook runs detached after OpenCode exits: its row lands a moment after ``opencode run`` returns."""
    deadline = time.monotonic() + ROWS_TIMEOUT_SECONDS
    while len(rows := journal_rows(daemon, "opencode")) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return rows


SKIP_REASON = (
    "OpenCode CLI not installed: run scripts/setup (npm install --prefix .cache/harnesses opencode-ai) or "
    "set LLMOJID_TEST_OPENCODE to an opencode binary"
)


class _OpenCode:
    """OpenCode set up in the daemon's temporary HOME as a user would have it, with our plugin installed."""

    def __init__(self, daemon: DaemonProcess, stand_in_api: str) -> None:
        binary = _opencode_binary()
        assert binary is not None
        self.binary = binary
        self.config_dir = daemon.home / ".config" / "opencode"
        (self.config_dir / "plugins").mkdir(parents=True)
        self.user_files = {
            self.config_dir / "opencode.json": _opencode_json(stand_in_api).encode(),
            self.config_dir / "plugins" / "mine.js": USER_PLUGIN.encode(),
            self.config_dir / "AGENTS.md": USER_AGENTS.encode(),
        }
        for path, data in self.user_files.items():
            path.write_bytes(data)
        if (PLUGIN_SEED / "node_modules" / "@opencode-ai" / "plugin").exists():
            shutil.copy(PLUGIN_SEED / "package.json", self.config_dir / "package.json")
            shutil.copytree(PLUGIN_SEED / "node_modules", self.config_dir / "node_modules", symlinks=True)
        installed = daemon.ctl("hooks", "install", "opencode")
        assert b"OpenCode: install done" in installed.stdout
        self.plugin = self.config_dir / "plugins" / "llmojid.js"
        self.project = daemon.home / "project"
        self.project.mkdir()
        (self.project / NOTES).write_text("hello\n")
        _StandInAPI.notes = str(self.project / NOTES)
        self.env = {k: v for k, v in daemon.env.items() if k not in LEAKY_ENV}
        self.env.update(
            PWD=str(self.project),
            OPENCODE_DISABLE_AUTOUPDATE="1",
            OPENCODE_DISABLE_MODELS_FETCH="1",
            LLMOJID_HOOK_TIMEOUT_MS="10000",
            NO_COLOR="1",
        )

    def user_files_now(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in self.user_files}

    def run(self, *args: str) -> tuple[str, str]:
        """``opencode run ARGS`` in the project: (what it shows on stdout, ANSI codes removed; its stderr)."""
        result = subprocess.run(
            [self.binary, "run", *args],
            env=self.env,
            cwd=self.project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
        logs = result.stderr.decode(errors="replace")
        assert result.returncode == 0, logs[-2000:]
        return ANSI.sub(b"", result.stdout).decode().strip(), logs


@pytest.mark.slow
@pytest.mark.skipif(_opencode_binary() is None, reason=SKIP_REASON)
def test_opencode_runs_our_plugin_and_each_reply_lands_once(daemon: DaemonProcess, stand_in_api: str) -> None:
    oc = _OpenCode(daemon, stand_in_api)
    user_files, plugin, project = oc.user_files, oc.plugin, oc.project
    assert plugin.stat().st_mode & 0o777 == 0o600
    assert oc.user_files_now() == user_files
    status = daemon.ctl_json("hooks", "status", "--json")
    entry = next(h for h in status["harnesses"] if h["harness"] == "opencode")
    assert (entry["installed"], entry["current"]) == (True, True)

    session = ""
    for n, prompt in enumerate(PROMPTS):
        resume = [[], ["--continue"], ["--session", session]][n]
        shown, logs = oc.run(*resume, *prompt.split())
        # What the CLI shows is the replies and nothing of ours.
        assert shown == "\n".join(f"{face} {text}" for face, text in REPLIES[prompt])
        assert "llmojid" not in logs.lower() and "error" not in logs.lower(), logs[-2000:]
        count = sum(len(REPLIES[p]) for p in PROMPTS[: n + 1])
        rows = _wait_rows(daemon, count)
        assert len(rows) == count, f"turn {n + 1}: {len(rows)} rows\n{logs[-2000:]}\n{daemon.log()}"
        session = rows[0].session

    rows = journal_rows(daemon, "opencode")
    assert [(r.kaomoji, r.assistant_text, r.user_text, r.model) for r in rows] == [
        (face, text, p, MODEL) for p in PROMPTS for face, text in REPLIES[p]
    ]
    assert session.startswith("ses_") and {r.session for r in rows} == {session}
    assert all(r.cwd == str(project) for r in rows)
    # Each prompt reached the stand-in.
    sent = [_latest_prompt(r) for r in _StandInAPI.requests if r.get("stream")]
    assert set(PROMPTS) <= set(sent)
    # Nothing left behind: the hook removed every hand-off file, and nothing was spooled.
    handoffs = daemon.root / "run" / "llmojid" / "opencode"
    assert handoffs.is_dir() and handoffs.stat().st_mode & 0o777 == 0o700
    assert list(handoffs.iterdir()) == []
    assert spool_files(daemon) == []
    assert oc.user_files_now() == user_files

    # stats knows the harness: its rows, the hook's health (one event per finished message with text), no stale hook.
    stats = daemon.ctl_json("stats", "--json")
    assert {h["harness"]: h["count"] for h in stats["harnesses"]} == {"opencode": 4}
    health = next(h for h in stats["hooks"] if h["harness"] == "opencode")
    assert (health["events"], health["rows_added"], health["bad_payloads"], health["spooled"]) == (4, 4, 0, 0)
    assert stats["stale_hooks"] == []

    # The backfill reads opencode.db (read-only) and derives the same three messages: nothing new to add.
    tally = daemon.ctl_json("import", "opencode", "--json")["harnesses"]["opencode"]
    assert (tally["files"], tally["rows_found"], tally["rows_new"], tally["bad_lines"], tally["unreadable"]) == (
        1,
        4,
        0,
        0,
        0,
    )
    assert len(journal_rows(daemon, "opencode")) == 4

    removed = daemon.ctl("hooks", "uninstall", "opencode")
    assert b"OpenCode: uninstall done" in removed.stdout
    assert not plugin.exists()
    assert oc.user_files_now() == user_files


@pytest.mark.slow
@pytest.mark.skipif(_opencode_binary() is None, reason=SKIP_REASON)
def test_with_the_daemon_away_the_detached_hook_spools_and_the_reply_lands_later(
    daemon: DaemonProcess, stand_in_api: str
) -> None:
    """OpenCode exits right after the turn; the hook it started goes on alone, finds no daemon, seals the message
    into the spool and removes the hand-off; the daemon journals it when it is back."""
    oc = _OpenCode(daemon, stand_in_api)
    assert daemon.stop() == 0  # it ran once: the spool key hooks seal to is published
    shown, logs = oc.run("first", "prompt")
    assert shown == "{} {}".format(*REPLIES["first prompt"][0])
    handoffs = daemon.root / "run" / "llmojid" / "opencode"
    deadline = time.monotonic() + ROWS_TIMEOUT_SECONDS
    while (not spool_files(daemon) or list(handoffs.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    spooled = spool_files(daemon)
    assert len(spooled) == 1 and list(handoffs.iterdir()) == [], logs[-2000:]
    assert b"CANARY-OPENCODE" not in spooled[0].read_bytes()
    daemon.start()
    wait_spool_drained(daemon)
    rows = journal_rows(daemon, "opencode")
    assert [(r.kaomoji, r.assistant_text, r.user_text, r.model) for r in rows] == [
        (*REPLIES["first prompt"][0], "first prompt", MODEL)
    ]
