"""Claude Code: the ``Stop`` hook payload and the session transcript it names (spec section 6).

The transcript is JSONL, one event per line. Only ``type`` ``user`` and ``assistant`` events are conversation
(Claude Code 2.1.330 also writes ``queue-operation``, ``attachment``, ``api-request*``, ``system``, ... events;
``api-request-blob`` carries injected system and user content in a ``message`` field and is no prompt). Rules:

* An assistant event yields a row when its first non-empty text block is led by a kaomoji. Each content block
  is usually its own event, so a tool-heavy turn yields several rows; the message id is the event's ``uuid``
  (a line-derived id when it has none).
* The prompt of a row is the latest real user prompt before it: a user event whose content is a string or holds
  text blocks, and not a ``tool_result``, not ``isMeta`` (Claude Code's own injected notes), not a compaction
  summary, not a skill dump (``Base directory for this skill:``).
* Sidechain (subagent) events are skipped, both as rows and as prompts; a ``SubagentStop`` event is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import Line, ParseState, get_dict, get_str, json_events, make_row, text_parts

HARNESS: Final = "claude-code"
#: Injected user content that is not a prompt (the spec's list; the existing corpus skips exactly these).
INJECTED_PREFIXES: Final = ("Base directory for this skill:",)


def initial_state(file_stem: str, payload: dict[str, Any]) -> ParseState:
    """The state a first read of a transcript starts from (the importer passes an empty payload)."""
    return ParseState(session=file_stem, cwd=get_str(payload, "cwd"))


def parse_transcript_lines(lines: Iterable[Line], state: ParseState) -> tuple[list[JournalRow], ParseState]:
    """Rows for the kaomoji-led assistant messages in ``lines``, and the state after them. Pure, never raises."""
    st = msgspec.structs.replace(state, turn_seen=list(state.turn_seen))
    rows: list[JournalRow] = []
    for event in json_events(lines, st):
        kind = event.get("type")
        if kind == "user":
            _take_prompt(event, st)
        elif kind == "assistant":
            row = _row(event, st)
            if row is not None:
                rows.append(row)
    return rows, st


def _take_prompt(event: dict[str, Any], st: ParseState) -> None:
    if event.get("isSidechain") is True or event.get("isMeta") is True or event.get("isCompactSummary") is True:
        return
    content = get_dict(event, "message").get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return
        text = "\n".join(text_parts(content, ("text",)))
    else:
        return
    if text.strip() and not text.lstrip().startswith(INJECTED_PREFIXES):
        st.prompt = text


def _row(event: dict[str, Any], st: ParseState) -> JournalRow | None:
    if event.get("isSidechain") is True:
        return None
    message = get_dict(event, "message")
    content = message.get("content")
    if isinstance(content, str):
        text = content
    else:
        texts = text_parts(content, ("text",))
        text = texts[0] if texts else ""
    if not text.strip():
        return None
    session = get_str(event, "sessionId") or st.session
    model = get_str(message, "model") or st.model
    cwd = get_str(event, "cwd") or st.cwd
    if get_str(event, "sessionId"):
        st.session = session
    if get_str(event, "cwd"):
        st.cwd = cwd
    return make_row(
        text,
        harness=HARNESS,
        ts=get_str(event, "timestamp"),
        model=model,
        session=session,
        message_id=get_str(event, "uuid") or f"line:{st.line_no}",
        user_text=st.prompt,
        cwd=cwd,
    )
