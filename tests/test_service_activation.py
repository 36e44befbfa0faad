"""Real socket activation: systemd's own ``systemd-socket-activate`` hands the listening socket to ``llmojid serve``.

The test plays the part ``llmojid.socket`` plays under systemd: it binds the socket once (0600, in a 0700 dir) and
holds it for the whole test, and whenever a connection waits and no daemon runs it starts
``systemd-socket-activate llmojid serve --idle-exit 2`` with the socket as fd 3 (LISTEN_FDS), exactly as the
manager would. systemd-socket-activate waits for the connection, then execs the daemon with LISTEN_PID/LISTEN_FDS
set. So: the first connection starts the daemon; the daemon, idle, exits; connections made while it is gone wait in
the held socket's backlog and the next start serves every one of them.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.support import LLMOJID

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate (Debian package systemd) missing"
)

IDLE_EXIT_SECONDS = "2"
#: Variables the daemon needs; systemd-socket-activate passes only TERM, PATH, USER and HOME unless told (-E).
PASSED_ENV = (
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "LLMOJID_KEYRING_SERVICE",
    "PYTHONUNBUFFERED",
    "PYTHONPATH",
)


@dataclass
class SocketUnit:
    """The role of llmojid.socket: hold the socket, start the daemon through systemd-socket-activate on demand."""

    path: Path
    env: dict[str, str]
    log_path: Path
    starts: list[int] = field(default_factory=list)  # pid of each daemon started
    exit_codes: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.sock.bind(str(self.path))
        finally:
            os.umask(old)
        self.sock.listen(128)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        setenv = [arg for name in PASSED_ENV if name in self.env for arg in ("-E", name)]
        # The socket arrives as stdin and is moved to fd 3 (SD_LISTEN_FDS_START); LISTEN_PID must be
        # systemd-socket-activate's own pid, which `exec` keeps from the shell ($$).
        script = 'exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec systemd-socket-activate "$@"'
        cmd = ["sh", "-c", script, "sh", *setenv, LLMOJID, "serve", "--idle-exit", IDLE_EXIT_SECONDS]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(cmd, env=self.env, stdin=self.sock.fileno(), stdout=log, stderr=log)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._proc is not None:
                try:
                    self.exit_codes.append(self._proc.wait(timeout=0.1))
                    self._proc = None
                except subprocess.TimeoutExpired:
                    continue
            readable, _, _ = select.select([self.sock], [], [], 0.1)
            if readable and not self._stop.is_set():
                self._proc = self._spawn()
                self.starts.append(self._proc.pid)

    def wait_daemon_exit(self, timeout: float = 30.0) -> int:
        proc = self._proc
        assert proc is not None, "no daemon running"
        code = proc.wait(timeout=timeout)
        return code

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=20)
        self.sock.close()
        self.path.unlink(missing_ok=True)


def status(path: Path) -> p.StatusReply:
    with Client(path, timeout=60) as client:
        reply = client.request(p.Status())
    assert isinstance(reply, p.StatusReply)
    return reply


def row(i: int) -> p.JournalRow:
    return p.JournalRow(
        ts="2026-11-20T10:00:00Z",
        model="m",
        harness="claude-code",
        session="s",
        message_id=f"activation-{i}",
        kaomoji="(^_^)",
        assistant_text=f"(^_^) ok {i}",
    )


def submit(path: Path, i: int) -> int:
    with Client(path, timeout=60) as client:
        reply = client.request(p.SubmitRows(rows=[row(i)]))
    assert isinstance(reply, p.HookAck)
    return reply.rows_added


def test_first_connection_starts_daemon_idle_exit_and_restart_lose_nothing(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    path = Path(daemon_env["XDG_RUNTIME_DIR"]) / "llmojid" / "llmojid.sock"
    unit = SocketUnit(path, daemon_env, workdir / "activate.log")
    try:
        assert unit.starts == [], "nothing starts before a connection"

        # 1. The first connection starts the daemon, which serves it from the passed socket.
        try:
            first = status(path)
        except Exception as exc:
            raise AssertionError(f"{exc}; exits {unit.exit_codes}:\n{(workdir / 'activate.log').read_text()}") from exc
        assert first.activated_by == "systemd"
        assert first.socket_path == str(path)
        assert unit.starts == [first.pid]
        assert submit(path, 0) == 1

        # 2. Idle, it exits cleanly by itself; the held socket stays (the daemon must not unlink it).
        assert unit.wait_daemon_exit() == 0, (workdir / "activate.log").read_text()
        assert path.is_socket()
        log = (workdir / "activate.log").read_text()
        assert "idle for" in log

        # 3. Connections made while no daemon runs wait in the backlog; one new daemon serves all of them.
        with ThreadPoolExecutor(max_workers=16) as pool:
            added = list(pool.map(lambda i: submit(path, i), range(1, 33)))
        assert added == [1] * 32, "every request is answered (none lost, none duplicated)"
        second = status(path)
        assert second.activated_by == "systemd"
        assert second.pid != first.pid
        assert unit.starts == [first.pid, second.pid]
        assert second.row_counts["journal"] == 33

        # 4. And again: idle exit, next connection brings it back with every row still there.
        assert unit.wait_daemon_exit() == 0
        with Client(path, timeout=60) as client:
            rows = client.request(p.QueryJournal(limit=100))
        assert isinstance(rows, p.Rows)
        assert sorted(r.assistant_text for r in rows.rows) == sorted(f"(^_^) ok {i}" for i in range(33))
        assert len(unit.starts) == 3
        assert unit.exit_codes == [0, 0]
    finally:
        unit.close()
