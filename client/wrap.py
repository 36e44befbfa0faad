"""``llmojid-ctl wrap -- CMD [ARGS]``: run an interactive program in a pseudo-terminal and record key timing.

The program runs on a pty of its own, so it sees a terminal exactly as without us: the window size is
copied at start and on every SIGWINCH, our terminal is put in raw mode (the program's pty does the line
discipline: echo, ^C, ^Z), termination signals sent to us are passed on, and our exit status is the
program's (128 + N when it died of signal N, as shells report it).

What is recorded, and what is not: for every chunk read from the keyboard we write the bytes to the
program first, then turn the chunk into key events ``(monotonic press ms, no release, key class)`` with
:func:`KeyClassifier.feed`; the bytes themselves are dropped right there and never leave this process
(not in a message, not in a log, not in an error). A terminal only delivers bytes, so there are no
release times, and a paste (bracketed, or too many keys in one read) is one PASTE event.

Never blocking typing: events go into a bounded queue; a separate thread batches them into ``Keystrokes``
messages (flushing at once on Enter, so the daemon can date the prompt) and sends them with the blocking
client. When the daemon is away or slow, or the socket is not our daemon's (``llmojid.common.socket_trust``,
checked on every connection before a byte is sent), the thread drops the batch and retries a little later; when the
queue is full, the I/O loop drops the event. Either way the keyboard path never waits for the daemon.

Resource handling: ``run`` owns the pty master, the child process and the sender thread; all are released
before it returns, and the terminal mode is restored even when the loop fails.
Error handling: a program that cannot be started is reported (exit 127, as shells do); pty and terminal
errors end the session with the terminal restored.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import queue
import secrets
import select
import signal
import struct
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from llmojid.client import protocol as p
from llmojid.client.connection import DaemonImpostor

#: Key events sent in one Keystrokes message at most (well under the protocol's per-batch limit).
BATCH_MAX_EVENTS = 256
#: Pending events are sent at least this often while typing continues without an Enter.
FLUSH_SECONDS = 1.0
#: After the daemon did not answer, wait this long before trying again (events meanwhile are dropped).
RETRY_SECONDS = 5.0
#: How long the sender waits for the daemon's reply to one batch (it runs off the keyboard path).
SEND_TIMEOUT_SECONDS = 2.0
#: Events waiting for the sender thread; beyond this they are dropped rather than queued without bound.
QUEUE_MAX_EVENTS = 20_000
#: A single read that holds more keys than this is a paste, not typing (a human cannot press this many
#: keys within one read of a terminal, which returns as soon as a byte arrives).
PASTE_MIN_KEYS = 6
#: On exit, the sender gets this long to deliver what is still queued.
EXIT_FLUSH_SECONDS = 1.0
READ_BYTES = 65_536
SOURCE_KIND = "wrap"

_BRACKET_START = b"\x1b[200~"
_BRACKET_END = b"\x1b[201~"
#: CSI sequences that are deletions (the Delete key sends ESC [ 3 ~).
_DELETE_SEQUENCES = frozenset({b"\x1b[3~"})


# --- the classifier (pure) -------------------------------------------------------------------------
def _tokens(data: bytes) -> list[int]:
    """Split keyboard bytes into key classes, one per key; never keeps a byte.

    ESC sequences (CSI ``ESC [ ... final``, SS3 ``ESC O x``, Alt+key ``ESC x``) are one NAV key each, the
    Delete sequence is a BACKSPACE; a UTF-8 multi-byte character is one CHAR.
    """
    out: list[int] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x1B:  # escape
            j = i + 1
            if j < n and data[j] == 0x5B:  # CSI: parameters until a final byte 0x40-0x7e
                j += 1
                while j < n and not 0x40 <= data[j] <= 0x7E:
                    j += 1
                j = min(j + 1, n)
            elif j < n and data[j] == 0x4F:  # SS3: one more byte
                j = min(j + 2, n)
            elif j < n:  # Alt + key
                j += 1
            out.append(p.KeyClass.BACKSPACE if data[i:j] in _DELETE_SEQUENCES else p.KeyClass.NAV)
            i = j
            continue
        if b in (0x0D, 0x0A):
            out.append(p.KeyClass.ENTER)
        elif b == 0x09:
            out.append(p.KeyClass.TAB)
        elif b in (0x7F, 0x08):
            out.append(p.KeyClass.BACKSPACE)
        elif b == 0x20:
            out.append(p.KeyClass.SPACE)
        elif b < 0x20:
            out.append(p.KeyClass.NAV)  # other control keys (^A, ^C, ^D ...) move or act, they do not type
        elif 0x80 <= b < 0xC0:
            pass  # UTF-8 continuation byte: part of the character already counted
        else:
            out.append(p.KeyClass.CHAR)
        i += 1
    return out


@dataclass
class KeyClassifier:
    """Turns keyboard chunks into key events. Keeps one bit of state: inside a bracketed paste or not."""

    in_paste: bool = False

    def feed(self, data: bytes, now_ms: float) -> list[p.KeyEvent]:
        """Events for one chunk read at ``now_ms``. The chunk is not stored."""
        events: list[p.KeyEvent] = []
        while data:
            if self.in_paste:
                end = data.find(_BRACKET_END)
                if end < 0:
                    return events  # the paste goes on in the next chunk; its event is already out
                self.in_paste = False
                data = data[end + len(_BRACKET_END) :]
                continue
            start = data.find(_BRACKET_START)
            head = data if start < 0 else data[:start]
            events.extend(self._keys(head, now_ms))
            if start < 0:
                break
            events.append(p.KeyEvent(now_ms, None, int(p.KeyClass.PASTE)))
            self.in_paste = True
            data = data[start + len(_BRACKET_START) :]
        return events

    @staticmethod
    def _keys(data: bytes, now_ms: float) -> list[p.KeyEvent]:
        classes = _tokens(data)
        if len(classes) > PASTE_MIN_KEYS:
            paste = [p.KeyEvent(now_ms, None, int(p.KeyClass.PASTE))]
            if classes[-1] == p.KeyClass.ENTER:  # a pasted line that ends in a newline submits the prompt
                paste.append(p.KeyEvent(now_ms, None, int(p.KeyClass.ENTER)))
            return paste
        return [p.KeyEvent(now_ms, None, int(c)) for c in classes]


# --- the sender thread -----------------------------------------------------------------------------
@dataclass
class Sender:
    """Batches events from a queue and sends them to the daemon from its own thread.

    ``connect`` is called in the thread to open a client (anything with ``request`` and ``close``); any
    exception from it or from a request counts as "daemon away": the batch is dropped and the next
    attempt waits RETRY_SECONDS. Counters say how many events were sent and dropped (no content).
    """

    connect: Callable[[], object]
    source: str = field(default_factory=lambda: f"{SOURCE_KIND}/{secrets.token_hex(4)}")
    events: queue.Queue[p.KeyEvent | None] = field(default_factory=lambda: queue.Queue(QUEUE_MAX_EVENTS))
    #: The newest batch could not be delivered because the daemon was away.
    daemon_away: bool = False
    #: Why the socket was refused as not our daemon's (it names the path and the owner), if it was.
    refusal: str = ""
    sent: int = 0
    dropped: int = 0
    _thread: threading.Thread | None = None
    _client: object | None = None
    _retry_at: float = 0.0

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="llmojid-wrap-sender", daemon=True)
        self._thread.start()
        return self

    def put(self, batch: Sequence[p.KeyEvent]) -> None:
        """Called on the I/O path: never blocks; drops events when the queue is full."""
        for event in batch:
            try:
                self.events.put_nowait(event)
            except queue.Full:
                self.dropped += 1

    def stop(self, timeout: float = EXIT_FLUSH_SECONDS) -> None:
        """Ask the thread to send what is queued and finish; wait at most ``timeout``."""
        with contextlib.suppress(queue.Full):
            self.events.put(None, timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still waiting on the daemon: it is a daemon thread, process exit ends it
        self._close_client()

    def _run(self) -> None:
        """Flush on Enter (the daemon dates the prompt by arrival), when full, or every FLUSH_SECONDS."""
        pending: list[p.KeyEvent] = []
        deadline = time.monotonic() + FLUSH_SECONDS
        while True:
            try:
                item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                flush = True
            else:
                if item is None:  # stop: send the rest and finish
                    self._send(pending)
                    return
                pending.append(item)
                flush = item.key_class == p.KeyClass.ENTER or len(pending) >= BATCH_MAX_EVENTS
            if flush:
                self._send(pending)
                pending = []
                deadline = time.monotonic() + FLUSH_SECONDS

    def _send(self, batch: list[p.KeyEvent]) -> None:
        if not batch:
            return
        if time.monotonic() < self._retry_at:
            self.dropped += len(batch)
            return
        try:
            if self._client is None:
                self._client = self.connect()
            self._client.request(p.Keystrokes(source=self.source, events=batch))  # type: ignore[attr-defined]
            self.sent += len(batch)
            self.daemon_away = False
        except Exception as exc:  # any failure means "daemon away": typing must go on, timing is dropped
            self.dropped += len(batch)
            self.daemon_away = True
            if isinstance(exc, DaemonImpostor):  # nothing was sent to it; said once the program has finished
                self.refusal = str(exc)
            self._close_client()
            self._retry_at = time.monotonic() + RETRY_SECONDS

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()  # type: ignore[attr-defined]


def blocking_connect(socket_path: Path) -> Callable[[], object]:
    """A factory for the CLI's blocking client on ``socket_path`` with the sender's short timeout."""

    def connect() -> object:
        from llmojid.client.connection import Client

        return Client(socket_path, timeout=SEND_TIMEOUT_SECONDS, client_name="llmojid-wrap")

    return connect


# --- the pty session -------------------------------------------------------------------------------
#: Signals sent to the wrapper that are meant for the program. (In raw mode ^C and ^Z are bytes that the
#: program's own pty turns into signals; these are the ones that come from outside, e.g. ``kill``.)
_FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
#: How often the relay checks whether the program has exited although its pty is still held open (by a
#: background job it started).
_CHILD_POLL_SECONDS = 0.5


def _copy_winsize(src_fd: int, dst_fd: int) -> None:
    """Give the program's pty our terminal's size (the kernel then sends it SIGWINCH)."""
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(src_fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        fcntl.ioctl(dst_fd, termios.TIOCSWINSZ, size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run(argv: Sequence[str], sender: Sender | None) -> int:
    """Run ``argv`` on a new pty, relay the terminal, record key timing into ``sender``; return its status.

    ``sender`` may be None (record nothing). Standard input, output and error of this process are the
    user's terminal (or pipes: then there is no raw mode and no window size to copy).
    """
    if not argv:
        raise ValueError("no program given")
    stdin_fd, stdout_fd = sys.stdin.fileno(), sys.stdout.fileno()
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is now its controlling terminal and stdio
        try:
            os.execvp(argv[0], list(argv))  # noqa: S606 - running the user's program is the point
        except OSError as exc:
            os.write(2, f"llmojid-ctl wrap: cannot run {argv[0]}: {exc.strerror}\r\n".encode())
        os._exit(127)

    interactive = os.isatty(stdin_fd)
    saved_mode = termios.tcgetattr(stdin_fd) if interactive else None
    if interactive:
        _copy_winsize(stdin_fd, master)

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def resize(_signum: int, _frame: FrameType | None) -> None:
        _copy_winsize(stdin_fd, master)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED_SIGNALS}
    previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, resize)
    classifier = KeyClassifier()
    status: int | None = None
    try:
        if interactive:
            tty.setraw(stdin_fd, termios.TCSANOW)
        if sender is not None:
            sender.start()
        status = _relay(pid, master, stdin_fd, stdout_fd, classifier, sender)
    finally:
        if saved_mode is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(stdin_fd, termios.TCSAFLUSH, saved_mode)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):
            os.close(master)
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
            _, status = os.waitpid(pid, 0)
        if sender is not None:
            sender.stop()
    return _exit_code(status)


def _relay(
    pid: int, master: int, stdin_fd: int, stdout_fd: int, classifier: KeyClassifier, sender: Sender | None
) -> int:
    """Copy keyboard -> program and program -> screen until the program exits; returns its wait status."""
    inputs = [master, stdin_fd]
    while True:
        readable, _, _ = select.select(inputs, [], [], _CHILD_POLL_SECONDS)
        if not readable:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                _drain(master, stdout_fd)
                return status
            continue
        if master in readable:
            try:
                output = os.read(master, READ_BYTES)
            except OSError as exc:  # EIO: the program closed its side of the pty
                if exc.errno != errno.EIO:
                    raise
                output = b""
            if not output:
                break
            _write_all(stdout_fd, output)
        if stdin_fd in readable:
            data = os.read(stdin_fd, READ_BYTES)
            now_ms = time.monotonic() * 1000.0
            if not data:  # our input ended: tell the program (VEOF), stop reading
                inputs.remove(stdin_fd)
                with contextlib.suppress(OSError):
                    _write_all(master, b"\x04")
                continue
            _write_all(master, data)  # the program gets its bytes first ...
            events = classifier.feed(data, now_ms)  # ... then only the timing and classes remain
            del data
            if sender is not None and events:
                sender.put(events)
    _, status = os.waitpid(pid, 0)
    return status


def _drain(master: int, stdout_fd: int) -> None:
    """Copy what the exited program left in its pty to the screen, without waiting for more."""
    while select.select([master], [], [], 0)[0]:
        try:
            output = os.read(master, READ_BYTES)
        except OSError:
            return
        if not output:
            return
        _write_all(stdout_fd, output)
