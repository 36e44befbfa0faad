"""Gemini CLI: the ``AfterAgent`` hook payload and the chat JSONL it names (spec section 6; 0.61.0 checked).

The chat file (``~/.gemini/tmp/<project>/chats/session-<date>-<id8>.jsonl``) holds, one JSON object per line:

* a header ``{sessionId, projectHash, startTime, lastUpdated, kind}`` (written again on every ``--resume``, with
  the same ``sessionId``);
* records ``{id, timestamp, type: "user"|"gemini"|..., content, model, tokens, thoughts}``: a user ``content`` is a
  list of ``{text}``, a gemini ``content`` a string;
* update lines ``{"$set": {...}}``. A ``$set`` with ``messages`` rewrites the history: the CLI writes the synthetic
  ``<session_context>`` user record that way, and on ``--resume`` the whole history again (gemini ``content`` then
  a list of ``{text}``, timestamps re-stamped with the resume time, no ``model``). A resume in a later minute
  than the session's file name starts a new file (``session-<that minute>-<id8>.jsonl``, same ``sessionId``)
  that opens with that rewrite; the earlier file stays.

Rules: each gemini record line led by a kaomoji is a row whose id is the record's ``id``. The messages of a
rewrite give no row: each of them was written as a record line when it happened (in this file or an earlier file
of the session, which ``import`` reads too), with its real time and model, which the rewrite lacks; their user
records still set the prompt. A record line whose id was already read (a file the CLI rewrote from memory)
yields nothing: the parse state remembers digests of the latest ids (``turn_seen``), and the journal's (harness,
session, message id) key stores a message once even past that memory.

The prompt is the latest user record's text without the parts the CLI injects (the ``<session_context>`` block;
the ``<hook_context>`` part a ``BeforeAgent`` hook adds after the prompt, ours included); the hook payload's
``prompt`` seeds it for a transcript whose user record is missing. The model is the record's ``model`` (a
rewritten record has none: the latest model seen stands in). The reply is always read from the transcript: the
payload's ``prompt_response`` is garbled when the reply streamed in several chunks (the whole text, then the later
chunks again).
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
)

HARNESS: Final = "gemini"
#: The hook event whose transcript we journal ("" when a payload names none, as a test or a replay may).
JOURNALED_EVENTS: Final = frozenset({"AfterAgent", ""})
#: Parts of user records the CLI writes itself: context, not a prompt (the CLI's own history replay skips the
#: same): the session's opening block, and what a ``BeforeAgent`` hook added.
INJECTED_PREFIXES: Final = ("<session_context>", "<hook_context>")


def transcript_of(payload: dict[str, Any]) -> str | None:
    """The chat file an ``AfterAgent`` payload names, or None when the event is not one to journal."""
    if get_str(payload, "hook_event_name") not in JOURNALED_EVENTS:
        return None
    return get_str(payload, "transcript_path") or None


def initial_state(file_stem: str, payload: dict[str, Any]) -> ParseState:
    """The state a first read starts from (the importer passes ``{}`` or ``{"cwd": <project root>}``)."""
    return ParseState(session=file_stem, cwd=get_str(payload, "cwd"), prompt=get_str(payload, "prompt"))


def parse_transcript_lines(lines: Iterable[Line], state: ParseState) -> tuple[list[JournalRow], ParseState]:
    """Rows for the kaomoji-led gemini records in ``lines``, and the state after them. Pure, never raises."""
    st = msgspec.structs.replace(state, turn_seen=list(state.turn_seen))
    rows: list[JournalRow] = []
    for event in json_events(lines, st):
        update = get_dict(event, "$set")
        if update:
            st.session = get_str(update, "sessionId") or st.session
            messages = update.get("messages")
            for record in messages if isinstance(messages, list) else ():
                if isinstance(record, dict) and record.get("type") == "user":
                    _record(record, st, rows)  # a rewrite: its prompts count, its replies were journaled already
        elif "sessionId" in event and "id" not in event:
            st.session = get_str(event, "sessionId") or st.session  # the header
        else:
            _record(event, st, rows)
    return rows, st


def _text(content: object, *, skip: tuple[str, ...] = ()) -> str:
    """A record's text: a string, or the ``text`` of each ``{text}`` part (Gemini's parts carry no ``type``) that
    does not start with one of ``skip``."""
    if isinstance(content, str):
        return "" if is_injected(content, skip) else content
    if not isinstance(content, list):
        return ""
    texts = (part.get("text") for part in content if isinstance(part, dict))
    return "\n".join(t for t in texts if isinstance(t, str) and t and not is_injected(t, skip))


def _record(record: dict[str, Any], st: ParseState, rows: list[JournalRow]) -> None:
    kind = record.get("type")
    if kind == "user":
        text = _text(record.get("content"), skip=INJECTED_PREFIXES)
        if text.strip():
            st.prompt = text
        return
    if kind != "gemini":
        return
    st.model = get_str(record, "model") or st.model
    record_id = get_str(record, "id")
    if record_id:
        mark = digest(record_id)[:16]
        if mark in st.turn_seen:
            return  # a record line written again (a file the CLI rewrote from memory)
        st.turn_seen.append(mark)
        del st.turn_seen[:-MAX_TURN_SEEN]
    text = _text(record.get("content"))
    if not text.strip():
        return
    row = make_row(
        text,
        harness=HARNESS,
        ts=get_str(record, "timestamp"),
        model=st.model,
        session=st.session,
        message_id=record_id or f"line:{st.line_no}",
        user_text=st.prompt,
        cwd=st.cwd,
    )
    if row is not None:
        rows.append(row)
