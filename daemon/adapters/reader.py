"""Incremental transcript reading: from where the last read stopped, safe on any file a hook names.

A transcript grows by appending, so each hook event reads only the bytes added since the previous one: the cost
of a hook on turn 5,000 is the cost on turn 5. The ``Cursor`` remembers, per transcript, the offset of the first
byte not yet consumed and enough to notice that the file is no longer the one read before:

* another inode or device: the file was rotated or replaced;
* a size below the offset: it was truncated;
* a different hash of its first ``HEAD_BYTES`` or of the ``TAIL_BYTES`` that end at the offset: it was
  rewritten in place.

Any of these starts the file over from byte 0 with a fresh parse state (rows already journaled are deduplicated
by their message ids, so a restart repeats no row).

Hostile input: the file may be anything a same-uid process names. A FIFO, device or directory is refused without
ever being opened for reading (``open_regular``: on Linux an ``O_PATH`` handle is checked with fstat and only a
regular file is reopened through it; elsewhere the path is stat'ed, opened ``O_NONBLOCK | O_NOCTTY`` and
checked to be the same regular file), so naming a tape drive, a terminal or a FIFO with a waiting writer has no
effect on it. A line longer than ``MAX_LINE_BYTES`` is skipped (the
cursor moves through it without holding it; ``None`` stands in its place); an incomplete last line (no newline
yet) is never consumed, so a half-written event is read whole next time. One call reads at most ``max_bytes``;
the caller loops while ``Slice.more``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Final

import msgspec

from llmojid.daemon.adapters.base import Line, ParseState

#: Longest line parsed. Real Claude Code lines reach a few MiB (a pasted screenshot, a large tool result); a
#: line over this is skipped, not loaded.
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
#: Most bytes one read consumes before the caller commits and asks again (bounds memory and a transaction).
MAX_SLICE_BYTES: Final = 32 * 1024 * 1024
READ_CHUNK: Final = 1024 * 1024
HEAD_BYTES: Final = 4096
TAIL_BYTES: Final = 256


class NotReadable(Exception):
    """The path is not a readable regular file. The message names the reason, never the path or content."""


_O_PATH: Final = getattr(os, "O_PATH", 0)
_READ_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str, what: str = "transcript") -> int:
    """A read-only descriptor of ``path`` if it is a regular file; NotReadable otherwise, and then a FIFO, device,
    socket or directory was never opened for reading (opening some devices acts: a tape rewinds, a terminal may
    become ours, a FIFO's blocked writer wakes). Blocking: run it in a worker thread (a hung mount blocks here).
    """
    try:
        if _O_PATH:
            handle = os.open(path, _O_PATH | getattr(os, "O_CLOEXEC", 0))
            try:
                if not stat.S_ISREG(os.fstat(handle).st_mode):
                    raise NotReadable(f"the {what} is not a regular file")
                # Reopening the very inode the handle holds: no window for a swap between check and open.
                fd = os.open(f"/proc/self/fd/{handle}", _READ_FLAGS)
            finally:
                os.close(handle)
        else:
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise NotReadable(f"the {what} is not a regular file")
            fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        raise NotReadable(f"cannot open the {what} ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the stat and the open (no O_PATH)
            raise NotReadable(f"the {what} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


class Cursor(msgspec.Struct, kw_only=True):
    """How far a transcript has been read, and how to recognise it again. Stored sealed (it holds hashes of the
    transcript and, in ``state``, the latest prompt)."""

    offset: int = 0
    device: int = 0
    inode: int = 0
    head_len: int = 0
    head_hash: bytes = b""
    tail_hash: bytes = b""
    #: The offset lies inside an over-long line: skip to its newline before reading lines again.
    skipping: bool = False
    state: ParseState = msgspec.field(default_factory=ParseState)


@dataclass
class Slice:
    lines: list[Line]
    #: The cursor after ``lines`` (its ``state`` is the one to parse ``lines`` with).
    cursor: Cursor
    #: Stopped at ``max_bytes`` with more complete data to read.
    more: bool
    #: The file was rotated, truncated or rewritten: reading started over.
    restarted: bool


def _hash(fd: int, offset: int, length: int) -> bytes:
    return hashlib.sha256(os.pread(fd, length, offset)).digest()[:16] if length > 0 else b""


def _same_file(fd: int, st: os.stat_result, cursor: Cursor) -> bool:
    if (st.st_dev, st.st_ino) != (cursor.device, cursor.inode) or st.st_size < cursor.offset:
        return False
    if cursor.head_len and _hash(fd, 0, cursor.head_len) != cursor.head_hash:
        return False
    tail = min(TAIL_BYTES, cursor.offset)
    return not tail or _hash(fd, cursor.offset - tail, tail) == cursor.tail_hash


def read_slice(
    path: str,
    cursor: Cursor,
    fresh_state: ParseState,
    *,
    max_bytes: int = MAX_SLICE_BYTES,
    max_line: int = MAX_LINE_BYTES,
) -> Slice:
    """Read the complete lines after ``cursor`` (blocking: run it in a worker thread).

    ``fresh_state`` is the parse state a restart begins with. Raises NotReadable.
    """
    fd = open_regular(path)
    try:
        st = os.fstat(fd)
        started = cursor.offset > 0 or cursor.head_len > 0 or cursor.skipping
        restarted = started and not _same_file(fd, st, cursor)
        if restarted or not started:
            cursor = Cursor(state=fresh_state)
        lines, consumed, skipping, more = _read_lines(
            fd, cursor.offset, cursor.skipping, st.st_size, max_bytes, max_line
        )
        head_len = min(HEAD_BYTES, consumed)
        head_hash = cursor.head_hash if head_len == cursor.head_len else _hash(fd, 0, head_len)
        tail = min(TAIL_BYTES, consumed)
        new = msgspec.structs.replace(
            cursor,
            offset=consumed,
            device=st.st_dev,
            inode=st.st_ino,
            head_len=head_len,
            head_hash=head_hash,
            tail_hash=_hash(fd, consumed - tail, tail),
            skipping=skipping,
        )
        return Slice(lines=lines, cursor=new, more=more, restarted=restarted)
    except OSError as exc:
        raise NotReadable(f"cannot read the transcript ({exc.strerror})") from None
    finally:
        os.close(fd)


def _read_lines(
    fd: int, start: int, skipping: bool, size: int, max_bytes: int, max_line: int
) -> tuple[list[Line], int, bool, bool]:
    """Lines from ``start`` up to ``size``: (lines, offset after the last consumed byte, skipping, more)."""
    lines: list[Line] = []
    partial = bytearray()
    pos = consumed = start
    # More than one line's worth, so that every call consumes at least one line (or skips into a long one).
    budget_end = start + max(max_bytes, max_line + 1)
    while pos < min(size, budget_end):
        chunk = os.pread(fd, min(READ_CHUNK, size - pos, budget_end - pos), pos)
        if not chunk:
            break  # the file shrank under us; the next read notices
        base = pos
        pos += len(chunk)
        at = 0
        while True:
            newline = chunk.find(b"\n", at)
            if newline < 0:
                if skipping:
                    consumed = pos  # still inside the over-long line: move through it
                else:
                    partial += chunk[at:]
                    if len(partial) > max_line:
                        skipping = True
                        partial.clear()
                        consumed = pos
                break
            piece = chunk[at:newline]
            if skipping:
                lines.append(None)
                skipping = False
            elif len(partial) + len(piece) > max_line:
                lines.append(None)
            else:
                lines.append(bytes(partial + piece) if partial else piece)
            partial.clear()
            consumed = base + newline + 1
            at = newline + 1
    return lines, consumed, skipping, pos < size
