"""The canary test across the whole pipeline.

Unique strings are planted in a user prompt, an assistant message and a working directory (a Claude Code transcript
read through the real hook, once answered live and once spooled while the daemon is down) and in typed input (a
real pty through ``llmojid-ctl wrap``). Then the journal is synthesized (``analyze`` against a local
OpenAI-compatible stand-in on a Unix socket: the model is not what is tested here, and the embedded one takes
minutes on a busy machine), a bundle is built and exported as a tarball, and the auditor runs.

The owner reads the canaries back with ``journal tail``; nowhere else holds them: not the database file, its WAL,
the spool, the daemon's log, any cache, config or data file, the bundle, the tarball, nor any process's arguments.
The transcript itself is the harness's file and lives outside the scanned tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import termios
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hook_support import run_hook, spool_files, start, wait_spool_drained
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL, DaemonProcess, remove_tree, scan_for, short_tempdir
from tests.test_audit_helpers import audit, failures

BAG = {"primary_affect": ["cheery"], "stance_modality_function": ["helpful", "eager", "focused"]}
MODEL = "claude-canary-test"


class _Handler(StandInHandler):
    """A local OpenAI-compatible chat endpoint that always answers with one valid lexicon bag."""

    def do_POST(self) -> None:
        self.read_body()
        self.send_chat_completion(json.dumps(BAG))


@pytest.fixture
def stand_in_model() -> Iterator[str]:
    folder = short_tempdir("lj-model-")
    with serve_stand_in(_Handler, folder / "chat.sock") as address:
        yield address
    remove_tree(folder)


@pytest.fixture
def outside() -> Iterator[Path]:
    """Where the harness keeps its transcripts: not llmojid's, so outside the scanned tree."""
    folder = short_tempdir("lj-harness-")
    yield folder
    remove_tree(folder)


def _turn(session: str, cwd: str, prompt: str, reply: str, seq: int) -> bytes:
    def event(kind: str, message: dict[str, Any], n: int) -> dict[str, Any]:
        return {
            "type": kind,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{session}/{n}")),
            "parentUuid": None,
            "isSidechain": False,
            "timestamp": f"2026-11-20T10:00:{n:02d}.000Z",
            "sessionId": session,
            "cwd": cwd,
            "version": "2.1.330",
            "message": message,
        }

    events = [
        event("user", {"role": "user", "content": prompt}, seq),
        event(
            "assistant",
            {"role": "assistant", "model": MODEL, "content": [{"type": "text", "text": f"(◕‿◕) {reply}"}]},
            seq + 1,
        ),
    ]
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in events)


def _type_through_wrap(daemon: DaemonProcess, text: bytes) -> None:
    master, slave = os.openpty()
    screen = bytearray()

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 4096):
                screen.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    proc = subprocess.Popen(
        [LLMOJID_CTL, "wrap", "--", "cat"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=daemon.env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while termios.tcgetattr(slave)[3] & termios.ICANON:  # wait for raw mode: from then on each key counts
            assert time.monotonic() < deadline, "wrap never put the terminal in raw mode"
            time.sleep(0.02)
        for i in range(len(text)):
            os.write(master, text[i : i + 1])
            time.sleep(0.03)
        time.sleep(0.2)
        os.write(master, b"\x04")
        assert proc.wait(30) == 0
    finally:
        for fd in (slave, master):
            with contextlib.suppress(OSError):
                os.close(fd)


def _typing_rows(daemon: DaemonProcess) -> int:
    conn = sqlite3.connect(daemon.state_dir / "llmojid.db", timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return conn.execute("SELECT count(*) FROM typing_window").fetchone()[0] if "typing_window" in tables else -1
    finally:
        conn.close()


def _process_arguments() -> bytes:
    out = bytearray()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                out += Path(f"/proc/{pid}/cmdline").read_bytes() + b"\n"
    return bytes(out)


@pytest.mark.slow
def test_canaries_reach_the_owner_and_nothing_else(daemon: DaemonProcess, stand_in_model: str, outside: Path) -> None:
    tag = secrets.token_hex(5)
    user, assistant, cwd_word, typed = (f"CANARY{kind}{tag}" for kind in ("USER", "ASSIST", "CWD", "TYPED"))
    cwd = f"/home/someone/projects/{cwd_word}"
    session = str(uuid.uuid4())
    transcript = outside / f"{session}.jsonl"
    payload = json.dumps(
        {
            "session_id": session,
            "transcript_path": str(transcript),
            "cwd": cwd,
            "hook_event_name": "Stop",
            "stop_hook_active": False,
        }
    ).encode()

    # 1. A turn answered live by the daemon.
    transcript.write_bytes(_turn(session, cwd, f"please {user} now", f"done with {assistant}.", 1))
    assert run_hook(daemon.env, "claude-code", payload).returncode == 0
    # 2. A turn while the daemon is down: sealed into the spool, drained at the next start.
    assert daemon.stop() == 0
    with transcript.open("ab") as f:
        f.write(_turn(session, cwd, f"and {user} again", f"also {assistant} again.", 3))
    assert run_hook(daemon.env, "claude-code", payload, timeout_ms=200).returncode == 0
    assert len(spool_files(daemon)) == 1
    assert scan_for(daemon.root, [c.encode() for c in (user, assistant, cwd_word)]) == []  # the spool is sealed
    start(daemon)
    wait_spool_drained(daemon)
    # 3. Typed input through the pty wrapper (only timing and key classes reach the daemon).
    _type_through_wrap(daemon, f"please refactor {typed} now\r".encode())
    deadline = time.monotonic() + 30
    while _typing_rows(daemon) < 1:
        assert time.monotonic() < deadline, "the typed keys never reached the daemon"
        time.sleep(0.1)
    # 4. Synthesis, the bundle, a tarball.
    analyzed = daemon.ctl_json_lines(
        "analyze", "--json", "--backend-url", stand_in_model, "--backend-model", "stand-in"
    )
    assert analyzed[-1]["event"] == "done" and analyzed[-1]["synthesized"] >= 1, analyzed[-1]
    daemon.ctl("bundle", "build", "--notes", "canary run")
    tarball = daemon.root / "bundle.tar.gz"
    daemon.ctl("bundle", "export", "--tar", str(tarball))
    assert tarball.stat().st_size > 0

    # The owner reads every canary back ...
    tail = daemon.ctl_json_lines("journal", "tail", "--json", "-n", "10")
    assert len(tail) == 2
    assert all(user in r["user_text"] and assistant in r["assistant_text"] and r["cwd"] == cwd for r in tail)
    # ... and nothing else holds any of them, in any encoding.
    needles = [c.encode(enc) for c in (user, assistant, cwd_word, typed) for enc in ("utf-8", "utf-16-le")]
    assert not [n for n in needles if n in _process_arguments()]
    code, report, _ = audit(daemon, "--log", str(daemon.log_path))
    assert code == 0, failures(report)
    owned = [daemon.state_dir, Path(daemon.env["XDG_DATA_HOME"]) / "llmojid" / "bundle", daemon.log_path, tarball]
    assert all(p.exists() for p in owned)
    assert (daemon.state_dir / "llmojid.db-wal").exists()
    assert scan_for(daemon.root, needles) == []
    assert daemon.stop() == 0
    assert scan_for(daemon.root, needles) == []  # after the final checkpoint too
