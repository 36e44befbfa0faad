"""OpenCode: one finished assistant message, as our plugin hands it over or as ``opencode.db`` keeps it.

OpenCode has no hook commands; our plugin (``llmojid.client.installers.opencode_plugin``) writes each finished
assistant message to a private file and starts the hook on it, and the backfill builds the same document from
OpenCode's SQLite history. Either way the document is::

    {"info": <the assistant message's info>, "parts": [<its text parts>],
     "prompt": {"info": <the user message it answers>, "parts": [<its text parts>]},
     "session": {"id": ..., "parentID": ... | null}}

``info`` is OpenCode's own message record (``id``, ``sessionID``, ``parentID``, ``role``, ``modelID``,
``providerID``, ``path.cwd``, ``time.created`` / ``time.completed`` in epoch milliseconds, ``finish``). Rules:

* a row needs an assistant message with text: the non-synthetic, non-ignored text parts, in order, joined by a
  newline (a tool step usually has none and yields nothing);
* the prompt is the parent user message's text parts, skipping OpenCode's synthetic ones (file contents it
  attaches, tool notes);
* a session with a parent is a subagent's (the ``task`` tool) and is not journaled;
* the message id is OpenCode's own (``msg_...``) and the session its ``ses_...`` id, so the plugin path and the
  backfill store a message once; the time is ``time.completed`` (else ``time.created``); the model ``modelID``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import get_dict, get_str, make_row

HARNESS: Final = "opencode"


def epoch_ms_iso(value: object) -> str:
    """ISO-8601 UTC of an epoch-milliseconds number; "" for anything else (or out of range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, OSError, ValueError):
        return ""


def message_text(parts: object) -> str:
    """The text a message shows: its text parts that OpenCode did not synthesize or mark ignored, in order."""
    texts: list[str] = []
    if isinstance(parts, list):
        for part in parts:
            if not isinstance(part, dict) or part.get("type") != "text":
                continue
            if part.get("synthetic") is True or part.get("ignored") is True:
                continue
            text = part.get("text")
            if isinstance(text, str) and text.strip():
                texts.append(text)
    return "\n".join(texts)


def rows_from_message(document: dict[str, Any], received_at: str) -> list[JournalRow]:
    """The row for one finished assistant message (an empty list when it is not face-led). Pure, never raises."""
    info = get_dict(document, "info")
    if info.get("role") != "assistant":
        return []
    session = get_dict(document, "session")
    if get_str(session, "parentID"):
        return []  # a subagent's session
    text = message_text(document.get("parts"))
    message_id = get_str(info, "id")
    session_id = get_str(info, "sessionID") or get_str(session, "id")
    if not text.strip() or not message_id or not session_id:
        return []
    times = get_dict(info, "time")
    prompt = get_dict(document, "prompt")
    row = make_row(
        text,
        harness=HARNESS,
        ts=epoch_ms_iso(times.get("completed")) or epoch_ms_iso(times.get("created")) or received_at,
        model=get_str(info, "modelID"),
        session=session_id,
        message_id=message_id,
        user_text=message_text(prompt.get("parts")),
        cwd=get_str(get_dict(info, "path"), "cwd") or get_str(session, "directory"),
    )
    return [row] if row is not None else []
