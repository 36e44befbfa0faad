"""claude.ai data exports (Settings, Privacy, Export data): ``conversations.json`` or one file per conversation.

The bulk file is an array of conversations ``{uuid, name, created_at, updated_at, account, chat_messages}``; the
one-file-per-conversation variant holds one such object per file (beside ``export_summary.json``) and may also
name the conversation's ``model`` and ``current_leaf_message_uuid``. A message is ``{uuid, sender: "human" |
"assistant", text, content: [{type: "text" | "thinking" | "tool_use" | "tool_result", ...}], created_at,
attachments, files, parent_message_uuid}``.

Rules (where they differ from llmoji 3.0's reader, the README says why):

* The conversation as it was last shown: claude.ai keeps every edit and retry in the flat ``chat_messages`` list,
  linked by ``parent_message_uuid``. The branch ends at ``current_leaf_message_uuid`` when the file names it,
  else at the newest leaf; a file without parent links is read in list order.
* An assistant message's text is its ``text``, else its text blocks joined (thinking, tool use and tool results
  are not the message); the prompt is the nearest human message up the branch with text (attachments and
  pasted files are not the prompt).
* ``model`` is the conversation's when the file names one (the bulk export does not: the row's model is then
  empty, as in llmoji). The row's time is the message's ``created_at``; its id is the message ``uuid``.
"""

from __future__ import annotations

from typing import Any

from llmojid.daemon.adapters.base import digest, get_str, make_row, text_parts
from llmojid.daemon.exports.base import CLAUDE_AI, Malformed, Parsed

EXPECTED = "a claude.ai conversation (an object with uuid and a chat_messages list)"


def is_conversation(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("chat_messages"), list)


def message_text(message: dict[str, Any]) -> str:
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return text
    return "\n".join(part for part in text_parts(message.get("content"), ("text",)) if part.strip())


def _branch(messages: list[dict[str, Any]], leaf: str) -> list[dict[str, Any]]:
    """The messages from the root to the branch's leaf, oldest first."""
    by_uuid = {m["uuid"]: m for m in messages if isinstance(m.get("uuid"), str)}
    if not any("parent_message_uuid" in m for m in messages):
        return messages
    if leaf not in by_uuid:
        parents = {get_str(m, "parent_message_uuid") for m in messages}
        leaves = [(get_str(m, "created_at"), i) for i, m in enumerate(messages) if get_str(m, "uuid") not in parents]
        if not leaves:
            return messages
        leaf = get_str(messages[max(leaves)[1]], "uuid")
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    current = leaf
    while current in by_uuid and current not in seen:
        seen.add(current)
        chain.append(by_uuid[current])
        current = get_str(by_uuid[current], "parent_message_uuid")
    chain.reverse()
    return chain


def parse_conversation(conversation: object) -> Parsed:
    """Rows for the face-led assistant messages of one conversation. Raises Malformed."""
    if not is_conversation(conversation) or not isinstance(conversation, dict):
        raise Malformed(EXPECTED)
    session = get_str(conversation, "uuid")
    if not session:
        raise Malformed(EXPECTED)
    raw = conversation["chat_messages"]
    messages = [m for m in raw if isinstance(m, dict)]
    out = Parsed(bad=len(raw) - len(messages))
    model = get_str(conversation, "model")
    prompt = ""
    for index, message in enumerate(_branch(messages, get_str(conversation, "current_leaf_message_uuid"))):
        sender = message.get("sender")
        text = message_text(message)
        if sender == "human":
            if text.strip():
                prompt = text
            continue
        if sender != "assistant":
            out.bad += int(not isinstance(sender, str))
            continue
        if not text.strip():
            continue
        row = make_row(
            text,
            harness=CLAUDE_AI,
            ts=get_str(message, "created_at"),
            model=model,
            session=session,
            message_id=get_str(message, "uuid") or digest(CLAUDE_AI, str(index), text),
            user_text=prompt,
            cwd="",
        )
        if row is not None:
            out.rows.append(row)
    return out


__all__ = ["EXPECTED", "is_conversation", "message_text", "parse_conversation"]
