"""Who may talk to the daemon: every such check, in one place, done before any other work.

Modelled on OpenSSH's ssh-agent (misc-agent.c, ssh-agent.c) and atuin's daemon settings:

* the socket directory must be a real directory (not a symlink), owned by us, with no group/other bits;
* the socket is born private: the umask is narrowed only around ``bind``, then the mode is checked;
* a path longer than ``sun_path`` is an error, never truncated;
* a socket file already there is probed with ``connect``: if someone answers, we are already running; if not,
  it is stale and is replaced;
* every accepted connection's peer credentials are read before a byte is read; a different uid, or credentials
  that cannot be read, close it.

Trust boundary: the daemon's own uid. Root is not excepted (unlike ssh-agent): nothing needs it, and the journal
is the user's alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import resource
import socket
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger("llmojid.security")

#: sockaddr_un.sun_path capacity, including the terminating NUL (Linux 108, BSD/macOS 104).
SUN_PATH_MAX = 104 if sys.platform == "darwin" else 108
SOCKET_MODE = 0o600
DIR_MODE = 0o700
#: umask in force while the socket is bound: the file is created 0600 and never exists with wider bits.
BIND_UMASK = 0o177
#: How long the stale-socket probe waits for a live daemon to accept.
STALE_PROBE_TIMEOUT_SECONDS = 1.0
SD_LISTEN_FDS_START = 3


class SecurityError(Exception):
    """A refusal on security grounds. The message says what is wrong and how to fix it."""


class AlreadyRunningError(SecurityError):
    pass


@dataclass(frozen=True)
class PeerCredentials:
    uid: int
    pid: int


def check_private_dir(path: Path, *, create: bool) -> None:
    """Make sure ``path`` is a directory we own with mode 0700 (creating it so if asked).

    Raises SecurityError for a symlink, a non-directory, a foreign owner or group/other permission bits: each is
    a sign that someone else could swap or read what we put there.
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, DIR_MODE)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise SecurityError(f"directory {path} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise SecurityError(f"{path} is a symlink; refusing to use it (remove it and start again)")
    if not stat.S_ISDIR(st.st_mode):
        raise SecurityError(f"{path} is not a directory (remove it and start again)")
    if st.st_uid != os.getuid():
        raise SecurityError(f"{path} is owned by uid {st.st_uid}, not by us (uid {os.getuid()}); remove it")
    if st.st_mode & 0o077:
        raise SecurityError(f"{path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0700 (chmod 700 '{path}')")


def check_sun_path(path: Path) -> None:
    """An over-long socket path is an error: truncating it would bind somewhere else."""
    if len(os.fsencode(path)) >= SUN_PATH_MAX:
        raise SecurityError(
            f"socket path is {len(os.fsencode(path))} bytes; the limit is {SUN_PATH_MAX - 1} "
            "(choose a shorter --socket path)"
        )


def bind_private_socket(path: Path) -> socket.socket:
    """Bind and listen on ``path`` as a 0600 socket in a 0700 directory we own.

    Resource handling: returns a listening socket the caller owns (and must close and unlink).
    Error handling: AlreadyRunningError when a live daemon answers on ``path``; SecurityError for a bad
    directory, an over-long path or a socket whose mode came out wrong; OSError for anything else.
    """
    check_sun_path(path)
    check_private_dir(path.parent, create=True)
    for _attempt in range(2):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(BIND_UMASK)
        try:
            sock.bind(os.fspath(path))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            _replace_if_stale(path)
            continue
        finally:
            os.umask(old_umask)
        _check_socket_file(path)
        sock.listen(128)
        return sock
    raise AlreadyRunningError(f"could not bind {path}: another process keeps taking it")


def _replace_if_stale(path: Path) -> None:
    """A socket file exists at ``path``. If a daemon answers there, refuse; otherwise remove it."""
    st = os.lstat(path)
    if not stat.S_ISSOCK(st.st_mode):
        raise SecurityError(f"{path} exists and is not a socket; remove it by hand if it is not needed")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(STALE_PROBE_TIMEOUT_SECONDS)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("removing stale socket file")
        path.unlink(missing_ok=True)
        return
    except OSError as exc:
        raise SecurityError(f"cannot probe existing socket {path}: {exc.strerror}") from exc
    finally:
        probe.close()
    raise AlreadyRunningError(f"llmojid is already running on {path}")


def _check_socket_file(path: Path) -> None:
    st = os.lstat(path)
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) != SOCKET_MODE:
        path.unlink(missing_ok=True)
        raise SecurityError(f"socket {path} came out with the wrong type, owner or mode")


def acquire_instance_lock(state_dir: Path) -> IO[bytes]:
    """Hold an exclusive lock on the state directory, so two daemons never share one store.

    Resource handling: the returned file must stay open for the daemon's life; closing it releases the lock.
    """
    handle = open(state_dir / "daemon.lock", "a+b")  # noqa: SIM115 - held for the process lifetime
    os.chmod(handle.fileno(), 0o600)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunningError(f"llmojid is already running: another daemon holds {state_dir}") from None
    return handle


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The connecting process's uid (and pid where the OS tells). Raises OSError if they cannot be read."""
    if sys.platform.startswith("linux"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
        return PeerCredentials(uid=uid, pid=pid)
    return PeerCredentials(uid=_getpeereid(sock.fileno()), pid=0)


def _getpeereid(fd: int) -> int:
    """BSD/macOS ``getpeereid(2)`` (it reads LOCAL_PEERCRED for us)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(fd, ctypes.byref(uid), ctypes.byref(gid)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(uid.value)


def peer_allowed(sock: socket.socket) -> PeerCredentials | None:
    """The peer's credentials if it may be served, else None. Unreadable credentials mean refusal."""
    try:
        creds = peer_credentials(sock)
    except OSError:
        return None
    return creds if creds.uid == os.getuid() else None


def activated_socket() -> tuple[socket.socket, str] | None:
    """A listening socket handed over by systemd (LISTEN_FDS) or launchd, with the manager's name."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and int(os.environ.get("LISTEN_FDS", "0")) >= 1:
        for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(var, None)  # children must not think the fds are theirs
        sock = socket.socket(fileno=SD_LISTEN_FDS_START)
        if sock.family != socket.AF_UNIX:
            sock.detach()
            raise SecurityError("the socket handed over by systemd is not a Unix socket")
        return sock, "systemd"
    if sys.platform == "darwin" and os.environ.get("LLMOJID_LAUNCHD") == "1":
        return _launchd_socket(), "launchd"
    return None


def _launchd_socket() -> socket.socket:
    """launchd's ``launch_activate_socket("Listeners", &fds, &count)``."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fds = ctypes.POINTER(ctypes.c_int)()
    count = ctypes.c_size_t()
    rc = libc.launch_activate_socket(b"Listeners", ctypes.byref(fds), ctypes.byref(count))
    if rc != 0 or count.value < 1:
        raise SecurityError(f"launchd handed over no socket (error {rc})")
    fd = fds[0]
    libc.free(fds)
    return socket.socket(fileno=fd)


def harden_process() -> None:
    """No core dumps of the process that holds the data key (ssh-agent does the same)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        PR_SET_DUMPABLE = 4
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
