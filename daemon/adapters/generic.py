"""The generic adapter: any other tool sends one JSON object per message.

``{"model", "cwd", "user_text", "assistant_text", "ts"}``, optionally ``"session"`` and ``"message_id"``. A payload
may also be a JSON array of such objects, or several of them one per line. Objects with the wrong types are
skipped, and so is an object whose ``ts`` is not ISO-8601 (it is stored in UTC, ``llmojid.daemon.timestamps``); the
others still count. Without a ``message_id`` the id is a hash of the given time, model and text, so the
same message sent twice is stored once. Without a ``ts`` the row takes the time the event reached us.
"""

from __future__ import annotations

from typing import Any, Final

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import decode_json, digest, get_str, make_row
from llmojid.daemon.timestamps import is_time

HARNESS: Final = "generic"
#: Most messages one payload may carry: more are ignored (a hook event is one turn, not a bulk import).
MAX_MESSAGES: Final = 1_000


def decode_payload(raw: bytes) -> list[Any]:
    """The objects a payload carries: one JSON value (an object or an array of them), or JSON lines."""
    whole = decode_json(raw)
    if isinstance(whole, list):
        return whole[:MAX_MESSAGES]
    if whole is not None:
        return [whole]
    return [decode_json(line) for line in raw.splitlines()[:MAX_MESSAGES] if line.strip()]


def rows_from_messages(messages: list[Any], received_at: str) -> list[JournalRow]:
    """Rows for the kaomoji-led messages among ``messages``. Pure, never raises."""
    rows: list[JournalRow] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = message.get("assistant_text")
        if not isinstance(text, str) or not text.strip():
            continue
        ts = get_str(message, "ts")
        if ts and not is_time(ts):
            continue  # refused: an unreadable time would sort wrongly and escape forget --before
        model = get_str(message, "model")
        row = make_row(
            text,
            harness=HARNESS,
            ts=ts or received_at,
            model=model,
            session=get_str(message, "session"),
            # Not the arrival time: a spooled copy of a message that also arrived directly must get the same id.
            message_id=get_str(message, "message_id") or digest("generic", ts, model, text),
            user_text=get_str(message, "user_text"),
            cwd=get_str(message, "cwd"),
        )
        if row is not None:
            rows.append(row)
    return rows
