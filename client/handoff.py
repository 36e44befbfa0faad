"""Hand-off files: how a harness that cannot pipe to a hook (OpenCode) gives it a message. Standard library only.

OpenCode exits within tens of milliseconds of a turn's end without waiting for a plugin's children, so a payload
piped to a child can be cut off. Our plugin writes each finished message to a file of its own (0600, in a 0700
directory, ``<runtime dir>/opencode/``) and starts ``llmojid-ctl hook opencode <file>`` detached; the hook reads
the file, sends it (or spools it, sealed), and removes it. The file holds message text in plaintext for that
moment only, on the runtime directory (a tmpfs on most Linux systems).

Every check on a hand-off file is here, before a byte of it is read, and the hook never reads or removes a file
that fails one: the name must be one the plugin writes (``msg-*.json``), the file a regular file of ours (not a
link) that no one else can read or write, its directory a directory of ours that no one else can enter, its
size within the hook's payload limit. So a mistaken or hostile path never makes the hook read or delete a file
that is not a hand-off.

A hook that is killed before it removes its file leaves it behind; the next hook for the same directory picks up
such leftovers (older than ``ORPHAN_AGE_SECONDS``, at most ``MAX_ORPHANS`` per call), so a message is neither
lost nor left in plaintext for long.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

NAME_PREFIX = "msg-"
NAME_SUFFIX = ".json"
#: A hand-off this old was left by a hook that did not finish (a live one is removed within the hook's budget).
ORPHAN_AGE_SECONDS = 30.0
MAX_ORPHANS = 32


class NotAHandoff(Exception):
    """The path is not a hand-off file the hook may read and remove. Names the reason, never the path's data."""


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & 0o077


def is_handoff_name(name: str) -> bool:
    stem = name[len(NAME_PREFIX) : -len(NAME_SUFFIX)] if name.startswith(NAME_PREFIX) else ""
    return name.endswith(NAME_SUFFIX) and bool(stem) and all(c.isalnum() or c in "-_." for c in stem)


def check_directory(directory: str) -> None:
    """Raise NotAHandoff unless ``directory`` is a real directory of ours that only we can enter."""
    try:
        st = os.lstat(directory)
    except OSError as exc:
        raise NotAHandoff(f"the hand-off directory cannot be read ({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode) or not _private(st):
        raise NotAHandoff("the hand-off directory is not a private directory of ours")


def read(path: str, max_bytes: int) -> bytes:
    """The contents of a hand-off file, after every check (module docstring). Raises NotAHandoff."""
    if not os.path.isabs(path) or not is_handoff_name(os.path.basename(path)):
        raise NotAHandoff("not a hand-off file name")
    check_directory(os.path.dirname(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise NotAHandoff(f"the hand-off file cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st):
            raise NotAHandoff("the hand-off file is not a private regular file of ours")
        if st.st_size > max_bytes:
            raise NotAHandoff("the hand-off file is over the size limit")
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def remove(path: str) -> None:
    with contextlib.suppress(OSError):  # already gone: another hook took it as an orphan
        os.unlink(path)


def orphans(directory: str, *, skip: str, now: float | None = None) -> list[str]:
    """Hand-off files in ``directory`` older than ORPHAN_AGE_SECONDS, oldest name first (names sort by time)."""
    limit = (time.time() if now is None else now) - ORPHAN_AGE_SECONDS
    found: list[str] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name == skip or not is_handoff_name(entry.name):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < limit:
                        found.append(entry.path)
                except OSError:
                    continue
    except OSError:
        return []
    return sorted(found)[:MAX_ORPHANS]
