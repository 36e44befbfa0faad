"""The llmojid wire protocol: messages, framing, limits, error codes and the connection state machine.

This module is the only definition of the protocol. It does no I/O (no sockets, no trio), in the manner of
h11: the caller feeds bytes in and gets messages (or "need more data") out, and turns messages into bytes.
The daemon, the CLI and the pty wrapper all drive it.

Trust boundary: the socket is reachable only by the daemon's own uid (checked before a byte is read, see
``llmojid.daemon.security``). Everything a peer sends is still treated as hostile input: a same-uid process may
be buggy or compromised, so lengths are judged before allocation and every decode failure is a typed error.

Frames: a 4-byte big-endian length, then one msgpack-encoded message. Every request carries an ``id`` that its
reply (and any progress messages) echo. The first request on a connection must be ``Hello``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Final, Literal

import msgspec

PROTOCOL_VERSION: Final = 1

# --- Limits. Each one is a named constant and a typed error when hit. ---------------------------------------------
#: Largest frame body. 4 MiB holds a hook payload with a long last message; transcripts are read by the daemon
#: itself, never sent. A larger length prefix is refused before any buffer grows (as OpenSSH's agent does with
#: its 256 KiB MAX_AGENT_REPLY_LEN, and h11 with max_incomplete_event_size).
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
#: Concurrent connections. A harness fires one hook per turn; 100 parallel agents stay far below this.
MAX_CONNECTIONS: Final = 256
#: Requests on one connection before it is closed; clients reconnect. Bounds per-connection state.
MAX_REQUESTS_PER_CONNECTION: Final = 100_000
#: A connection that sends nothing for this long is closed (a stuck client must not hold a slot forever).
IDLE_TIMEOUT_SECONDS: Final = 30.0
#: Per-peer (process) request rate: a token bucket. Generous for real clients, a wall for runaway loops.
PEER_RATE_PER_SECOND: Final = 2_000.0
PEER_RATE_BURST: Final = 4_000.0
#: Rows in one SubmitRows request and rows returned by one query.
MAX_ROWS_PER_REQUEST: Final = 1_000
#: Key events in one Keystrokes batch.
MAX_KEY_EVENTS_PER_BATCH: Final = 10_000

HEADER: Final = struct.Struct(">I")


class ErrorCode(enum.IntEnum):
    """Stable error codes, sent in ``Error`` replies. Append only: never renumber or reuse a code."""

    BAD_FRAME = 1
    FRAME_TOO_LARGE = 2
    BAD_MESSAGE = 3
    UNKNOWN_REQUEST = 4
    VERSION_MISMATCH = 5
    HELLO_REQUIRED = 6
    TOO_MANY_CONNECTIONS = 7
    TOO_MANY_REQUESTS = 8
    RATE_LIMITED = 9
    IDLE_TIMEOUT = 10
    NOT_READY = 11
    INTERNAL = 12
    STORAGE_FULL = 13
    STORAGE = 14
    INVALID_ARGUMENT = 15
    SHUTTING_DOWN = 16
    CANCELLED = 17
    MODEL = 18
    NOT_FOUND = 19
    KEYRING = 20


class ProtocolError(Exception):
    """A violation of the protocol. ``remote`` is True when the peer did it, False when we did.

    Like h11's LocalProtocolError/RemoteProtocolError: the code goes into the error reply, and a connection that
    raised one is finished (state ERROR). The message names what was wrong, never the payload.
    """

    def __init__(self, code: ErrorCode, message: str, *, remote: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.remote = remote


# --- Messages --------------------------------------------------------------------------------------------------------
class Message(msgspec.Struct, tag_field="type", tag=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every message. ``tag`` is the class name, so the wire shows ``{"type": "Hello", ...}``."""

    id: int = 0


class JournalRow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One kaomoji-led assistant message (section 1 of the kaomoji spec plus llmojid's own fields).

    ``message_id`` is what deduplicates: the same (harness, session, message_id) is stored once. Text fields
    (user_text, assistant_text, cwd, session) are sealed in the store; ts, model, harness and the faces are not.
    """

    ts: str
    model: str
    harness: str
    session: str
    message_id: str
    kaomoji: str
    assistant_text: str
    user_text: str = ""
    cwd: str = ""
    canonical: str = ""
    row_id: int = 0


class KeyEvent(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One key event: monotonic press time (ms), release time (ms) if known, key class (see KeyClass)."""

    press_ms: float
    release_ms: float | None
    key_class: int


class KeyClass(enum.IntEnum):
    """What kind of key it was; never which key. Stable numbers (they are stored and sent)."""

    CHAR = 0
    SPACE = 1
    BACKSPACE = 2
    ENTER = 3
    TAB = 4
    NAV = 5
    PASTE = 6


# Requests (client -> daemon)
class Hello(Message):
    version: int
    client: str = ""


class Status(Message):
    pass


class Stop(Message):
    pass


class SubmitRows(Message):
    rows: list[JournalRow]


class QueryJournal(Message):
    limit: int = 20
    before_row_id: int = 0
    harness: str = ""


class HookEvent(Message):
    """A harness hook's stdin, carried as-is: the hook path cannot afford msgspec, so it writes this message
    with the standard library (see ``llmojid.client.minipack``) and the daemon decodes the payload."""

    harness: str
    payload: bytes


class Keystrokes(Message):
    """A batch of key timings from ``wrap`` or another trusted source. ``source`` names the sender kind."""

    source: str
    events: list[KeyEvent]


class Request(Message):
    """A named request with JSON-like arguments, for the administrative commands that later components add.

    Components register ``name`` handlers in the daemon's dispatch table; ``args`` is validated by the handler
    with msgspec.convert against its own Struct, so a wrong type is still a typed INVALID_ARGUMENT error.
    """

    name: str
    args: dict[str, object] = {}


# Replies (daemon -> client)
class Welcome(Message):
    version: int
    server_version: str


class Error(Message):
    code: int
    message: str


class Ok(Message):
    pass


class StatusReply(Message):
    version: str
    protocol: int
    pid: int
    uptime_seconds: float
    socket_path: str
    activated_by: str
    store_path: str
    store_bytes: int
    schema_version: int
    row_counts: dict[str, int]
    keyring_backend: str
    key_id: str


class Rows(Message):
    rows: list[JournalRow]


class HookAck(Message):
    rows_added: int


class Result(Message):
    """The reply to a ``Request``: a JSON-like value whose shape the named command defines."""

    value: object = None


class Progress(Message):
    """A progress message of a long job (analyze, key rotation), streamed before its final reply."""

    event: dict[str, object] = {}


ClientMessage = Hello | Status | Stop | SubmitRows | QueryJournal | HookEvent | Keystrokes | Request
ServerMessage = Welcome | Error | Ok | StatusReply | Rows | HookAck | Result | Progress

_client_decoder: Final = msgspec.msgpack.Decoder(ClientMessage)
_server_decoder: Final = msgspec.msgpack.Decoder(ServerMessage)
_encoder: Final = msgspec.msgpack.Encoder()


def encode(message: Message) -> bytes:
    """One message as a complete frame (length prefix + body)."""
    body = _encoder.encode(message)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, "message exceeds the frame limit", remote=False)
    return HEADER.pack(len(body)) + body


def decode_client_message(body: bytes) -> ClientMessage:
    """Decode a frame body sent by a client. Raises ProtocolError(BAD_MESSAGE / UNKNOWN_REQUEST)."""
    try:
        message: ClientMessage = _client_decoder.decode(body)
        return message
    except msgspec.ValidationError as exc:
        # msgspec names the offending path (e.g. "$.rows[0].ts"), never the value: safe to pass on.
        text = str(exc)
        if "Invalid value" in text and "$.type" in text:
            raise ProtocolError(ErrorCode.UNKNOWN_REQUEST, "unknown request type") from None
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"invalid message: {_path_only(text)}") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        # msgspec raises UnicodeDecodeError for invalid UTF-8 in a string (found by fuzz/targets.py::frames).
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "frame body is not valid msgpack") from None


def decode_server_message(body: bytes) -> ServerMessage:
    """Decode a frame body sent by the daemon. Raises ProtocolError(BAD_MESSAGE), marked remote."""
    try:
        reply: ServerMessage = _server_decoder.decode(body)
        return reply
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "daemon sent an undecodable message") from None


def _path_only(validation_text: str) -> str:
    """Keep msgspec's description of *where* and *what type* was wrong; drop anything that could echo a value.

    "Expected `str`, got `int` - at `$.rows[0].ts`" is kept; "Invalid value 'x'" or "unknown field `x`" would
    echo peer-chosen text, so they become a generic description with the path (dict keys show as ``[...]``).
    """
    head, sep, path = validation_text.rpartition(" - at ")
    if not sep:
        head, path = validation_text, ""
    safe = head.startswith("Expected ") or head.startswith("Object missing required field")
    kind = head[:100] if safe else "invalid value"
    return f"{kind} at {path[:120]}" if path else kind


# --- Framing ---------------------------------------------------------------------------------------------------------
class NeedData(enum.Enum):
    """Sentinel: the buffer does not yet hold a whole frame."""

    NEED_DATA = enum.auto()


NEED_DATA: Final = NeedData.NEED_DATA


@dataclass
class FrameDecoder:
    """Turns a byte stream into frame bodies. Judges each length prefix before the body accumulates."""

    max_frame: int = MAX_FRAME_BYTES
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def buffered(self) -> int:
        return len(self._buffer)

    def next_frame(self) -> bytes | NeedData:
        """The next complete frame body, or NEED_DATA. Raises ProtocolError(FRAME_TOO_LARGE)."""
        if len(self._buffer) < HEADER.size:
            return NEED_DATA
        (length,) = HEADER.unpack_from(self._buffer)
        if length > self.max_frame:
            raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"frame of {length} bytes exceeds {self.max_frame}")
        end = HEADER.size + length
        if len(self._buffer) < end:
            return NEED_DATA
        body = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        return body

    def bytes_wanted(self) -> int:
        """How many more bytes complete the current frame (at least 1), so readers never over-read a body."""
        if len(self._buffer) < HEADER.size:
            return HEADER.size - len(self._buffer)
        length: int = HEADER.unpack_from(self._buffer)[0]
        return max(1, HEADER.size + min(length, self.max_frame) - len(self._buffer))


# --- Rate limiting (pure: the caller passes the clock) -------------------------------------------------------------
@dataclass
class TokenBucket:
    """A token bucket; ``allow(now)`` spends one token if there is one."""

    rate: float = PEER_RATE_PER_SECOND
    burst: float = PEER_RATE_BURST
    tokens: float = PEER_RATE_BURST
    last: float | None = None

    def allow(self, now: float) -> bool:
        if self.last is not None:
            # A clock that goes backwards refills nothing rather than draining the bucket.
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# --- The server side of one connection -------------------------------------------------------------------------------
class ConnState(enum.Enum):
    AWAIT_HELLO = "await-hello"
    READY = "ready"
    ERROR = "error"


ServerEvent = tuple[Literal["hello"], Hello] | tuple[Literal["request"], ClientMessage]


@dataclass
class ServerConnection:
    """The daemon's view of one connection, with no I/O.

    Feed received bytes with ``receive_data``; take events with ``next_event``. The transitions:

        AWAIT_HELLO --Hello(version ok)--> READY --request--> READY
        any state --protocol error--> ERROR (final: the caller sends the error reply and closes)
    """

    max_requests: int = MAX_REQUESTS_PER_CONNECTION
    state: ConnState = ConnState.AWAIT_HELLO
    requests_seen: int = 0
    decoder: FrameDecoder = field(default_factory=FrameDecoder)

    def receive_data(self, data: bytes) -> None:
        self.decoder.feed(data)

    def next_event(self) -> ServerEvent | NeedData:
        """The next event, NEED_DATA, or a ProtocolError (after which the state is ERROR)."""
        if self.state is ConnState.ERROR:
            raise ProtocolError(ErrorCode.BAD_FRAME, "connection is in error state", remote=False)
        try:
            body = self.decoder.next_frame()
            if body is NEED_DATA:
                return NEED_DATA
            assert isinstance(body, bytes)
            message = decode_client_message(body)
            return self._transition(message)
        except ProtocolError:
            self.state = ConnState.ERROR
            raise

    def _transition(self, message: ClientMessage) -> ServerEvent:
        if self.state is ConnState.AWAIT_HELLO:
            if not isinstance(message, Hello):
                raise ProtocolError(ErrorCode.HELLO_REQUIRED, "the first message must be Hello")
            if message.version != PROTOCOL_VERSION:
                raise ProtocolError(
                    ErrorCode.VERSION_MISMATCH,
                    f"client speaks protocol {message.version}, daemon speaks {PROTOCOL_VERSION}: "
                    "restart the daemon (llmojid-ctl stop) so both run the same version",
                )
            self.state = ConnState.READY
            return ("hello", message)
        if isinstance(message, Hello):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "Hello sent twice")
        self.requests_seen += 1
        if self.requests_seen > self.max_requests:
            raise ProtocolError(ErrorCode.TOO_MANY_REQUESTS, "request limit for this connection reached")
        return ("request", message)


def error_frame(request_id: int, exc: ProtocolError) -> bytes:
    """The error reply for a protocol error."""
    return encode(Error(id=request_id, code=int(exc.code), message=exc.message))


def request_id_of(body_or_message: object) -> int:
    """The id of a decoded message (0 when unknown): error replies echo it when they can."""
    return int(getattr(body_or_message, "id", 0) or 0)
