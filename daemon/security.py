"""Who may talk to the daemon: every such check, in one place, done before any other work.

Modelled on OpenSSH's ssh-agent (misc-agent.c, ssh-agent.c) and atuin's daemon settings:

* the socket directory must be a real directory (not a symlink), owned by us, with no group/other bits;
* the socket is born private: the umask is narrowed only around ``bind``, then the mode is checked;
* a path longer than ``sun_path`` is an error, never truncated;
* the socket path is locked (``<socket>.lock``, held for the daemon's life) before anything is probed, unlinked
  or bound there; a socket file already there is then probed with ``connect``: if someone answers, we are already
  running; if not, it is stale and is replaced; at exit the file is removed only if it is still the one we bound;
* a socket handed over by systemd or launchd must lie in a 0700 directory of ours, as a self-bound one does;
* without ``XDG_RUNTIME_DIR`` the socket directory is made with ``mkdtemp`` and recorded in the state dir;
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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from llmojid.client import paths
from llmojid.common import socket_trust

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


@dataclass
class BoundSocket:
    """A socket we bound at ``path``, the lock that makes the path ours, and the file's identity.

    ``close`` removes the socket file only if it is still the one we bound (same device and inode): a daemon that
    lost its file (removed by hand, replaced) must not remove whatever now lives at the path.
    """

    sock: socket.socket
    path: Path
    lock: IO[bytes]
    identity: tuple[int, int]

    def close(self) -> None:
        self.sock.close()
        try:
            _remove_if_ours(self.path, self.identity)
        finally:
            self.lock.close()  # released only after the unlink: no other daemon binds in between


def socket_lock_path(path: Path) -> Path:
    """The lock file next to the socket: whoever holds it owns the path (probes, unlinks and binds there)."""
    return path.with_name(path.name + ".lock")


def bind_private_socket(path: Path) -> BoundSocket:
    """Bind and listen on ``path`` as a 0600 socket in a 0700 directory we own.

    The path's lock is taken first and held for the socket's life, so the stale-socket probe and unlink never race
    another daemon starting on the same path (between its bind and its listen, its socket would look stale).

    Resource handling: returns a BoundSocket the caller owns (``close`` closes, removes its own file, unlocks).
    Error handling: AlreadyRunningError when a live daemon holds or answers on ``path``; SecurityError for a bad
    directory, an over-long path or a socket whose mode came out wrong; OSError for anything else.
    """
    check_sun_path(path)
    check_private_dir(path.parent, create=True)
    lock = _lock_socket_path(path)
    try:
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
            try:
                st = _check_socket_file(path)
                sock.listen(128)
            except BaseException:
                sock.close()
                raise
            return BoundSocket(sock, path, lock, (st.st_dev, st.st_ino))
        raise AlreadyRunningError(f"could not bind {path}: another process keeps taking it")
    except BaseException:
        lock.close()
        raise


def _lock_socket_path(path: Path) -> IO[bytes]:
    lock_path = socket_lock_path(path)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    handle = os.fdopen(fd, "r+b")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise SecurityError(f"{lock_path} is not a regular file of ours; remove it")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunningError(f"llmojid is already running on {path} (another daemon holds {lock_path})") from None
    except BaseException:
        handle.close()
        raise
    return handle


def _remove_if_ours(path: Path, identity: tuple[int, int]) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if (st.st_dev, st.st_ino) != identity:
        log.warning("the socket file was replaced while we ran; leaving the new one in place")
        return
    path.unlink(missing_ok=True)


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


def _check_socket_file(path: Path) -> os.stat_result:
    st = os.lstat(path)
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) != SOCKET_MODE:
        path.unlink(missing_ok=True)
        raise SecurityError(f"socket {path} came out with the wrong type, owner or mode")
    return st


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
    """The connecting process's uid (and pid where the OS tells). Raises OSError if they cannot be read.

    Read as the clients read the daemon's (``llmojid.common.socket_trust``): SO_PEERCRED / LOCAL_PEERCRED, the uid
    unsigned (a uid above 2**31 must not come out negative).
    """
    uid, pid = socket_trust.peer_credentials(sock)
    return PeerCredentials(uid=uid, pid=pid)


def peer_allowed(sock: socket.socket) -> PeerCredentials | None:
    """The peer's credentials if it may be served, else None. Unreadable credentials mean refusal."""
    try:
        creds = peer_credentials(sock)
    except OSError:
        return None
    return creds if creds.uid == os.getuid() else None


def check_activated_socket(sock: socket.socket) -> Path:
    """A socket handed over by systemd or launchd gets the checks a self-bound one gets: a filesystem socket in a
    0700 directory of ours (a manager configured to listen in a shared place would let others pose as us, or in).
    Returns its path; raises SecurityError."""
    name = sock.getsockname()
    if not isinstance(name, str) or not name.startswith("/"):
        raise SecurityError("the socket handed over is not a filesystem socket; give the unit a ListenStream path")
    path = Path(name)
    check_private_dir(path.parent, create=False)
    return path


def fallback_runtime_dir() -> Path:
    """Without ``XDG_RUNTIME_DIR``: the socket directory recorded in the state dir, or a new one made by mkdtemp.

    A predictable ``/tmp/llmojid-<uid>`` can be created first by another local user; a ``mkdtemp`` name cannot
    (it is random, and created exclusively with mode 0700). Its path is recorded in the state directory, which
    only we can write (``paths.runtime_dir_record``), where clients find it. A recorded directory that is gone
    (the temp dir was cleaned) or no longer private to us is replaced by a new one. The state dir must exist.
    """
    import tempfile

    recorded = paths.recorded_runtime_dir()
    if recorded is not None:
        try:
            check_private_dir(recorded, create=False)
            return recorded
        except SecurityError as exc:
            log.warning("the recorded socket directory is unusable (%s); making a new one", exc)
    made = Path(tempfile.mkdtemp(prefix=f"{paths.APP}-{os.getuid()}-"))
    record = paths.runtime_dir_record()
    tmp = record.with_name(f"{record.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, os.fsencode(made) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, record)
    return made


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
