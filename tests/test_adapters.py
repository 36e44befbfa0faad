"""The harness adapters, pure: synthetic transcripts and payloads in, exactly the expected rows out.

Also the property the incremental reader relies on: parsing a transcript in any number of pieces, carrying the
state between them, gives the same rows (and ids) as parsing it whole.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters import ADAPTERS, HARNESSES, PayloadAdapter, TranscriptAdapter, claude_code, codex
from llmojid.daemon.adapters.base import ParseState, stop_transcript
from tests.harness_transcripts import ClaudeSession, CodexSession, Expected, HermesSession, jsonl


def _lines(data: bytes) -> list[bytes | None]:
    return list(data.split(b"\n")[:-1])


def _as_expected(rows: list[JournalRow]) -> list[Expected]:
    return [Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd) for r in rows]


def _claude(turns: int) -> tuple[bytes, list[Expected]]:
    session = ClaudeSession()
    events, expected = [], []
    for n in range(1, turns + 1):
        e, x = session.turn(n)
        events += e
        expected += x
    return jsonl(events), expected


def _codex(turns: int, *, new_shape: bool) -> tuple[bytes, list[Expected]]:
    session = CodexSession(new_shape=new_shape)
    lines, expected = session.header(), []
    for n in range(1, turns + 1):
        e, x = session.turn(n)
        lines += e
        expected += x
    return jsonl(lines), expected


def test_registry_names_every_harness() -> None:
    assert HARNESSES == ("claude-code", "codex", "hermes", "generic", "gemini", "agy", "opencode", "grok")
    assert isinstance(ADAPTERS["opencode"], PayloadAdapter)
    assert isinstance(ADAPTERS["grok"], TranscriptAdapter)
    assert isinstance(ADAPTERS["claude-code"], TranscriptAdapter)
    assert isinstance(ADAPTERS["codex"], TranscriptAdapter)
    assert isinstance(ADAPTERS["hermes"], PayloadAdapter)
    assert isinstance(ADAPTERS["generic"], PayloadAdapter)


def test_claude_code_transcript_gives_exactly_the_expected_rows() -> None:
    data, expected = _claude(12)
    assert len(expected) == 24
    rows, state = claude_code.parse_transcript_lines(_lines(data), ParseState(session="file-stem"))
    assert _as_expected(rows) == expected
    assert all(r.harness == "claude-code" for r in rows)
    assert len({r.message_id for r in rows}) == len(rows)
    assert state.line_no == len(_lines(data))
    assert state.bad_lines == 0


def test_claude_code_ids_are_event_uuids() -> None:
    data, _ = _claude(2)
    rows, _ = claude_code.parse_transcript_lines(_lines(data), ParseState())
    uuids = {json.loads(line)["uuid"] for line in data.splitlines() if b'"uuid"' in line}
    assert {r.message_id for r in rows} <= uuids


def test_claude_code_prompt_skips_tool_results_injected_and_sidechain_text() -> None:
    events = [
        {"type": "user", "uuid": "u1", "message": {"role": "user", "content": "the real prompt"}},
        {"type": "user", "uuid": "u2", "isSidechain": True, "message": {"role": "user", "content": "subagent"}},
        {"type": "user", "uuid": "u3", "message": {"role": "user", "content": "Base directory for this skill: /s"}},
        {"type": "user", "uuid": "u4", "isMeta": True, "message": {"role": "user", "content": "caveat"}},
        {"type": "user", "uuid": "u5", "message": {"content": [{"type": "tool_result", "content": "out"}]}},
        {"type": "api-request-blob", "message": {"role": "user", "content": "injected system text"}},
        {
            "type": "assistant",
            "uuid": "a1",
            "message": {"model": "m", "content": [{"type": "text", "text": "(◕‿◕) ok"}]},
        },
        {"type": "assistant", "uuid": "a2", "isSidechain": True, "message": {"content": "(◕‿◕) not me"}},
    ]
    rows, _ = claude_code.parse_transcript_lines(_lines(jsonl(events)), ParseState())
    assert [(r.message_id, r.user_text, r.kaomoji, r.assistant_text) for r in rows] == [
        ("a1", "the real prompt", "(◕‿◕)", "ok")
    ]


def test_claude_code_subagent_stop_is_not_journaled() -> None:
    assert stop_transcript({"hook_event_name": "SubagentStop", "transcript_path": "/t.jsonl"}) is None
    assert stop_transcript({"hook_event_name": "Stop", "transcript_path": "/t.jsonl"}) == "/t.jsonl"


def test_codex_older_shape_gives_each_message_once() -> None:
    data, expected = _codex(6, new_shape=False)
    assert len(expected) == 12
    rows, _ = codex.parse_transcript_lines(_lines(data), ParseState(session="stem"))
    assert _as_expected(rows) == expected
    assert len({r.message_id for r in rows}) == len(rows)


def test_codex_0_169_shape_gives_each_message_once() -> None:
    data, expected = _codex(6, new_shape=True)
    rows, _ = codex.parse_transcript_lines(_lines(data), ParseState(session="stem"))
    assert _as_expected(rows) == expected
    assert {r.message_id.split(":")[0] for r in rows} == {f"turn-{n}" for n in range(1, 7)}


def test_codex_without_turn_ids_uses_line_derived_ids() -> None:
    data, _ = _codex(2, new_shape=False)
    rows, _ = codex.parse_transcript_lines(_lines(data), ParseState())
    assert all(r.message_id.startswith("L") for r in rows)
    again, _ = codex.parse_transcript_lines(_lines(data), ParseState())
    assert [r.message_id for r in again] == [r.message_id for r in rows]


def test_hermes_payload_rows_are_the_current_turn_only() -> None:
    session = HermesSession()
    adapter = ADAPTERS["hermes"]
    assert isinstance(adapter, PayloadAdapter)
    seen: set[str] = set()
    for n in range(1, 5):
        payload, expected = session.turn(n)
        rows = adapter.rows_from_payload(payload, "2026-01-01T00:00:00.000000Z")
        assert rows is not None
        assert [(r.kaomoji, r.assistant_text, r.user_text) for r in rows] == expected
        assert all(r.session == session.session and r.model == session.model for r in rows)
        ids = {r.message_id for r in rows}
        assert not ids & seen
        seen |= ids
    # The same payload delivered twice gives the same ids (a spooled copy deduplicates).
    again = adapter.rows_from_payload(payload, "2027-01-01T00:00:00.000000Z")
    assert again is not None and {r.message_id for r in again} == {r.message_id for r in rows}


def test_hermes_ignores_other_events_and_bad_shapes() -> None:
    adapter = ADAPTERS["hermes"]
    assert isinstance(adapter, PayloadAdapter)
    assert adapter.rows_from_payload(b'{"hook_event_name": "subagent_stop", "extra": {}}', "t") == []
    assert adapter.rows_from_payload(b'{"extra": {"conversation_history": "nope"}}', "t") == []
    assert adapter.rows_from_payload(b"not json", "t") is None
    assert adapter.rows_from_payload(b"[1, 2]", "t") is None


def test_generic_messages() -> None:
    adapter = ADAPTERS["generic"]
    assert isinstance(adapter, PayloadAdapter)
    one = {"model": "m", "cwd": "/c", "user_text": "u", "assistant_text": "(◕‿◕) hi", "ts": "2026-01-01T00:00:00Z"}
    rows = adapter.rows_from_payload(json.dumps(one).encode(), "later")
    assert rows is not None and [(r.kaomoji, r.assistant_text, r.ts, r.model) for r in rows] == [
        ("(◕‿◕)", "hi", "2026-01-01T00:00:00Z", "m")
    ]
    many = [one, {**one, "assistant_text": "no face"}, {**one, "assistant_text": 5}, "junk", {**one, "ts": 7}]
    rows = adapter.rows_from_payload(json.dumps(many).encode(), "later")
    assert rows is not None and [r.ts for r in rows] == ["2026-01-01T00:00:00Z", "later"]
    lines = b"\n".join(json.dumps({**one, "assistant_text": f"(◕‿◕) {i}"}).encode() for i in range(3))
    rows = adapter.rows_from_payload(lines + b"\n{broken", "later")
    assert rows is not None and [r.assistant_text for r in rows] == ["0", "1", "2"]
    assert adapter.rows_from_payload(b"\xff\xfe binary", "later") is None


HOSTILE_LINES = [
    b"not json at all",
    b'{"type": "assistant", "message": "a string, not an object"}',
    b'{"type": "assistant", "message": {"content": 42}}',
    b'{"type": "assistant", "uuid": 7, "timestamp": [], "message": {"model": {}, "content": [{"type": "text"}]}}',
    b'{"type": "user", "message": {"content": [null, 1, {"type": "text", "text": 3}]}}',
    b"[1, 2, 3]",
    b'"just a string"',
    b"\x00\xff\xfe\x80 binary \x81",
    b'{"type": "assistant", "message": {"content": [{"type": "text", "text": "(\xe2\x97\x95',  # cut mid-character
    b"[" * 100_000,
    None,  # a line the reader skipped as over-long
]


def test_hostile_lines_give_no_rows_and_keep_the_good_ones() -> None:
    data, expected = _claude(3)
    good = _lines(data)
    mixed: list[bytes | None] = []
    for i, line in enumerate(good):
        mixed.append(line)
        mixed.append(HOSTILE_LINES[i % len(HOSTILE_LINES)])
    rows, state = claude_code.parse_transcript_lines(mixed, ParseState())
    assert _as_expected(rows) == expected
    assert state.bad_lines > 0
    for harness in ("codex",):
        adapter = ADAPTERS[harness]
        assert isinstance(adapter, TranscriptAdapter)
        rows, state = adapter.parse_transcript_lines(HOSTILE_LINES, ParseState())
        assert rows == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=8), st.booleans(), st.sampled_from(["cc", "cx"]))
def test_parsing_in_pieces_equals_parsing_whole(cuts: list[int], new_shape: bool, which: str) -> None:
    if which == "cc":
        data, _ = _claude(5)
        parse = claude_code.parse_transcript_lines
    else:
        data, _ = _codex(5, new_shape=new_shape)
        parse = codex.parse_transcript_lines
    lines = _lines(data)
    whole, _ = parse(lines, ParseState(session="s"))
    state = ParseState(session="s")
    pieces: list[JournalRow] = []
    bounds = sorted({min(c, len(lines)) for c in cuts} | {0, len(lines)})
    for start, end in itertools.pairwise(bounds):
        rows, state = parse(lines[start:end], state)
        pieces += rows
    assert pieces == whole


@given(st.lists(st.one_of(st.binary(max_size=200), st.none()), max_size=30))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_never_raise(lines: list[bytes | None]) -> None:
    for adapter in ADAPTERS.values():
        if isinstance(adapter, TranscriptAdapter):
            adapter.parse_transcript_lines(lines, ParseState())
        else:
            adapter.rows_from_payload(b"\n".join(line or b"" for line in lines), "t")
