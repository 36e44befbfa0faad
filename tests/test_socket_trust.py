"""Clients verify the daemon before the first byte (issue 15, item 1), and the socket's own life (item 11).

Another local user (``nobody``, via ``setpriv``, as ``tests/test_daemon.py`` does it) squats the socket path and
listens there as a forger would: it answers every connection at once with a forged ``Welcome`` and ``HookAck`` and
counts every byte it receives. The real hook, ``llmojid-ctl`` and ``wrap`` then run as the owner. Nothing may reach
the impostor; the hook's turn is spooled (a forged ack would have stopped it from spooling) and journaled later by
the real daemon; the CLI refuses naming the path and the owner; ``wrap`` runs its program all the same.

Three ways in: the predictable ``/tmp/llmojid-<uid>`` fallback made first by the impostor (the daemon must still
start, elsewhere, and the clients must find it there); an ``--socket`` path in the impostor's directory (the
directory wall); the impostor's listening socket moved into a directory of ours (only the peer-credentials wall
stands).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.common import socket_trust
from llmojid.daemon import security
from tests.hook_support import journal_rows, run_hook, spool_files, wait_answering, wait_spool_drained
from tests.support import LLMOJID_CTL, DaemonProcess, make_env
from tests.test_keystroke_daemon import Terminal

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="playing another user needs root (CI runs as root)")

NOBODY = 65534
#: A valid uid above 2**31: signed unpacking turns it negative (item 11).
HIGH_UID = 4294967294

IMPOSTOR = r"""
import os, socket, sys, threading
path, log, forged = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
os.chmod(path, 0o777)
listener.listen(64)
lock = threading.Lock()

def note(line):
    with lock, open(log, "a") as f:
        f.write(line + "\n")

def serve(conn):
    with conn:
        note("connection")
        try:
            conn.sendall(forged)  # what a forger answers: welcome, and "your turn is stored"
        except OSError:
            pass
        conn.settimeout(2.0)
        got = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got += len(data)
        except OSError:
            pass
        note(f"bytes {got}")

print("READY", flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def as_user(uid: int, *argv: str) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


@dataclass
class Impostor:
    """Another user listening at ``path``; ``log`` (in its own directory) says what reached it."""

    path: Path
    log: Path
    proc: subprocess.Popen[str]

    def connections(self) -> int:
        return self._lines().count("connection")

    def bytes_received(self) -> int:
        return sum(int(line.split()[1]) for line in self._lines() if line.startswith("bytes "))

    def _lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def settle(self) -> None:
        """Wait until every connection it saw has been counted (it reads each for up to 2 s)."""
        deadline = time.monotonic() + 10
        while self._lines().count("connection") != sum(1 for x in self._lines() if x.startswith("bytes ")):
            assert time.monotonic() < deadline
            time.sleep(0.1)


def forged_replies() -> bytes:
    return p.encode(p.Welcome(id=1, version=p.PROTOCOL_VERSION, server_version="forged")) + p.encode(
        p.HookAck(id=2, rows_added=1)
    )


def open_to(path: Path, mode: int) -> None:
    """Let another user traverse into ``path`` (our temp dirs are 0700)."""
    os.chmod(path, mode)


@pytest.fixture
def impostors() -> Iterator[list[Impostor]]:
    started: list[Impostor] = []
    yield started
    for imp in started:
        imp.proc.kill()
        imp.proc.wait()


def start_impostor(started: list[Impostor], path: Path, *, uid: int = NOBODY) -> Impostor:
    log = path.parent / "impostor.log"
    proc = subprocess.Popen(
        as_user(uid, "/usr/bin/python3", "-I", "-c", IMPOSTOR, str(path), str(log), forged_replies().hex()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "READY", proc.stderr.read() if proc.stderr else ""
    imp = Impostor(path, log, proc)
    started.append(imp)
    return imp


def world_tmp(workdir: Path) -> Path:
    """A shared temp dir (1777, like /tmp) that another user can reach."""
    open_to(workdir, 0o711)
    tmp = workdir / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)  # noqa: S103 - a /tmp of the test's own
    return tmp


def generic_turn(canary: str) -> bytes:
    return json.dumps(
        {"model": "m", "cwd": "/w", "user_text": f"ask {canary}", "assistant_text": f"(◕‿◕) answer {canary}"}
    ).encode()


def run_wrap(env: dict[str, str]) -> bytes:
    """``llmojid-ctl wrap -- cat`` on a real pty, a line typed, ^D: returns the screen (the program must run)."""
    term = Terminal.open()
    try:
        proc = term.run([LLMOJID_CTL, "wrap", "--", "cat"], env)
        term.wait_raw()
        term.type(b"typed while an impostor listens\r")
        term.type(b"\x04")
        assert proc.wait(30) == 0
        time.sleep(0.2)
        screen = bytes(term.screen)
    finally:
        term.close()
    assert screen.count(b"typed while an impostor listens") >= 2  # echoed by the pty and written back by cat
    return screen


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID_CTL, *args], env=env, capture_output=True, text=True, timeout=60)


# --- the squatted /tmp fallback ------------------------------------------------------------------------------------
def test_a_squatted_tmp_fallback_reaches_no_client_and_the_turn_is_journaled_later(
    workdir: Path, impostors: list[Impostor]
) -> None:
    tmp = world_tmp(workdir)
    env = {k: v for k, v in make_env(workdir).items() if k != "XDG_RUNTIME_DIR"} | {"TMPDIR": str(tmp)}
    squatted = tmp / f"llmojid-{os.getuid()}" / "llmojid.sock"  # the name every earlier version used
    imp = start_impostor(impostors, squatted)
    assert os.lstat(squatted.parent).st_uid == NOBODY

    # The daemon starts all the same, in a directory nobody could make first, and records where.
    daemon = DaemonProcess(workdir, env)
    daemon.start(wait=False)
    record = Path(env["XDG_STATE_HOME"]) / "llmojid" / "runtime-dir"
    deadline = time.monotonic() + 30
    while not record.exists():
        assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log()
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.05)
    run_dir = Path(record.read_text().strip())
    real_socket = run_dir / "llmojid.sock"
    assert run_dir.parent == tmp and run_dir.name.startswith(f"llmojid-{os.getuid()}-") and run_dir != squatted.parent
    st = os.lstat(run_dir)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(record).st_mode) == 0o600
    env_with_socket = env | {"LLMOJID_SOCKET": str(real_socket)}
    wait_answering(DaemonProcess(workdir, env_with_socket, proc=daemon.proc))
    status = json.loads(ctl(env, "status", "--json").stdout)  # found through the record, not the squatted name
    assert status["socket_path"] == str(real_socket)
    assert daemon.stop() == 0

    # The daemon is away: the clients do not fall back to the squatted name.
    canary = f"SQUAT{secrets.token_hex(6)}"
    hook = run_hook(env, "generic", generic_turn(canary))
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, b"", b"")
    assert len(spool_files(daemon)) == 1, "the turn was not spooled"
    tail = ctl(env, "journal", "tail")
    assert tail.returncode == 3 and str(real_socket) in tail.stderr
    run_wrap(env)
    imp.settle()
    assert (imp.connections(), imp.bytes_received()) == (0, 0)

    # The real daemon comes back (the impostor still squats) and journals the spooled turn, once.
    daemon.start(wait=False)
    view = DaemonProcess(workdir, env_with_socket, proc=daemon.proc)  # the same daemon, seen at its socket
    try:
        wait_answering(view)
        wait_spool_drained(view)
        rows = [r for r in journal_rows(view) if canary in r.assistant_text]
        assert len(rows) == 1 and rows[0].harness == "generic"
    finally:
        assert daemon.stop() == 0
    imp.settle()
    assert (imp.connections(), imp.bytes_received()) == (0, 0)


# --- each wall on its own -------------------------------------------------------------------------------------------
def _published_spool_key(workdir: Path, env: dict[str, str]) -> DaemonProcess:
    """Run the real daemon once, so the hook has a key to seal to; return it stopped."""
    daemon = DaemonProcess(workdir, env).start()
    assert daemon.stop() == 0
    return daemon


@pytest.mark.parametrize("wall", ["directory", "peer"])
def test_clients_send_nothing_to_another_users_listener(workdir: Path, impostors: list[Impostor], wall: str) -> None:
    env = make_env(workdir)
    daemon = _published_spool_key(workdir, env)
    tmp = world_tmp(workdir)
    if wall == "directory":  # --socket names a path in the other user's directory
        imp = start_impostor(impostors, tmp / "theirs" / "llmojid.sock")
        target = imp.path
        owner_says = f"its directory {target.parent} is owned by uid {NOBODY}"
    else:  # their listening socket, moved into a 0700 directory of ours: only the peer check stands
        imp = start_impostor(impostors, tmp / "theirs" / "llmojid.sock")
        ours = workdir / "ours"
        ours.mkdir(mode=0o700)
        target = ours / "llmojid.sock"
        os.rename(imp.path, target)
        owner_says = f"the process listening there is owned by uid {NOBODY}"
    client_env = env | {"LLMOJID_SOCKET": str(target)}

    canary = f"WALL{secrets.token_hex(6)}"
    hook = run_hook(client_env, "generic", generic_turn(canary))
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, b"", b"")
    assert len(spool_files(daemon)) == 1, "a forged ack stopped the hook from spooling"
    tail = ctl(client_env, "journal", "tail")
    assert tail.returncode == 3, tail
    assert str(target) in tail.stderr and owner_says in tail.stderr and "(nobody)" in tail.stderr, tail.stderr
    assert "Nothing was sent" in tail.stderr
    screen = run_wrap(client_env)
    assert b"no key timing was sent: refusing to talk to" in screen
    imp.settle()
    assert imp.bytes_received() == 0
    if wall == "directory":
        assert imp.connections() == 0, "the directory is judged before connect"

    daemon.start()  # its own socket (XDG_RUNTIME_DIR); the spooled turn is drained
    try:
        wait_spool_drained(daemon)
        assert [r.harness for r in journal_rows(daemon) if canary in r.assistant_text] == ["generic"]
    finally:
        assert daemon.stop() == 0


# --- item 11: the uid unsigned; the path locked; the exit unlink checks the inode -------------------------------
def test_a_peer_uid_above_2_31_is_read_unsigned(workdir: Path, impostors: list[Impostor]) -> None:
    tmp = world_tmp(workdir)
    imp = start_impostor(impostors, tmp / "high" / "s.sock", uid=HIGH_UID)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(imp.path))
        assert security.peer_credentials(sock).uid == HIGH_UID  # the daemon's reading of a client
        assert socket_trust.peer_credentials(sock)[0] == HIGH_UID  # the clients' reading of a listener
        with pytest.raises(socket_trust.NotOurDaemon, match=f"uid {HIGH_UID}"):
            socket_trust.check_peer(sock, imp.path)


def test_the_daemon_leaves_a_socket_file_that_is_no_longer_its_own(daemon: DaemonProcess) -> None:
    path = daemon.socket_path
    path.unlink()  # someone removed ours (tmp cleaning, a hand) and another listener took the path
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen(1)
        inode = os.lstat(path).st_ino
        assert daemon.stop() == 0
        assert os.lstat(path).st_ino == inode, "the daemon removed a socket file it had not bound"
    assert "the socket file was replaced while we ran" in daemon.log()


def test_a_socket_handed_over_in_a_directory_open_to_others_is_refused(workdir: Path) -> None:
    """systemd/launchd activation gets the directory check a self-bound socket gets."""
    shared = workdir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)  # noqa: S103 - the shared place under test
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(shared / "s.sock"))
        with pytest.raises(security.SecurityError, match="must be 0700"):
            security.check_activated_socket(sock)
    private = workdir / "private"
    private.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(private / "s.sock"))
        assert security.check_activated_socket(sock) == private / "s.sock"


def test_the_fallback_directory_is_remade_when_the_recorded_one_is_not_ours(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = world_tmp(workdir)
    env = make_env(workdir)
    for key in ("HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    security.check_private_dir(paths.state_dir(), create=True)
    assert paths.needs_recorded_runtime_dir()
    assert paths.recorded_runtime_dir() is None
    first = security.fallback_runtime_dir()
    assert paths.runtime_dir() == first and security.fallback_runtime_dir() == first  # recorded, then reused
    os.chown(first, NOBODY, NOBODY)  # no longer ours (e.g. recreated by someone after the temp dir was cleaned)
    second = security.fallback_runtime_dir()
    assert second != first and os.lstat(second).st_uid == os.getuid()
    assert paths.runtime_dir() == second
    os.chmod(paths.runtime_dir_record(), 0o666)  # noqa: S103 - a record others could write is not believed
    assert paths.recorded_runtime_dir() is None
