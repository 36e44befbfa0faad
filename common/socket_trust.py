"""Is the process listening at the daemon's socket path really our daemon? Every client asks here, before a byte.

The daemon checks every client's uid before it reads a byte; the clients (the hook, ``llmojid-ctl``, ``wrap``)
check the daemon the same way before they send one. Two walls:

1. the socket's directory, by ``lstat`` (never ``stat``): a real directory, not a symlink, owned by us, with no
   group or other bits. Another local user who made the directory first (the predictable ``/tmp/llmojid-<uid>``
   of old, an ``--socket`` path in a shared place) fails here, before ``connect``;
2. the peer's credentials on the connected socket, before anything is sent: ``SO_PEERCRED`` on Linux,
   ``LOCAL_PEERCRED`` on macOS and the BSDs (what ``getpeereid`` reads). The listener's uid must be ours; root is
   not excepted, as the daemon does not except it either.

Either failure raises ``NotOurDaemon``, naming the path and the owner found. The hook then spools (the turn is
sealed to the daemon's key and kept), the CLI refuses with that message, ``wrap`` keeps the program running and
sends nothing.

Standard library only, and cheap: the hook imports this on every turn (``_socket`` rather than ``socket``, which
would pull in enum and selectors). The daemon reads its clients' credentials with ``peer_credentials`` too.
"""

from __future__ import annotations

import _socket
import os
import stat
import struct
import sys
from pathlib import Path

#: Linux ``struct ucred``: pid_t pid (signed), uid_t uid, gid_t gid (unsigned: a uid can be above 2**31).
_UCRED = struct.Struct("=iII")
#: macOS / BSD ``struct xucred``: u_int cr_version, uid_t cr_uid, then the groups (not needed here).
_XUCRED_HEAD = struct.Struct("=II")
_XUCRED_BYTES = 76
_SOL_LOCAL = 0
_LOCAL_PEERCRED = 1


class NotOurDaemon(Exception):
    """What listens at the socket path is not ours. The message names the path and the owner, never any data."""

    def __init__(self, path: Path, what: str, owner_uid: int | None, detail: str = "") -> None:
        owner = f"is owned by {_user(owner_uid)}" if owner_uid is not None else detail
        super().__init__(
            f"refusing to talk to {path}: {what} {owner}, not by you ({_user(os.getuid())}); another user may be "
            "posing as the llmojid daemon. Nothing was sent. Remove it (or use your own --socket path) and start "
            "llmojid again"
        )
        self.path = path
        self.owner_uid = owner_uid


def _user(uid: int | None) -> str:
    if uid is None:
        return "an unknown user"
    try:
        import pwd  # only on this error path

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_socket_dir(socket_path: Path) -> None:
    """The directory holding ``socket_path`` must be a real directory of ours with mode 0700 (no group/other bits).

    Raises NotOurDaemon; a directory that does not exist raises FileNotFoundError (no daemon has made it yet).
    """
    directory = socket_path.parent
    st = os.lstat(directory)
    if stat.S_ISLNK(st.st_mode):
        raise NotOurDaemon(socket_path, f"its directory {directory}", None, "is a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise NotOurDaemon(socket_path, f"{directory}", None, "is not a directory")
    if st.st_uid != os.getuid():
        raise NotOurDaemon(socket_path, f"its directory {directory}", st.st_uid)
    if st.st_mode & 0o077:
        raise NotOurDaemon(
            socket_path, f"its directory {directory}", None, f"has mode {stat.S_IMODE(st.st_mode):04o} (must be 0700)"
        )


def peer_credentials(sock: _socket.socket) -> tuple[int, int]:
    """``(uid, pid)`` of the process at the other end of a connected Unix socket (pid 0 where the OS does not say).

    For a client this is whoever called ``listen``; for the daemon, whoever called ``connect``. Raises OSError when
    the credentials cannot be read.
    """
    if sys.platform.startswith("linux"):
        raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _UCRED.size)
        pid, uid, _gid = _UCRED.unpack(raw)
        return uid, pid
    raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED_BYTES)
    _version, uid = _XUCRED_HEAD.unpack_from(raw)
    return uid, 0


def check_peer(sock: _socket.socket, socket_path: Path) -> None:
    """The listener at the other end of ``sock`` runs as our uid; else NotOurDaemon (nothing has been sent yet)."""
    try:
        uid, _pid = peer_credentials(sock)
    except OSError as exc:
        raise NotOurDaemon(socket_path, "the listener", None, f"cannot be identified ({exc.strerror})") from None
    if uid != os.getuid():
        raise NotOurDaemon(socket_path, "the process listening there", uid)


def connect_verified(sock: _socket.socket, socket_path: str | os.PathLike[str]) -> None:
    """Connect ``sock`` to ``socket_path``, checking the directory before and the peer after; send nothing.

    Raises NotOurDaemon (the socket is left connected: the caller closes it), or OSError from ``connect``.
    """
    socket_path = Path(socket_path)
    check_socket_dir(socket_path)
    sock.connect(os.fspath(socket_path))
    check_peer(sock, socket_path)
