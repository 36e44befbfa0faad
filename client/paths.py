"""Where llmojid keeps things. Standard library only: the hook path imports this.

Linux follows the XDG base directories (the same answers platformdirs gives; a test holds the two together), macOS
its Library folders. ``LLMOJID_SOCKET`` (or ``--socket``) overrides the socket path.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

APP = "llmojid"
SOCKET_NAME = "llmojid.sock"


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else _home() / default


def runtime_dir() -> Path:
    """The per-user directory that holds the socket (0700, checked by the daemon before binding).

    Without ``XDG_RUNTIME_DIR`` (ssh without pam_systemd, containers, ``su``, cron) there is no private place for
    it, and a predictable name under the temp dir can be made first by another user. The daemon then creates the
    directory with ``mkdtemp`` (a name nobody can take first) and writes its path into the state directory, where
    only we can write (``runtime_dir_record``); clients read it there. Until a daemon has recorded one, the answer
    is a path inside the state directory that does not exist (so: "not reachable", never someone else's socket).
    """
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and os.path.isabs(base):
        return Path(base) / APP
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / APP / "run"
    return recorded_runtime_dir() or state_dir() / "no-runtime-dir-yet"


def needs_recorded_runtime_dir() -> bool:
    """True where ``runtime_dir`` is the temp-dir fallback that the daemon creates and records."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    return not (base and os.path.isabs(base)) and sys.platform != "darwin"


def runtime_dir_record() -> Path:
    """Where the daemon records the fallback socket directory it made (a file of ours in the 0700 state dir)."""
    return state_dir() / "runtime-dir"


def recorded_runtime_dir() -> Path | None:
    """The recorded fallback directory, if the record is a regular file of ours that no one else could write."""
    record = runtime_dir_record()
    try:
        fd = os.open(record, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        text = os.read(fd, 4097).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    return Path(text) if text and os.path.isabs(text) and "\n" not in text else None


def socket_path(override: str | None = None) -> Path:
    chosen = override or os.environ.get("LLMOJID_SOCKET", "")
    return Path(chosen) if chosen else runtime_dir() / SOCKET_NAME


def state_dir() -> Path:
    """Database, spool and daemon public key."""
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def config_dir() -> Path:
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def data_dir() -> Path:
    """User-installed models and other large read-only data."""
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def spool_dir() -> Path:
    return state_dir() / "spool"


def spool_public_key_path() -> Path:
    """The daemon's X25519 public key (raw 32 bytes): hooks seal to it when the daemon is away."""
    return state_dir() / "spool.pub"


def database_path() -> Path:
    return state_dir() / "llmojid.db"
