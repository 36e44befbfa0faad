"""The socket-directory and socket-file checks, run on real files (no daemon)."""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from llmojid.daemon import security


def test_creates_private_dir_and_socket_with_tight_modes(workdir: Path) -> None:
    path = workdir / "run" / "llmojid" / "s.sock"
    (workdir / "run").mkdir(mode=0o700)
    sock = security.bind_private_socket(path)
    try:
        assert stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    finally:
        sock.close()


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o701])
def test_refuses_a_dir_open_to_others(workdir: Path, mode: int) -> None:
    d = workdir / "open"
    d.mkdir()
    d.chmod(mode)
    with pytest.raises(security.SecurityError, match=r"must be 0700"):
        security.check_private_dir(d, create=False)


def test_refuses_a_symlinked_dir(workdir: Path) -> None:
    target = workdir / "target"
    target.mkdir(mode=0o700)
    link = workdir / "link"
    link.symlink_to(target)
    with pytest.raises(security.SecurityError, match="symlink"):
        security.bind_private_socket(link / "s.sock")


def test_refuses_a_dir_owned_by_someone_else(workdir: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to chown a directory to another user")  # CI runs as root
    d = workdir / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    with pytest.raises(security.SecurityError, match="owned by uid 65534"):
        security.check_private_dir(d, create=False)


def test_overlong_path_is_an_error_not_a_truncation(workdir: Path) -> None:
    path = workdir / ("x" * 120) / "s.sock"
    with pytest.raises(security.SecurityError, match="the limit is 107"):
        security.bind_private_socket(path)
    assert not path.parent.exists()


def test_stale_socket_is_replaced_and_live_one_refused(workdir: Path) -> None:
    d = workdir / "d"
    d.mkdir(mode=0o700)
    path = d / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: stale
    live = security.bind_private_socket(path)
    try:
        with pytest.raises(security.AlreadyRunningError):
            security.bind_private_socket(path)
    finally:
        live.close()


def test_a_socket_another_daemon_is_still_setting_up_is_not_taken_for_stale(workdir: Path) -> None:
    """Between its bind and its listen, another daemon's socket refuses connections like a stale one. It holds the
    path's lock from before its bind, so the probe (and the unlink) never happen while it lives."""
    d = workdir / "d"
    d.mkdir(mode=0o700)
    path = d / "s.sock"
    lock = open(security.socket_lock_path(path), "a+b")  # noqa: SIM115 - the other daemon's lock, held below
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    starting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    starting.bind(str(path))  # bound, not yet listening
    inode = os.lstat(path).st_ino
    try:
        with pytest.raises(security.AlreadyRunningError, match="already running"):
            security.bind_private_socket(path)
        assert os.lstat(path).st_ino == inode, "the other daemon's socket file was replaced"
    finally:
        starting.close()
        lock.close()
    bound = security.bind_private_socket(path)  # the lock is free again: a stale file is replaced
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))  # ours now answers there
    finally:
        bound.close()
    assert not path.exists(), "close removes the socket file it bound"


def test_regular_file_at_socket_path_is_left_alone(workdir: Path) -> None:
    d = workdir / "d"
    d.mkdir(mode=0o700)
    path = d / "s.sock"
    path.write_text("keep me")
    with pytest.raises(security.SecurityError, match="not a socket"):
        security.bind_private_socket(path)
    assert path.read_text() == "keep me"


def test_instance_lock_is_exclusive(workdir: Path) -> None:
    first = security.acquire_instance_lock(workdir)
    try:
        with pytest.raises(security.AlreadyRunningError):
            security.acquire_instance_lock(workdir)
    finally:
        first.close()
    security.acquire_instance_lock(workdir).close()


def test_peer_credentials_of_our_own_connection(workdir: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        creds = security.peer_allowed(a)
        assert creds is not None and creds.uid == os.getuid() and creds.pid == os.getpid()


def test_harden_process_makes_the_process_non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: no core file, no same-uid ptrace or /proc/PID/mem reads of the process holding the key.

    Run in a child (it would harden the test runner itself); the daemon calls the same function at start, which
    ``tests/test_daemon.py::test_daemon_process_cannot_dump_core`` sees through its RLIMIT_CORE.
    """
    script = (
        "import ctypes, ctypes.util, resource\n"
        "from llmojid.daemon.security import harden_process\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "before = libc.prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE
        "harden_process()\n"
        "print(before, libc.prctl(3, 0, 0, 0, 0), resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().split(maxsplit=2) == ["1", "0", "(0, 0)"], out
