"""``llmojid-ctl hook <harness>``: what a coding assistant runs after every turn. Standard library only.

A hook runs on every turn, so its cost is the most felt number of the product: this module imports the standard
library and ``llmojid.client.minipack`` / ``llmojid.client.paths`` / ``llmojid.common.socket_trust`` /
``llmojid.common.spool_format`` (all standard-library only) and nothing else on its fast path. ``import msgspec``
alone would cost more than the whole budget, so the two frames the hook sends (``Hello`` and ``HookEvent``) are
written with minipack, and the harness's payload is carried as-is: the daemon decodes it and reads the transcript
it names.

The promises, in order of importance:

1. **Exit 0, always**, and print exactly what the harness expects: ``{}`` for Hermes and Antigravity, nothing for
   the others. A hook that fails or prints junk can stall or confuse the assistant, which matters more than one
   journal row.
2. **Never block**: the daemon's ack is awaited for at most the budget (``LLMOJID_HOOK_TIMEOUT_MS``, else
   ``hook_timeout_ms`` in ``config.toml``, else 300 ms), counted from the end of the payload; a stdin that is
   never closed is given up on after ``STDIN_IDLE_SECONDS`` of silence.
3. **Never lose**: without an ack in time (no daemon, a daemon that is starting, a slow disk, a payload too large
   for one frame, or a socket that is not our daemon's: ``socket_trust`` checks its directory and the listener's
   uid before the first byte is sent), the payload is sealed to the daemon's X25519 public key
   (``paths.spool_public_key_path()``, written by the daemon when it starts; the private half lives only in the OS
   keyring) into a 0600 file in ``paths.spool_dir()``. The daemon drains those files in name order. Only this slow
   path imports ``cryptography`` (about 30 ms of imports): it runs when the daemon is away, when time no longer
   matters.
   Nothing is ever written in plaintext. If the daemon has never run (no public key), the event cannot be sealed
   and is not recorded; one line on stderr says so (transcript-based harnesses can still be imported later).

OpenCode cannot pipe to a hook (it exits right after a turn): its plugin writes each message to a private
hand-off file and runs ``llmojid-ctl hook opencode <file>`` detached; the hook checks that file
(``llmojid.client.handoff``: every check is there), sends its contents as the payload, and removes it.

Duplicates are harmless by design: an event that the daemon committed but whose ack came too late is also
spooled, and the journal's (harness, session, message id) key stores the rows once.

The spool file format is ``llmojid.common.spool_format`` (shared with the daemon, which opens the files).

Error handling: every failure ends in the same place (exit 0 with the harness's output); stderr gets one line
only when an event could not be kept at all. No payload byte ever reaches stderr.
"""

from __future__ import annotations

import _socket  # socket.py would add enum and selectors to the hook's imports; the C module is all it needs
import contextlib
import os
import select
import stat
import struct
import sys
import time
from pathlib import Path

from llmojid.client import minipack, paths
from llmojid.common import socket_trust
from llmojid.common.spool_format import (
    MAX_PAYLOAD_BYTES,
    NONCE_BYTES,
    SPOOL_INFO,
    SPOOL_MAGIC,
    SPOOL_SUFFIX,
    SPOOL_TMP_PREFIX,
    X25519_KEY_BYTES,
)

#: Must equal ``llmojid.client.protocol.PROTOCOL_VERSION`` (a test holds them together; importing the protocol
#: module would import msgspec).
PROTOCOL_VERSION = 1
#: The protocol's frame limit (``protocol.MAX_FRAME_BYTES``), and what a HookEvent frame adds around the payload.
MAX_FRAME_BYTES = 4 * 1024 * 1024
FRAME_OVERHEAD = 1024
#: A harness that never closes our stdin: after this long without a byte, what arrived is the payload.
STDIN_IDLE_SECONDS = 2.0
DEFAULT_TIMEOUT_MS = 300
MIN_TIMEOUT_MS = 1
MAX_TIMEOUT_MS = 60_000
TIMEOUT_ENV = "LLMOJID_HOOK_TIMEOUT_MS"
#: What each harness expects on stdout. Claude Code and Codex read hook stdout as optional JSON or plain context:
#: printing nothing is the neutral answer. Hermes reads a JSON object and ``{}`` means "no change". Gemini CLI
#: shows plain stdout as a "Hook system message", so it gets nothing; Antigravity reads a JSON object, ``{}``
#: (no ``decision``) lets the agent stop.
OUTPUT = {"hermes": b"{}\n", "agy": b"{}\n"}
#: Harnesses whose plugin hands the hook a file instead of a pipe (``llmojid.client.handoff``); stdin is not read.
HANDOFF_HARNESSES = frozenset({"opencode"})

_HEADER = struct.Struct(">I")


class _NoAck(Exception):
    """The daemon did not acknowledge in time (or at all). Never carries payload data."""


def main(argv: list[str]) -> int:
    """Entry from ``llmojid.client.entry``: ``argv`` is everything after the program name."""
    harness, socket_override, handoff = _parse_argv(argv)
    try:
        if harness in HANDOFF_HARNESSES:
            _send_handoffs(harness, handoff, socket_override)
        else:
            payload = _read_stdin()
            if payload is not None and harness:
                _send(harness, payload, socket_override)
    except BaseException:  # noqa: S110 - promise 1: a hook never fails its harness
        pass
    _write_output(harness)
    return 0


def _send(harness: str, payload: bytes, socket_override: str | None) -> None:
    """Deliver one payload within the budget, else spool it sealed (promises 2 and 3)."""
    deadline = time.monotonic() + _timeout_ms() / 1000.0
    if len(payload) + FRAME_OVERHEAD > MAX_FRAME_BYTES or not _deliver(
        harness, payload, paths.socket_path(socket_override), deadline
    ):
        _spool_or_warn(harness, payload)


def _send_handoffs(harness: str, path: str, socket_override: str | None) -> None:
    """Send the hand-off file the plugin named, then any leftovers of killed hooks beside it; remove each once it
    is delivered or spooled (or cannot be either: it is never left in plaintext). A path that fails the checks in
    ``handoff`` is neither read nor removed."""
    from llmojid.client import handoff

    if not path:
        return
    todo = [path]
    try:
        handoff.check_directory(os.path.dirname(path))
        todo += handoff.orphans(os.path.dirname(path), skip=os.path.basename(path))
    except handoff.NotAHandoff:
        return
    for item in todo:
        try:
            payload = handoff.read(item, MAX_PAYLOAD_BYTES)
        except handoff.NotAHandoff:
            continue
        try:
            if payload:
                _send(harness, payload, socket_override)
        finally:
            handoff.remove(item)


# --- arguments and settings -----------------------------------------------------------------------------------------
def _parse_argv(argv: list[str]) -> tuple[str, str | None, str]:
    """The harness name after ``hook``, a ``--socket`` override and the hand-off file named after the harness
    (OpenCode's plugin passes one). Unknown words are ignored, never fatal."""
    socket_override: str | None = None
    words: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--socket" and i + 1 < len(argv):
            socket_override = argv[i + 1]
            i += 2
            continue
        if word.startswith("--socket="):
            socket_override = word.split("=", 1)[1]
        elif not word.startswith("-"):
            words.append(word)
        i += 1
    if words and words[0] == "hook":
        words = words[1:]
    return (words[0] if words else ""), socket_override, (words[1] if len(words) > 1 else "")


def _timeout_ms() -> int:
    """The ack budget: the environment, else ``hook_timeout_ms`` in config.toml, else the default."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    value: object = None
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = None
    if value is None:
        value = _config_timeout()
    if not isinstance(value, int) or isinstance(value, bool):
        return DEFAULT_TIMEOUT_MS
    return min(max(value, MIN_TIMEOUT_MS), MAX_TIMEOUT_MS)


def _config_timeout() -> object:
    """``hook_timeout_ms`` from config.toml, read only when the file exists (tomllib is imported only then).

    A file another user could write is ignored here (the daemon and the CLI refuse it with a clear error).
    """
    path = paths.config_dir() / "config.toml"
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    try:
        import tomllib

        with open(path, "rb") as f:
            return tomllib.load(f).get("hook_timeout_ms")
    except Exception:
        return None


def _read_stdin() -> bytes | None:
    """The harness's payload, read until EOF. None when there is none or it is over the limit.

    A harness closes our stdin once it has written the event; one that does not must not hang us: after
    ``STDIN_IDLE_SECONDS`` without a byte, what arrived is the payload.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], STDIN_IDLE_SECONDS)
        except (OSError, ValueError):
            break
        if not ready:
            break
        chunk = os.read(fd, 1024 * 1024)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            sys.stderr.write("llmojid: hook payload over the size limit; this turn was not recorded\n")
            return None
    return b"".join(chunks) or None


def _write_output(harness: str) -> None:
    out = OUTPUT.get(harness, b"")
    if not out:
        return
    try:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except (OSError, ValueError):
        pass  # the harness closed our stdout; there is no one left to tell


# --- the fast path: Hello + HookEvent over the socket ---------------------------------------------------------------
def frame(message: dict[str, minipack.Value]) -> bytes:
    """One protocol frame (length prefix + msgpack body), as ``llmojid.client.protocol.encode`` writes it."""
    body = minipack.encode(message)
    return _HEADER.pack(len(body)) + body


def hook_frames(harness: str, payload: bytes) -> bytes:
    """The two frames the hook sends, pipelined: Hello (id 1) and HookEvent (id 2)."""
    hello: dict[str, minipack.Value] = {"type": "Hello", "id": 1, "version": PROTOCOL_VERSION, "client": "hook"}
    event: dict[str, minipack.Value] = {"type": "HookEvent", "id": 2, "harness": harness, "payload": payload}
    return frame(hello) + frame(event)


def _deliver(harness: str, payload: bytes, socket_path: Path, deadline: float) -> bool:
    """Send the event; True only when the daemon acknowledged it (its rows are committed) before the deadline."""
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        _set_timeout(sock, deadline)
        # Not ours (a directory or a listener of another user): send nothing, the caller spools instead.
        socket_trust.connect_verified(sock, socket_path)
        _set_timeout(sock, deadline)
        sock.sendall(hook_frames(harness, payload))
        reader = _FrameReader(sock, deadline)
        welcome = reader.next_message()
        if welcome.get("type") != "Welcome":
            return False
        ack = reader.next_message()
        return ack.get("type") == "HookAck" and ack.get("id") == 2
    except (OSError, _NoAck, ValueError, socket_trust.NotOurDaemon):
        return False
    finally:
        sock.close()


def _set_timeout(sock: _socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _NoAck("budget spent")
    sock.settimeout(remaining)


class _FrameReader:
    """Reads whole frames from a blocking socket within a deadline; judges each length before reading a body."""

    def __init__(self, sock: _socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _fill(self, n: int) -> None:
        while len(self.buffer) < n:
            _set_timeout(self.sock, self.deadline)
            chunk = self.sock.recv(max(n - len(self.buffer), 4096))
            if not chunk:
                raise _NoAck("connection closed")
            self.buffer += chunk

    def next_message(self) -> dict[str, minipack.Value]:
        self._fill(_HEADER.size)
        (length,) = _HEADER.unpack_from(self.buffer)
        if length > MAX_FRAME_BYTES:
            raise _NoAck("reply frame too large")
        self._fill(_HEADER.size + length)
        body = self.buffer[_HEADER.size : _HEADER.size + length]
        self.buffer = self.buffer[_HEADER.size + length :]
        value = minipack.decode(body)
        if not isinstance(value, dict):
            raise _NoAck("reply is not a message")
        return value


# --- the slow path: seal to the daemon's public key, into the spool -------------------------------------------------
def _spool_or_warn(harness: str, payload: bytes) -> None:
    try:
        spool(harness, payload, spool_dir=paths.spool_dir(), public_key_path=paths.spool_public_key_path())
    except SpoolUnavailable as exc:
        sys.stderr.write(f"llmojid: {exc}; this turn was not recorded\n")


class SpoolUnavailable(Exception):
    """The payload could not be sealed or written. The message names the reason, never the data."""


def read_public_key(path: Path) -> bytes:
    """The daemon's raw X25519 public key: a regular file of ours holding exactly 32 bytes, in a directory of ours.

    The key is not secret, but whoever can write it (or swap it within its directory) chooses whom the hook seals
    to: neither the file nor its directory may be writable by group or others.
    """
    try:
        dst = os.lstat(path.parent)
    except OSError as exc:
        raise SpoolUnavailable(f"the spool key's directory cannot be read ({exc.strerror})") from None
    if not stat.S_ISDIR(dst.st_mode) or dst.st_uid != os.getuid() or dst.st_mode & 0o022:
        raise SpoolUnavailable("the spool key's directory is not a directory of ours closed to others")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise SpoolUnavailable(
            "the daemon has never started here (no spool key); start it with `llmojid serve`"
        ) from None
    except OSError as exc:
        raise SpoolUnavailable(f"the spool key cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise SpoolUnavailable("the spool key is not a regular file of ours")
        if st.st_mode & 0o022:
            raise SpoolUnavailable(f"the spool key has mode {stat.S_IMODE(st.st_mode):04o}; others could replace it")
        key = os.read(fd, X25519_KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != X25519_KEY_BYTES:
        raise SpoolUnavailable("the spool key file is malformed")
    return key


def seal_spool_entry(public_key: bytes, harness: str, payload: bytes, ts: str) -> bytes:
    """Seal one event to the daemon's public key (format in the module docstring). Imports ``cryptography``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SPOOL_INFO + ephemeral_public + public_key).derive(
        shared
    )
    nonce = os.urandom(NONCE_BYTES)
    header = SPOOL_MAGIC + ephemeral_public + nonce
    plaintext = minipack.encode({"harness": harness, "payload": payload, "ts": ts})
    return header + AESGCM(key).encrypt(nonce, plaintext, header + public_key)


def spool_name(now_ns: int) -> str:
    """Names sort in arrival order: nanoseconds, then pid and randomness against collisions."""
    return f"{now_ns:020d}-{os.getpid():07d}-{os.urandom(4).hex()}{SPOOL_SUFFIX}"


def next_spool_ns(now_ns: int, names: list[str]) -> int:
    """The sort key for a new spool file: the wall clock, but never before a file already waiting.

    The daemon drains in name order. A wall clock stepped backwards (an NTP step, a manual fix) would otherwise
    give a later event an earlier name, and Hermes and generic events, which carry their message, would be
    journaled out of order.
    """
    latest = -1
    for name in names:
        head = name.removeprefix(SPOOL_TMP_PREFIX).partition("-")[0]
        if name.endswith(SPOOL_SUFFIX) and head.isdigit():
            latest = max(latest, int(head))
    return max(now_ns, latest + 1)


def utc_iso(now_ns: int) -> str:
    seconds, rest = divmod(now_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def spool(harness: str, payload: bytes, *, spool_dir: Path, public_key_path: Path) -> Path:
    """Seal and write one spool file (0600, written under a temporary name, synced, then renamed into place).

    Raises SpoolUnavailable when there is no key to seal to or the spool directory is not ours.
    """
    public_key = read_public_key(public_key_path)
    now_ns = time.time_ns()
    try:
        sealed = seal_spool_entry(public_key, harness, payload, utc_iso(now_ns))
    except ImportError:
        raise SpoolUnavailable("the cryptography package is missing") from None
    except ValueError:
        raise SpoolUnavailable("the spool key is not a valid X25519 key") from None
    _ensure_private_dir(spool_dir)
    try:
        waiting = os.listdir(spool_dir)
    except OSError as exc:
        raise SpoolUnavailable(f"the spool directory cannot be read ({exc.strerror})") from None
    name = spool_name(next_spool_ns(now_ns, waiting))
    tmp = spool_dir / f"{SPOOL_TMP_PREFIX}{name}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        final = spool_dir / name
        os.rename(tmp, final)
        _fsync_dir(spool_dir)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SpoolUnavailable(f"the spool file could not be written ({exc.strerror})") from None
    return final


def _ensure_private_dir(path: Path) -> None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise SpoolUnavailable(f"the spool directory cannot be created ({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SpoolUnavailable("the spool directory is not a private directory of ours")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
