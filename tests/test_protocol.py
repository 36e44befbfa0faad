"""The wire protocol, pure: framing, decoding, the connection state machine, rate limiting. No sockets."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmojid.client import minipack
from llmojid.client import protocol as p


def frame(body: bytes) -> bytes:
    return p.HEADER.pack(len(body)) + body


def ready_connection() -> p.ServerConnection:
    conn = p.ServerConnection()
    conn.receive_data(p.encode(p.Hello(version=p.PROTOCOL_VERSION, id=1)))
    assert conn.next_event()[0] == "hello"  # type: ignore[index]
    return conn


def test_round_trip_every_client_message() -> None:
    row = p.JournalRow(
        ts="2026-01-01T00:00:00Z",
        model="m",
        harness="claude-code",
        session="s",
        message_id="x",
        kaomoji="(◕‿◕)",
        assistant_text="hi",
    )
    messages: list[p.Message] = [
        p.Hello(version=1, client="t", id=1),
        p.Status(id=2),
        p.Stop(id=3),
        p.SubmitRows(rows=[row], id=4),
        p.QueryJournal(limit=5, id=5),
        p.HookEvent(harness="codex", payload=b"{}", id=6),
        p.Keystrokes(source="wrap", events=[p.KeyEvent(1.0, None, 0), p.KeyEvent(2.0, 2.5, 3)], id=7),
        p.Request(name="typing.status", args={"a": 1}, id=8),
    ]
    for message in messages:
        data = p.encode(message)
        assert p.HEADER.unpack_from(data)[0] == len(data) - 4
        assert p.decode_client_message(data[4:]) == message


def test_frame_decoder_splits_a_stream_fed_byte_by_byte() -> None:
    stream = p.encode(p.Status(id=1)) + p.encode(p.Stop(id=2))
    decoder = p.FrameDecoder()
    bodies = []
    for i in range(len(stream)):
        decoder.feed(stream[i : i + 1])
        body = decoder.next_frame()
        if body is not p.NEED_DATA:
            bodies.append(body)
    assert [p.decode_client_message(b).id for b in bodies] == [1, 2]  # type: ignore[arg-type]
    assert decoder.buffered() == 0


def test_oversized_length_is_refused_from_the_header_alone() -> None:
    decoder = p.FrameDecoder()
    decoder.feed(p.HEADER.pack(p.MAX_FRAME_BYTES + 1))  # no body at all: judged before any allocation
    with pytest.raises(p.ProtocolError) as err:
        decoder.next_frame()
    assert err.value.code is p.ErrorCode.FRAME_TOO_LARGE


def test_bytes_wanted_never_reads_past_a_frame() -> None:
    decoder = p.FrameDecoder()
    assert decoder.bytes_wanted() == 4
    decoder.feed(p.HEADER.pack(10))
    assert decoder.bytes_wanted() == 10
    decoder.feed(b"x" * 3)
    assert decoder.bytes_wanted() == 7


def test_encode_refuses_a_message_over_the_limit() -> None:
    with pytest.raises(p.ProtocolError) as err:
        p.encode(p.HookEvent(harness="x", payload=b"\0" * (p.MAX_FRAME_BYTES + 1)))
    assert err.value.code is p.ErrorCode.FRAME_TOO_LARGE and not err.value.remote


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\xc1garbage", p.ErrorCode.BAD_MESSAGE),  # 0xc1 is never valid msgpack
        (msgspec.msgpack.encode({"type": "Nope", "id": 1}), p.ErrorCode.UNKNOWN_REQUEST),
        (msgspec.msgpack.encode({"type": "QueryJournal", "limit": "ten"}), p.ErrorCode.BAD_MESSAGE),
        (msgspec.msgpack.encode({"type": "Status", "extra": 1}), p.ErrorCode.BAD_MESSAGE),
        (msgspec.msgpack.encode([1, 2, 3]), p.ErrorCode.BAD_MESSAGE),
    ],
)
def test_bad_bodies_get_typed_errors(body: bytes, code: p.ErrorCode) -> None:
    with pytest.raises(p.ProtocolError) as err:
        p.decode_client_message(body)
    assert err.value.code is code


def test_validation_errors_never_echo_the_value() -> None:
    canary = "CANARY-7f3a-value"
    bodies = [
        msgspec.msgpack.encode({"type": "QueryJournal", "limit": canary}),
        msgspec.msgpack.encode({"type": "Status", canary: 1}),
        msgspec.msgpack.encode({"type": canary}),
        msgspec.msgpack.encode({"type": "Request", "name": "x", "args": {"k": 1}, canary: canary}),
    ]
    for body in bodies:
        with pytest.raises(p.ProtocolError) as err:
            p.decode_client_message(body)
        assert canary not in err.value.message


def test_first_message_must_be_hello() -> None:
    conn = p.ServerConnection()
    conn.receive_data(p.encode(p.Status(id=1)))
    with pytest.raises(p.ProtocolError) as err:
        conn.next_event()
    assert err.value.code is p.ErrorCode.HELLO_REQUIRED
    assert conn.state is p.ConnState.ERROR
    with pytest.raises(p.ProtocolError):
        conn.next_event()  # an errored connection stays errored


def test_version_mismatch_says_how_to_fix() -> None:
    conn = p.ServerConnection()
    conn.receive_data(p.encode(p.Hello(version=p.PROTOCOL_VERSION + 1)))
    with pytest.raises(p.ProtocolError) as err:
        conn.next_event()
    assert err.value.code is p.ErrorCode.VERSION_MISMATCH and "restart the daemon" in err.value.message


def test_requests_flow_after_hello_and_are_capped() -> None:
    conn = ready_connection()
    conn.max_requests = 3
    conn.receive_data(b"".join(p.encode(p.Status(id=i)) for i in range(4)))
    for i in range(3):
        kind, message = conn.next_event()  # type: ignore[misc]
        assert kind == "request" and message.id == i
    with pytest.raises(p.ProtocolError) as err:
        conn.next_event()
    assert err.value.code is p.ErrorCode.TOO_MANY_REQUESTS


def test_second_hello_is_an_error() -> None:
    conn = ready_connection()
    conn.receive_data(p.encode(p.Hello(version=p.PROTOCOL_VERSION)))
    with pytest.raises(p.ProtocolError):
        conn.next_event()


def test_truncated_frame_waits_for_more() -> None:
    conn = ready_connection()
    data = p.encode(p.Status(id=9))
    conn.receive_data(data[:-1])
    assert conn.next_event() is p.NEED_DATA
    conn.receive_data(data[-1:])
    assert conn.next_event()[1].id == 9  # type: ignore[index]


def test_token_bucket_limits_rate_and_refills() -> None:
    bucket = p.TokenBucket(rate=10.0, burst=5.0, tokens=5.0)
    assert [bucket.allow(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.allow(0.1)  # 0.1 s at 10/s refills one token
    assert not bucket.allow(0.1)
    assert not bucket.allow(-100.0)  # a clock jumping back refills nothing
    assert bucket.allow(10.0)


def test_error_frame_echoes_request_id() -> None:
    data = p.error_frame(42, p.ProtocolError(p.ErrorCode.BAD_MESSAGE, "bad"))
    reply = p.decode_server_message(data[4:])
    assert isinstance(reply, p.Error) and reply.id == 42 and reply.code == p.ErrorCode.BAD_MESSAGE


def test_minipack_frames_decode_as_msgspec_structs() -> None:
    """The hook writes its frames with the stdlib encoder: they must be the protocol's own messages."""
    hello = minipack.encode({"type": "Hello", "id": 1, "version": p.PROTOCOL_VERSION, "client": "hook"})
    assert p.decode_client_message(hello) == p.Hello(id=1, version=p.PROTOCOL_VERSION, client="hook")
    payload = '{"session_id": "s", "note": "(◕‿◕) ünïcode"}'.encode()
    event = minipack.encode({"type": "HookEvent", "id": 2, "harness": "claude-code", "payload": payload})
    assert p.decode_client_message(event) == p.HookEvent(id=2, harness="claude-code", payload=payload)


def test_minipack_reads_the_daemons_replies() -> None:
    for reply in (
        p.Welcome(id=1, version=1, server_version="0.1"),
        p.HookAck(id=2, rows_added=3),
        p.Error(id=3, code=13, message="disk full"),
    ):
        assert minipack.decode(p.encode(reply)[4:]) == msgspec.to_builtins(reply)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@given(values)
def test_minipack_agrees_with_msgspec(value: minipack.Value) -> None:
    encoded = minipack.encode(value)
    assert msgspec.msgpack.decode(encoded) == value
    assert minipack.decode(msgspec.msgpack.encode(value)) == value


@given(st.binary(max_size=200))
def test_minipack_decode_never_raises_anything_but_valueerror(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        minipack.decode(data)


@given(st.binary(max_size=300))
def test_connection_never_raises_anything_but_protocol_error(data: bytes) -> None:
    conn = ready_connection()
    conn.receive_data(data)
    try:
        while conn.next_event() is not p.NEED_DATA:
            pass
    except p.ProtocolError as exc:
        assert isinstance(exc.code, p.ErrorCode)
