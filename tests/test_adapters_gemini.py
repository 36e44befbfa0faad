"""The Gemini CLI and Antigravity adapters, pure: chat files and step lists in, exactly the expected rows out.

Gemini CLI chat files follow what Gemini CLI 0.61 writes (checked against the real CLI in
``tests/test_hook_gemini_real.py``); Antigravity step lists follow the contract of spec section 6 (agy cannot
be installed here).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters import ADAPTERS, TranscriptAdapter, antigravity, gemini
from llmojid.daemon.adapters.base import ParseState
from tests.harness_transcripts import AgySession, Expected, GeminiSession, jsonl


def _lines(data: bytes) -> list[bytes | None]:
    return list(data.split(b"\n")[:-1])


def _as_expected(rows: list[JournalRow]) -> list[Expected]:
    return [Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd) for r in rows]


def _gemini(turns: int) -> tuple[GeminiSession, list[dict[str, Any]], list[Expected]]:
    session = GeminiSession()
    lines, expected = session.header(), []
    for n in range(1, turns + 1):
        e, x = session.turn(n)
        lines += e
        expected += x
    return session, lines, expected


def _start(session: GeminiSession) -> ParseState:
    return gemini.initial_state("session-2026-01-02T03-04-1e95d6d4", {"cwd": session.cwd})


def test_gemini_chat_gives_exactly_the_expected_rows() -> None:
    session, lines, expected = _gemini(4)
    assert len(expected) == 8
    rows, state = gemini.parse_transcript_lines(_lines(jsonl(lines)), _start(session))
    assert _as_expected(rows) == expected
    assert all(r.harness == "gemini" for r in rows)
    # The message id is the record's own id.
    gemini_ids = [line["id"] for line in lines if line.get("type") == "gemini"]
    assert [r.message_id for r in rows] == [gemini_ids[i] for i in (0, 2, 3, 5, 6, 8, 9, 11)]
    assert state.session == session.session
    assert state.bad_lines == 0


def test_gemini_resume_rewrites_give_no_second_row() -> None:
    """``--resume`` appends the header and the whole history again (re-stamped, without model): one row per
    message, never two, and the rewrite's last user record does not leak as the next turn's prompt."""
    session, lines, expected = _gemini(2)
    lines += session.resume()
    more, expected_more = session.turn(3)
    lines += more
    lines += session.resume()
    rows, _ = gemini.parse_transcript_lines(_lines(jsonl(lines)), _start(session))
    assert _as_expected(rows) == expected + expected_more
    assert len({r.message_id for r in rows}) == len(rows) == 6


def test_gemini_resume_read_in_a_later_event_gives_nothing_new() -> None:
    session, lines, expected = _gemini(2)
    first, state = gemini.parse_transcript_lines(_lines(jsonl(lines)), _start(session))
    again, _ = gemini.parse_transcript_lines(_lines(jsonl(session.resume())), state)
    assert _as_expected(first) == expected
    assert again == []


def test_gemini_a_file_opening_with_a_rewrite_journals_only_its_new_records() -> None:
    """A resume in a later minute starts a new file with the rewrite; the rewritten replies (re-stamped, without a
    model) give no row there: their own record lines in the first file did. The new turn's prompt is right."""
    session, _, _ = _gemini(2)
    lines = session.resume()
    more, expected = session.turn(3)
    rows, _ = gemini.parse_transcript_lines(_lines(jsonl(lines + more)), _start(session))
    assert _as_expected(rows) == expected


def test_gemini_record_lines_written_again_give_no_second_row() -> None:
    """Gemini CLI rewrites a file from memory (or converts a legacy .json session) as plain record lines."""
    session, lines, expected = _gemini(2)
    records = [line for line in lines if "id" in line]
    rows, _ = gemini.parse_transcript_lines(_lines(jsonl(lines + records)), _start(session))
    assert _as_expected(rows) == expected


def test_gemini_session_context_is_not_a_prompt_and_the_payload_prompt_seeds_one() -> None:
    session = GeminiSession()
    reply = {"id": "r1", "timestamp": "2026-01-02T03:04:05Z", "type": "gemini", "content": "(◕‿◕) hi", "model": "m"}
    lines = [*session.header(), reply]
    rows, _ = gemini.parse_transcript_lines(_lines(jsonl(lines)), ParseState())
    assert [(r.user_text, r.assistant_text, r.model) for r in rows] == [("", "hi", "m")]
    payload = json.loads(session.after_agent_payload("/t.jsonl", prompt="typed prompt"))
    rows, _ = gemini.parse_transcript_lines(_lines(jsonl(lines)), gemini.initial_state("s", payload))
    assert [(r.user_text, r.cwd) for r in rows] == [("typed prompt", session.cwd)]


def test_gemini_only_after_agent_is_journaled() -> None:
    session = GeminiSession()
    payload = json.loads(session.after_agent_payload("/x/chat.jsonl"))
    assert gemini.transcript_of(payload) == "/x/chat.jsonl"
    for event in ("BeforeAgent", "SessionStart", "SessionEnd", "AfterModel"):
        assert gemini.transcript_of(payload | {"hook_event_name": event}) is None
    assert gemini.transcript_of({"hook_event_name": "AfterAgent"}) is None


def _agy(turns: int, models: list[str]) -> tuple[AgySession, list[tuple[bytes, bytes]], list[Expected]]:
    """Per turn: (the lines that turn appends, its Stop payload) and all expected rows."""
    session = AgySession()
    path = session.transcript_path("/home/someone/.gemini/antigravity-cli")
    events, expected = [], []
    for n in range(1, turns + 1):
        steps, rows, prompt = session.turn(n, models[n - 1])
        events.append((jsonl(steps), session.stop_payload(path, models[n - 1], prompt)))
        expected += rows
    return session, events, expected


def test_agy_rows_take_the_model_of_each_stop_payload() -> None:
    """The steps name no model: each event's ``modelName`` applies to that turn's rows (a switch mid-session)."""
    session, events, expected = _agy(3, ["gemini-3-pro", "gemini-3-pro", "claude-sonnet-4-5"])
    adapter = ADAPTERS["agy"]
    assert isinstance(adapter, TranscriptAdapter) and adapter.event_state is not None
    state: ParseState | None = None
    rows: list[JournalRow] = []
    for data, raw in events:
        payload = json.loads(raw)
        path = adapter.transcript_of(payload)
        assert path is not None and path.endswith("/transcript_full.jsonl")
        if state is None:
            state = adapter.initial_state("transcript_full", payload)
        state = adapter.event_state(state, payload)
        new, state = adapter.parse_transcript_lines(_lines(data), state)
        rows += new
    assert _as_expected(rows) == expected
    assert {r.session for r in rows} == {session.brain}
    assert len({r.message_id for r in rows}) == 6


def test_agy_prompt_is_the_user_request_body() -> None:
    assert antigravity.user_request("<USER_REQUEST>\nfix it\n</USER_REQUEST>\n<X>meta</X>") == "fix it"
    assert antigravity.user_request("no wrapper") == "no wrapper"
    steps = [
        {"type": "USER_INPUT", "content": "<USER_REQUEST>\nfrom the step\n</USER_REQUEST>"},
        {"type": "PLANNER_RESPONSE", "content": "(◕‿◕) ok", "id": "step-7"},
    ]
    rows, _ = antigravity.parse_transcript_lines(_lines(jsonl(steps)), ParseState(model="m"))
    assert [(r.user_text, r.message_id, r.model) for r in rows] == [("from the step", "step-7", "m")]


def test_agy_session_is_the_brain_directory() -> None:
    assert antigravity.session_of("/h/.gemini/antigravity-cli/brain/abc-1/.system_generated/logs/x.jsonl") == "abc-1"
    assert antigravity.session_of("/elsewhere/transcript_full.jsonl") == ""
    assert antigravity.initial_state("stem", {}).session == "stem"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=80), max_size=8), st.sampled_from(["gemini", "agy"]))
def test_parsing_in_pieces_equals_parsing_whole(cuts: list[int], which: str) -> None:
    if which == "gemini":
        session, lines_, _ = _gemini(3)
        lines_ += session.resume()
        data = jsonl(lines_)
        parse = gemini.parse_transcript_lines
    else:
        _, events, _ = _agy(3, ["m", "m", "m"])
        data = b"".join(d for d, _ in events)
        parse = antigravity.parse_transcript_lines
    lines = _lines(data)
    whole, _ = parse(lines, ParseState(session="s"))
    state = ParseState(session="s")
    pieces: list[JournalRow] = []
    bounds = sorted({min(c, len(lines)) for c in cuts} | {0, len(lines)})
    for start, end in itertools.pairwise(bounds):
        rows, state = parse(lines[start:end], state)
        pieces += rows
    assert pieces == whole


def test_hostile_lines_give_no_rows_and_keep_the_good_ones() -> None:
    session, lines, expected = _gemini(2)
    hostile: list[bytes | None] = [b"\xff\xfe", b"[1,2]", b'{"$set": 5}', b'{"$set": {"messages": "x"}}', None]
    hostile += [b'{"type": "gemini", "content": {"a": 1}}', b'{"type": "user", "content": 7}', b"{" * 5000]
    mixed: list[bytes | None] = []
    for i, line in enumerate(_lines(jsonl(lines))):
        mixed += [line, hostile[i % len(hostile)]]
    rows, state = gemini.parse_transcript_lines(mixed, _start(session))
    assert _as_expected(rows) == expected
    assert state.bad_lines > 0
    rows, _ = antigravity.parse_transcript_lines(hostile, ParseState())
    assert rows == []
