"""Keystroke timing end to end: ``llmojid-ctl wrap`` around real programs on a real pty, a real daemon that
stores sealed windows, enrols a baseline, scores, links journal turns, and forgets on ``typing reset``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from tests.support import LLMOJID_CTL, DaemonProcess, scan_for

C, S, B, E = (int(k) for k in (p.KeyClass.CHAR, p.KeyClass.SPACE, p.KeyClass.BACKSPACE, p.KeyClass.ENTER))
#: Gap between typed keys. The wrapper must record flights of at least this (it reads each key on arrival).
KEY_GAP_SECONDS = 0.03
WAIT_SECONDS = 60.0


@dataclass
class Terminal:
    """A pty whose slave side is the wrapper's terminal; a thread keeps reading what the screen shows."""

    master: int
    slave: int
    screen: bytearray = field(default_factory=bytearray)
    _thread: threading.Thread | None = None

    @classmethod
    def open(cls, rows: int = 40, cols: int = 120) -> Terminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        term = cls(master, slave)
        term._thread = threading.Thread(target=term._read, daemon=True)
        term._thread.start()
        return term

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def type(self, text: bytes, gap: float = KEY_GAP_SECONDS) -> None:
        for i in range(len(text)):
            os.write(self.master, text[i : i + 1])
            time.sleep(gap)

    def wait_raw(self, timeout: float = 30.0) -> None:
        """Wait until the wrapper has put the terminal in raw mode: from then on it reads every key on arrival."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.slave)[3] & termios.ICANON:
            assert time.monotonic() < deadline, "the wrapper never put the terminal in raw mode"
            time.sleep(0.02)

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args, stdin=self.slave, stdout=self.slave, stderr=self.slave, env=env, start_new_session=True
        )

    def close(self) -> None:
        for fd in (self.slave, self.master):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal.open()
    yield term
    term.close()


def typing_status(daemon: DaemonProcess) -> dict[str, Any]:
    return daemon.ctl_json("typing", "--json", "-n", "50")  # type: ignore[no-any-return]


def wait_for(daemon: DaemonProcess, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status = typing_status(daemon)
        if done(status):
            return status
        assert time.monotonic() < deadline, f"typing state did not settle: {status}"
        time.sleep(0.2)


def settled(count: int) -> Any:
    return lambda s: s["windows_seen"] >= count and s["windows_by_status"]["pending"] == 0


# --- capture through the pty wrapper ---------------------------------------------------------------
def test_wrap_records_key_classes_and_timing_and_never_the_text(daemon: DaemonProcess, terminal: Terminal) -> None:
    canary = f"zqx{secrets.token_hex(5)}"
    lines = [
        f"please refactor {canary} now".encode(),  # 4 words
        f"the {canary} parser ought to fail".encode(),
        b"add tests for the wrapperx\x7f please",  # a typo corrected with backspace
    ]
    proc = terminal.run([LLMOJID_CTL, "wrap", "--", "cat"], daemon.env)
    terminal.wait_raw()
    for line in lines:
        terminal.type(line + b"\r")
        time.sleep(0.2)
    terminal.type(b"\x04")  # ^D: cat sees end of input and exits
    assert proc.wait(30) == 0

    status = wait_for(daemon, settled(3))
    windows = sorted(status["recent"], key=lambda w: w["id"])
    assert len(windows) == 3
    for line, window in zip(lines, windows, strict=True):
        text = line.replace(b"x\x7f", b"")
        assert window["source"] == "wrap"
        assert window["n_events"] == len(line) + 1
        assert window["classes"]["enter"] == 1
        assert window["classes"]["space"] == text.count(b" ")
        assert window["classes"]["backspace"] == line.count(b"\x7f")
        assert window["classes"]["char"] == len(line) - line.count(b" ") - line.count(b"\x7f")
        assert window["classes"]["paste"] == 0 and window["classes"]["nav"] == 0
        assert window["release_known_fraction"] == 0.0  # a terminal has no key releases
        # the keys were typed KEY_GAP_SECONDS apart and the wrapper timestamps each on arrival
        assert KEY_GAP_SECONDS * 1000 * 0.9 <= window["median_flight_ms"] < 1000
        assert window["status"] == "enrolled"
    assert status["enrollment"] == {**status["enrollment"], "state": "enrolling", "windows": 3}
    assert status["encoder"]["loaded"] and not status["encoder"]["error"]

    # the screen got every byte (cat echoed them) ...
    assert canary.encode() in bytes(terminal.screen)
    # ... but no typed text exists anywhere under the daemon's home, state dir, runtime dir or log
    needles = [canary.encode(), canary.encode("utf-16-le"), b"refactor", b"parser ought"]
    assert scan_for(daemon.root, needles) == []


def test_wrap_passes_window_size_and_exit_status_through(daemon: DaemonProcess, terminal: Terminal) -> None:
    proc = terminal.run([LLMOJID_CTL, "wrap", "--", "sh", "-c", "stty size; [ -t 0 ] && exit 7"], daemon.env)
    assert proc.wait(30) == 7
    time.sleep(0.2)
    assert b"40 120" in bytes(terminal.screen)
    killed = terminal.run([LLMOJID_CTL, "wrap", "--", "sh", "-c", "kill -TERM $$"], daemon.env)
    assert killed.wait(30) == 128 + 15
    missing = terminal.run([LLMOJID_CTL, "wrap", "--", "/nonexistent/program"], daemon.env)
    assert missing.wait(30) == 127


def test_wrap_keeps_working_when_the_daemon_is_away(daemon_env: dict[str, str], terminal: Terminal) -> None:
    proc = terminal.run([LLMOJID_CTL, "wrap", "--", "cat"], daemon_env)
    terminal.wait_raw()
    terminal.type(b"still typing\r")
    terminal.type(b"\x04")
    assert proc.wait(30) == 0
    time.sleep(0.2)
    screen = bytes(terminal.screen)
    assert screen.count(b"still typing") >= 2  # echoed by the pty and written back by cat
    assert b"key timings were not recorded (the daemon was not reachable)" in screen


# --- the typing component, fed directly --------------------------------------------------------------
def window(seed: int, flight: float, n: int = 40, *, start: float = 0.0) -> list[p.KeyEvent]:
    """A synthetic prompt: ``n`` keys at a lognormal tempo around ``flight`` ms, then Enter."""
    rng = np.random.default_rng(seed)
    t, events = start, []
    for i in range(n):
        t += float(rng.lognormal(np.log(flight), 0.35)) if i else 0.0
        events.append(p.KeyEvent(t, None, S if i % 6 == 5 else C))
    events.append(p.KeyEvent(t + flight, None, E))
    return events


def send(client: Client, source: str, events: list[p.KeyEvent]) -> None:
    reply = client.request(p.Keystrokes(source=source, events=events))
    assert isinstance(reply, p.Ok)


def test_baseline_enrols_scores_flags_and_resets(daemon: DaemonProcess) -> None:
    with Client(daemon.socket_path) as client:
        for i in range(5):
            send(client, "editor/a", window(i, flight=110.0))
        status = wait_for(daemon, settled(5))
        assert status["enrollment"]["state"] == "enrolled" and status["enrollment"]["windows"] == 5
        for i in range(3):
            send(client, "editor/a", window(100 + i, flight=110.0))
        for i in range(3):
            send(client, "editor/b", window(200 + i, flight=480.0))  # someone much slower
        send(client, "editor/a", [p.KeyEvent(0.0, None, C), p.KeyEvent(90.0, None, E)])  # "y" + Enter
    status = wait_for(daemon, settled(12))
    assert status["windows_by_status"] == {**status["windows_by_status"], "enrolled": 5, "scored": 6, "short": 1}
    scored = sorted((w for w in status["recent"] if w["status"] == "scored"), key=lambda w: w["id"])
    same, other = scored[:3], scored[3:]
    assert all(w["source"] == "editor" for w in scored)
    assert max(w["deviation"] for w in same) < min(w["deviation"] for w in other)
    assert all(w["flagged"] for w in other) and not any(w["flagged"] for w in same)
    assert all(w["threshold"] == status["thresholds"]["press_only"] for w in scored)
    # the sustained decision: the mean deviation of the newest three scored windows, with its own threshold
    assert [w["sustained_deviation"] is None for w in scored] == [True, True, False, False, False, False]
    assert scored[2]["sustained_deviation"] == pytest.approx(float(np.mean([w["deviation"] for w in same])))
    assert scored[5]["sustained_deviation"] == pytest.approx(float(np.mean([w["deviation"] for w in other])))
    assert not scored[2]["sustained_flagged"] and scored[5]["sustained_flagged"]
    assert scored[5]["sustained_threshold"] == status["thresholds"]["sustained_press_only"]

    # everything about how the user typed is sealed: no plaintext summary or score in the database file
    db = daemon.state_dir / "llmojid.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        blobs = conn.execute("SELECT summary, embedding, score FROM typing_window").fetchall()
    assert blobs and all(isinstance(b, bytes) for row in blobs for b in row if b is not None)
    assert scan_for(daemon.state_dir, [b'"classes"', b'"deviation"', b"median_flight"]) == []

    reset = daemon.ctl_json("typing", "reset", "--json")
    assert reset == {"forgot_baseline": True}
    status = typing_status(daemon)
    assert status["enrollment"]["state"] == "not started" and status["windows_seen"] == 12
    assert "not started: 0 of 5" in daemon.ctl("typing").stdout.decode()

    # after a reset the sustained decision starts over with the new baseline
    with Client(daemon.socket_path) as client:
        for i in range(6):
            send(client, "editor/b", window(300 + i, flight=480.0))
    status = wait_for(daemon, settled(18))
    newest = max((w for w in status["recent"] if w["status"] == "scored"), key=lambda w: w["id"])
    assert newest["sustained_deviation"] is None and not newest["flagged"]


def test_a_journal_turn_links_to_the_prompt_it_answers(daemon: DaemonProcess) -> None:
    with Client(daemon.socket_path) as client:
        send(client, "wrap/x", window(1, flight=150.0))
        status = wait_for(daemon, settled(1))
        window_id = status["recent"][0]["id"]
        now = datetime.now(UTC)
        rows = [
            p.JournalRow(ts=(now + timedelta(seconds=20)).isoformat(), model="m", harness="claude-code",
                         session="s", message_id="after", kaomoji="(^_^)", assistant_text="done"),
            p.JournalRow(ts=(now - timedelta(hours=3)).isoformat(), model="m", harness="claude-code",
                         session="s", message_id="before", kaomoji="(^_^)", assistant_text="old"),
        ]  # fmt: skip
        client.request(p.SubmitRows(rows=rows))
        journal = client.request(p.QueryJournal(limit=10))
        assert isinstance(journal, p.Rows)
        ids = {r.assistant_text: r.row_id for r in journal.rows}
        reply = client.request(p.Request(name="typing.link", args={"journal_ids": [ids["done"], ids["old"], 999]}))
    assert isinstance(reply, p.Result)
    links = {link["journal_id"]: link["window_id"] for link in reply.value["links"]}  # type: ignore[index]
    assert links == {ids["done"]: window_id, ids["old"]: None, 999: None}


def test_bad_batches_are_refused_without_echoing_them(daemon: DaemonProcess) -> None:
    with Client(daemon.socket_path) as client:
        for events in ([p.KeyEvent(1.0, None, 9)], [p.KeyEvent(float("nan"), None, C)]):
            with pytest.raises(DaemonError) as info:
                client.request(p.Keystrokes(source="x", events=events))
            assert info.value.code == p.ErrorCode.INVALID_ARGUMENT
            assert "9" not in info.value.message and "nan" not in info.value.message.lower()
        too_many = [p.KeyEvent(float(i), None, C) for i in range(p.MAX_KEY_EVENTS_PER_BATCH + 1)]
        with pytest.raises(DaemonError):
            client.request(p.Keystrokes(source="x", events=too_many))
        with pytest.raises(DaemonError):
            client.request(p.Keystrokes(source="x" * 10_000, events=[]))
        assert isinstance(client.request(p.Keystrokes(source="x", events=[])), p.Ok)


def test_the_daemon_loads_torch_only_when_it_first_encodes(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    maps = Path(f"/proc/{daemon.proc.pid}/maps")
    status = typing_status(daemon)
    assert not status["encoder"]["loaded"]
    assert b"libtorch" not in maps.read_bytes()
    with Client(daemon.socket_path) as client:
        send(client, "wrap/y", window(3, flight=140.0))
    status = wait_for(daemon, settled(1))
    assert status["encoder"]["loaded"]
    assert b"libtorch" in maps.read_bytes()


def test_typing_data_passes_the_audit_and_survives_key_rotation(daemon: DaemonProcess) -> None:
    with Client(daemon.socket_path) as client:
        for i in range(6):
            send(client, "wrap/r", window(300 + i, flight=130.0))
    before = wait_for(daemon, settled(6))
    assert before["enrollment"]["state"] == "enrolled"
    audit = daemon.ctl("audit", "--only", "store.sealed", "--only", "store.plaintext", check=False)
    assert audit.returncode == 0, audit.stdout.decode() + audit.stderr.decode()
    daemon.ctl("keys", "rotate")
    after = typing_status(daemon)  # every summary, score and the baseline open under the new key
    assert after["enrollment"] == before["enrollment"]
    assert [w["deviation"] for w in after["recent"]] == [w["deviation"] for w in before["recent"]]
