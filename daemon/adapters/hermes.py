"""Hermes (NousResearch hermes-agent): the ``post_llm_call`` shell-hook payload, which carries the conversation.

Payload: ``{hook_event_name, session_id, cwd, extra: {user_message, assistant_response, model,
conversation_history}}``. Hermes writes no transcript a hook can name, so the rows come from the payload: the
current turn is the slice of ``conversation_history`` from the latest user-role message to its end, and each
kaomoji-led assistant message in it (string content, or text parts) is a row. The prompt is
``extra.user_message`` (delivered before Hermes injects anything), else that user message's own text.

The message id hashes the message's position in the conversation with its text, so the same turn delivered
twice (a retried hook, a spooled copy) is stored once. The row's time is when the event reached us (the hook's
spool time for a spooled event): the payload carries none.
"""

from __future__ import annotations

from typing import Any, Final

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import digest, get_dict, get_str, make_row, text_parts

HARNESS: Final = "hermes"
JOURNALED_EVENTS: Final = frozenset({"post_llm_call", ""})


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(text_parts(content, ("text", "output_text")))


def rows_from_payload(payload: dict[str, Any], received_at: str) -> list[JournalRow]:
    """Rows for the kaomoji-led assistant messages of the turn a payload reports. Pure, never raises."""
    if get_str(payload, "hook_event_name") not in JOURNALED_EVENTS:
        return []
    extra = get_dict(payload, "extra")
    history = extra.get("conversation_history")
    if not isinstance(history, list):
        return []
    start = None
    for index in range(len(history) - 1, -1, -1):
        item = history[index]
        if isinstance(item, dict) and item.get("role") == "user":
            start = index
            break
    if start is None:
        return []
    prompt = get_str(extra, "user_message") or _content_text(history[start])
    session = get_str(payload, "session_id")
    rows: list[JournalRow] = []
    for index in range(start + 1, len(history)):
        item = history[index]
        if not isinstance(item, dict) or item.get("role") != "assistant":
            continue
        text = _content_text(item)
        if not text.strip():
            continue
        row = make_row(
            text,
            harness=HARNESS,
            ts=received_at,
            model=get_str(extra, "model"),
            session=session,
            message_id=digest("hermes", str(index), text),
            user_text=prompt,
            cwd=get_str(payload, "cwd"),
        )
        if row is not None:
            rows.append(row)
    return rows
