"""The OpenCode and Grok Build adapters, pure: documents and transcripts built to their formats in, exactly the
expected rows out. Grok's transcripts follow the documented contract (llmoji 3.0), not the live program."""

from __future__ import annotations

import json
from pathlib import Path

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters import ADAPTERS, PayloadAdapter, TranscriptAdapter, grok, opencode
from llmojid.daemon.adapters.base import ParseState
from tests.harness_transcripts import Expected, GrokSession, OpenCodeSession, jsonl


def _as_expected(rows: list[JournalRow]) -> list[Expected]:
    return [Expected(r.ts, r.model, r.session, r.kaomoji, r.assistant_text, r.user_text, r.cwd) for r in rows]


def _lines(data: bytes) -> list[bytes | None]:
    return list(data.split(b"\n")[:-1])


# --- OpenCode ---------------------------------------------------------------------------------------------------------
def test_opencode_documents_give_exactly_the_expected_rows() -> None:
    session = OpenCodeSession()
    rows: list[JournalRow] = []
    expected: list[Expected] = []
    for n in range(1, 6):
        documents, wanted = session.turn(n)
        assert len(documents) == 3  # a tool step, a face-led reply, a plain reply
        for document in documents:
            rows += opencode.rows_from_message(document, "2026-06-01T00:00:00Z")
        expected += wanted
    assert len(expected) == 5
    assert _as_expected(rows) == expected
    assert len({r.message_id for r in rows}) == 5 and all(r.message_id.startswith("msg_") for r in rows)
    # Two text parts: one message, joined by a newline; the synthetic prompt part is not part of the prompt.
    assert rows[0].assistant_text.endswith("\nSecond part 1.") and "file body" not in rows[0].user_text


def test_opencode_payload_adapter_decodes_the_handoff_bytes() -> None:
    adapter = ADAPTERS["opencode"]
    assert isinstance(adapter, PayloadAdapter)
    documents, expected = OpenCodeSession().turn(1)
    rows = [r for d in documents for r in adapter.rows_from_payload(json.dumps(d).encode(), "") or []]
    assert _as_expected(rows) == expected
    assert adapter.rows_from_payload(b"\xff not json", "") is None
    assert adapter.rows_from_payload(b"[1, 2]", "") is None


def test_opencode_subagent_sessions_and_odd_documents_give_no_row() -> None:
    documents, expected = OpenCodeSession(parent_session="ses_parent").turn(1)
    assert expected == [] and all(opencode.rows_from_message(d, "") == [] for d in documents)
    good = OpenCodeSession().turn(1)[0][1]
    assert len(opencode.rows_from_message(good, "")) == 1  # the face-led reply
    text = good["parts"][0]["text"]
    for broken in (
        {},
        {**good, "info": {**good["info"], "role": "user"}},
        {**good, "info": {**good["info"], "id": 7}},
        {**good, "info": {**good["info"], "sessionID": None}, "session": {}},
        {**good, "parts": "not a list"},
        {**good, "parts": [{"type": "text", "text": text, "synthetic": True}]},
        {**good, "parts": [{"type": "text", "text": text, "ignored": True}]},
        {**good, "parts": [{"type": "reasoning", "text": text}]},
    ):
        assert opencode.rows_from_message(broken, "2026-06-01T00:00:00Z") == []
    # Odd but usable: no prompt, no session record, a time out of range (the time it arrived is used).
    odd = {**good, "prompt": None, "session": [], "info": {**good["info"], "time": {"completed": 1e300}}}
    (row,) = opencode.rows_from_message(odd, "2026-06-01T00:00:00Z")
    assert (row.ts, row.user_text, row.session) == ("2026-06-01T00:00:00Z", "", good["info"]["sessionID"])


def test_opencode_time_is_the_completion_time_in_utc() -> None:
    assert opencode.epoch_ms_iso(1796300267213) == "2026-12-03T12:17:47.213000Z"
    assert opencode.epoch_ms_iso(True) == opencode.epoch_ms_iso("1") == opencode.epoch_ms_iso(1e300) == ""


# --- Grok Build -------------------------------------------------------------------------------------------------------
def _grok(turns: int, *, completed: bool = True) -> tuple[bytes, list[Expected]]:
    session = GrokSession()
    lines, expected = [], []
    for n in range(1, turns + 1):
        turn, done, wanted = session.turn(n)
        lines += turn + (done if completed else [])
        expected += wanted
    return jsonl(lines), expected


def _grok_state() -> ParseState:
    """What ``session_context`` gives a read: the folder's session id, the cwd and the history's latest model."""
    return ParseState(session=GrokSession().session, cwd=GrokSession().cwd, model="model-from-history")


def test_grok_transcript_gives_exactly_the_expected_rows() -> None:
    data, expected = _grok(6)
    assert len(expected) == 12
    rows, state = grok.parse_transcript_lines(_lines(data), _grok_state())
    # A replay takes each turn's model from its turn_completed (the model with the most output tokens).
    assert _as_expected(rows) == expected
    assert state.bad_lines == 0
    assert [r.message_id for r in rows[:2]] == ["prompt-0001:0", "prompt-0001:2"]


def test_grok_live_reads_take_the_model_from_the_history_until_the_turn_completes() -> None:
    data, expected = _grok(1, completed=False)
    rows, _ = grok.parse_transcript_lines(_lines(data), _grok_state())
    assert [r.model for r in rows] == ["model-from-history"] * 2
    assert [(r.kaomoji, r.assistant_text, r.user_text) for r in rows] == [
        (e.kaomoji, e.assistant_text, e.user_text) for e in expected
    ]


def test_grok_turn_by_turn_reads_give_the_same_rows_and_ids_as_one_read() -> None:
    """The hook reads at each end_turn (before that turn's turn_completed is written): the message ids agree with
    a replay of the whole file, so an import after the hooks adds nothing."""
    session = GrokSession()
    whole: list[dict[str, object]] = []
    state = _grok_state()
    live: list[JournalRow] = []
    pending: list[dict[str, object]] = []
    for n in range(1, 5):
        turn, done, _ = session.turn(n)
        rows, state = grok.parse_transcript_lines(_lines(jsonl(pending + turn)), state)
        live += rows
        pending = done
        whole += turn + done
    rows, state = grok.parse_transcript_lines(_lines(jsonl(pending)), state)
    assert rows == []
    replay, _ = grok.parse_transcript_lines(_lines(jsonl(whole)), _grok_state())
    assert [(r.message_id, r.kaomoji, r.assistant_text, r.user_text, r.ts) for r in live] == [
        (r.message_id, r.kaomoji, r.assistant_text, r.user_text, r.ts) for r in replay
    ]


def test_grok_hostile_lines_are_counted_and_skipped() -> None:
    data, expected = _grok(2)
    lines = _lines(data)
    noisy = [b"not json", None, b"[1]", b'{"params": 5}', b'{"params": {"update": {}, "_meta": []}}', *lines]
    rows, state = grok.parse_transcript_lines(noisy, _grok_state())
    assert _as_expected(rows) == expected
    assert state.bad_lines == 3


def test_grok_only_end_of_turn_stops_are_journaled() -> None:
    adapter = ADAPTERS["grok"]
    assert isinstance(adapter, TranscriptAdapter)
    payload = json.loads(GrokSession().stop_payload("/x/updates.jsonl", 1))
    assert adapter.transcript_of(payload) == "/x/updates.jsonl"
    assert adapter.transcript_of(payload | {"transcript_path": "", "transcriptPath": "/y/updates.jsonl"}) == (
        "/y/updates.jsonl"
    )
    for other in (
        {"reason": "session_end"},  # the observe-only Stop at teardown
        {"reason": None},
        {"hook_event_name": "SubagentStop"},
        {"subagentType": "explore"},
    ):
        assert adapter.transcript_of(payload | other) is None


def test_grok_session_context_reads_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sessions" / "proj" / "0198c0de-session"
    folder.mkdir(parents=True)
    history = [{"type": "assistant", "model_id": f"grok-{i}"} for i in range(3)] + [{"type": "user"}]
    (folder / "chat_history.jsonl").write_bytes(b"garbage\n" + jsonl(history))
    (folder / "summary.json").write_text(json.dumps({"info": {"cwd": "/home/someone/elsewhere"}}))
    state = grok.session_context(str(folder / "updates.jsonl"), ParseState(cwd="/from/payload"))
    assert (state.session, state.model, state.cwd) == ("0198c0de-session", "grok-2", "/home/someone/elsewhere")
    empty = grok.session_context(str(tmp_path / "updates.jsonl"), ParseState(cwd="/from/payload", model="m"))
    assert (empty.model, empty.cwd) == ("m", "/from/payload")
