"""Where llmojid keeps things. Standard library only: the hook path imports this.

Linux follows the XDG base directories (the same answers platformdirs gives; a test holds the two together), macOS
its Library folders. ``LLMOJID_SOCKET`` (or ``--socket``) overrides the socket path.
"""

from __future__ import annotations

import os
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
    """The per-user directory that holds the socket (0700, checked by the daemon before binding)."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and os.path.isabs(base):
        return Path(base) / APP
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / APP / "run"
    import tempfile  # only on this fallback: the hook path imports this module, and tempfile is costly

    return Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"


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
