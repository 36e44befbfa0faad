"""Fuzz targets: each takes arbitrary bytes and must either succeed or raise its module's own typed error.

Anything else (another exception, a hang, an allocation past a cap) is a bug. The same targets serve three
runners: ``fuzz/run.py`` (atheris, coverage-guided, bounded by --seconds), the short CI run in
``tests/test_fuzz.py``, and the regression corpus (``fuzz/corpus/<target>/``: every crash found is kept there and
replayed by the normal test suite).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import msgspec


def frames(data: bytes) -> None:
    """Bytes from a client: framing, decoding, the connection state machine, and dispatch routing."""
    from llmojid.client import protocol as p
    from llmojid.daemon.dispatch import Dispatcher, DispatchError

    dispatcher = Dispatcher(ready=True)
    conn = p.ServerConnection()
    conn.receive_data(p.encode(p.Hello(version=p.PROTOCOL_VERSION)))
    conn.receive_data(data)
    try:
        while (event := conn.next_event()) is not p.NEED_DATA:
            _kind, message = event  # type: ignore[misc]
            with contextlib.suppress(DispatchError):
                dispatcher.route(message)
    except p.ProtocolError as exc:
        assert isinstance(exc.code, p.ErrorCode)
    assert conn.decoder.buffered() <= len(data) + 64


def message_body(data: bytes) -> None:
    """A frame body alone (skips the length prefix, so the fuzzer reaches msgpack and Struct validation)."""
    from llmojid.client import protocol as p

    try:
        message = p.decode_client_message(data)
    except p.ProtocolError:
        return
    if isinstance(message, p.Keystrokes):
        for event in message.events:
            assert isinstance(event.press_ms, float)


def hook_frames(data: bytes) -> None:
    """The stdlib msgpack reader the hook uses on the daemon's replies."""
    from llmojid.client import minipack

    try:
        value = minipack.decode(data)
    except ValueError:
        return
    encoded = minipack.encode(value)
    # Compare encodings, not values: NaN != NaN (the first crash this target found was that, not a bug).
    assert minipack.encode(msgspec.msgpack.decode(encoded)) == encoded


TARGETS: dict[str, Callable[[bytes], None]] = {
    "frames": frames,
    "message_body": message_body,
    "hook_frames": hook_frames,
}
