"""Codex: the ``Stop`` hook payload and the rollout JSONL it names, in both shapes the spec describes.

* Older Codex: an assistant message is an ``event_msg`` with ``payload.type == "agent_message"`` (text in
  ``payload.message``); the rollout may mirror it as a ``response_item`` with role ``assistant``.
* Codex CLI 0.169.0: no ``agent_message``; an assistant message is a ``response_item`` with role ``assistant``
  (text in ``output_text`` parts), mirrored by an ``event_msg`` ``item_completed`` whose ``item.type`` is
  ``AgentMessage``.

Either way one message appears up to twice, so within a turn each distinct text is emitted once (the turn
remembers digests of what it emitted). A turn starts at each ``turn_context`` event, which also names the model
and cwd. The message id is ``<turn>:<n>``: the turn's own ``turn_id`` (or ``L<line>`` of its ``turn_context``
when it has none) and the message's index among the turn's distinct messages, so the hook path and a backfill of
the same file derive the same ids. The session is the rollout's ``session_meta`` id.

Prompts are user ``response_item`` s (text in ``input_text`` parts) that are not injected context: ``# AGENTS.md``,
``<environment_context>``, ``<INSTRUCTIONS>`` blocks (0.169.0 also sends ``<environment_context>`` as a user item;
``developer`` items carry instructions and are ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import (
    MAX_TURN_SEEN,
    Line,
    ParseState,
    digest,
    get_dict,
    get_str,
    is_injected,
    json_events,
    make_row,
    text_parts,
)

HARNESS: Final = "codex"
INJECTED_PREFIXES: Final = ("# AGENTS.md", "<environment_context>", "<INSTRUCTIONS>")


def initial_state(file_stem: str, payload: dict[str, Any]) -> ParseState:
    return ParseState(session=file_stem, model=get_str(payload, "model"), cwd=get_str(payload, "cwd"))


def parse_transcript_lines(lines: Iterable[Line], state: ParseState) -> tuple[list[JournalRow], ParseState]:
    """Rows for the kaomoji-led assistant messages in ``lines``, and the state after them. Pure, never raises."""
    st = msgspec.structs.replace(state, turn_seen=list(state.turn_seen))
    rows: list[JournalRow] = []
    for event in json_events(lines, st):
        kind = event.get("type")
        payload = get_dict(event, "payload")
        if kind == "session_meta":
            st.session = get_str(payload, "id") or st.session
            st.cwd = get_str(payload, "cwd") or st.cwd
        elif kind == "turn_context":
            st.turn = get_str(payload, "turn_id") or f"L{st.line_no}"
            st.turn_seen = []
            st.turn_messages = 0
            st.model = get_str(payload, "model") or st.model
            st.cwd = get_str(payload, "cwd") or st.cwd
        elif kind == "response_item":
            role = payload.get("role")
            if role == "user":
                text = "\n".join(text_parts(payload.get("content"), ("input_text",)))
                if text.strip() and not is_injected(text, INJECTED_PREFIXES):
                    st.prompt = text
            elif role == "assistant":
                _emit("\n".join(text_parts(payload.get("content"), ("output_text",))), event, st, rows)
        elif kind == "event_msg":
            ptype = payload.get("type")
            if ptype == "agent_message":
                _emit(get_str(payload, "message"), event, st, rows)
            elif ptype == "item_completed":
                _emit(_agent_item_text(get_dict(payload, "item")), event, st, rows)
    return rows, st


def _agent_item_text(item: dict[str, Any]) -> str:
    """The text of an ``AgentMessage`` item (a ``text`` string or text-bearing content parts)."""
    if item.get("type") != "AgentMessage":
        return ""
    text = get_str(item, "text")
    if text:
        return text
    return "\n".join(text_parts(item.get("content"), ("output_text", "text", "Text")))


def _emit(text: str, event: dict[str, Any], st: ParseState, rows: list[JournalRow]) -> None:
    if not text.strip():
        return
    mark = digest(text.strip())[:16]
    if mark in st.turn_seen:
        return  # the mirror of a message this turn already emitted
    index = st.turn_messages
    st.turn_messages += 1
    st.turn_seen.append(mark)
    del st.turn_seen[:-MAX_TURN_SEEN]
    row = make_row(
        text,
        harness=HARNESS,
        ts=get_str(event, "timestamp"),
        model=st.model,
        session=st.session,
        message_id=f"{st.turn or 'L0'}:{index}",
        user_text=st.prompt,
        cwd=st.cwd,
    )
    if row is not None:
        rows.append(row)
