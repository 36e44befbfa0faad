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


def transcripts(data: bytes) -> None:
    """Claude Code, Codex, Gemini CLI, Antigravity and Grok Build transcript lines (one fuzz input = a whole JSONL
    slice) and Hermes, generic and OpenCode payloads."""
    from llmojid.daemon.adapters import ADAPTERS, antigravity, claude_code, codex, gemini

    lines: list[bytes | None] = [line for line in data.split(b"\n")]
    for adapter in (claude_code, codex, gemini, antigravity):
        rows, _state = adapter.parse_transcript_lines(lines, adapter.initial_state("fuzz", {}))
        for row in rows:
            assert row.kaomoji and len(row.kaomoji) <= 32
    for name in ("hermes", "generic"):
        ADAPTERS[name].rows_from_payload(data, "2026-01-01T00:00:00Z")  # type: ignore[union-attr]
    # OpenCode's hand-off documents and Grok Build's ACP update stream.
    ADAPTERS["opencode"].rows_from_payload(data, "2026-01-01T00:00:00Z")  # type: ignore[union-attr]
    from llmojid.daemon.adapters import grok

    for row in grok.parse_transcript_lines(lines, grok.initial_state("updates", {}))[0]:
        assert row.kaomoji and len(row.kaomoji) <= 32


def taxonomy(data: bytes) -> None:
    """Face detection and canonical form on arbitrary text: never raises, stays bounded, splits only whitespace off.

    (Not idempotence: the canonical form is llmoji 3.0's one pass, which a second pass may change further.)
    """
    from llmojid.common.taxonomy import canonicalize, extract_candidate, leading_face

    text = data.decode("utf-8", "replace")
    assert len(extract_candidate(text)) <= 32
    found = leading_face(text)
    if found is not None:
        face, rest = found
        assert 2 <= len(face) <= 32 and text.lstrip().startswith(face)
        assert rest == text.lstrip()[len(face) :].strip()
        canonicalize(face)


def sanitizer(data: bytes) -> None:
    """The PII sanitizer on arbitrary text: never raises, and never returns a found type it did not place."""
    from llmojid.common.sanitizer import sanitize

    result = sanitize(data.decode("utf-8", "replace"))
    for kind in result.found:
        assert f"[{kind}]" in result.text


def config(data: bytes) -> None:
    """config.toml text: a config or a ConfigError naming the key, nothing else."""
    from pathlib import Path

    from llmojid.common.config import ConfigError, resolve

    with contextlib.suppress(ConfigError):
        resolve(data.decode("utf-8", "replace"), Path("/fuzz/config.toml"), env={}, flags={})


TARGETS: dict[str, Callable[[bytes], None]] = {
    "frames": frames,
    "message_body": message_body,
    "hook_frames": hook_frames,
    "transcripts": transcripts,
    "taxonomy": taxonomy,
    "sanitizer": sanitizer,
    "config": config,
}
