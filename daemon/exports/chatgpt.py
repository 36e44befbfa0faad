"""ChatGPT data exports (Settings, Data controls, Export): ``conversations.json`` (large accounts now get
``conversations-000.json``, ``conversations-001.json``, ... instead, each the same array).

A conversation is ``{id | conversation_id, title, create_time, current_node, default_model_slug, mapping}``; the
``mapping`` is a tree of ``{id, parent, children, message}`` nodes: a regenerated answer or an edited prompt
starts a new branch, and only the branch that ends at ``current_node`` was on screen. A message is ``{id,
author: {role}, create_time (Unix seconds), content: {content_type, parts}, recipient, metadata: {model_slug,
is_visually_hidden_from_conversation}}``.

Rules (where they differ from llmoji 3.0's reader, the README says why):

* Walk up from ``current_node`` through ``parent`` (a cycle or a missing node ends the walk).
* Text is the message's string ``parts`` and the ``text`` of dict parts, joined by newlines (images, audio and
  file pointers are dicts without text; code, execution output, thoughts carry no ``parts``).
* An assistant message addressed to a tool (``recipient`` other than ``all``) is a tool call, not a message to
  the user; a hidden user message (custom instructions, memory) is not a prompt.
* ``model`` is the message's ``metadata.model_slug``, else the conversation's ``default_model_slug``.
"""

from __future__ import annotations

from typing import Any

from llmojid.daemon.adapters.base import digest, get_dict, get_str, make_row
from llmojid.daemon.exports.base import CHATGPT, Malformed, Parsed, iso_from_epoch

EXPECTED = "a ChatGPT conversation (an object with a mapping of message nodes and a current_node)"


def is_conversation(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("mapping"), dict)


def message_text(message: dict[str, Any]) -> str:
    parts = get_dict(message, "content").get("parts")
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for part in parts:
        text = part if isinstance(part, str) else part.get("text") if isinstance(part, dict) else None
        if isinstance(text, str) and text.strip():
            out.append(text)
    return "\n".join(out)


def active_branch(mapping: dict[str, Any], current: str) -> list[dict[str, Any]]:
    """The nodes from the root to ``current``, oldest first."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    node_id = current
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, dict):
            break
        chain.append(node)
        node_id = get_str(node, "parent")
    chain.reverse()
    return chain


def parse_conversation(conversation: object) -> Parsed:
    """Rows for the face-led assistant messages on the active branch. Raises Malformed."""
    if not is_conversation(conversation) or not isinstance(conversation, dict):
        raise Malformed(EXPECTED)
    session = get_str(conversation, "conversation_id") or get_str(conversation, "id")
    if not session:
        raise Malformed(EXPECTED)
    mapping: dict[str, Any] = conversation["mapping"]
    out = Parsed(bad=sum(1 for node in mapping.values() if not isinstance(node, dict)))
    default_model = get_str(conversation, "default_model_slug")
    prompt = ""
    for node in active_branch(mapping, get_str(conversation, "current_node")):
        message = node.get("message")
        if message is None:
            continue
        if not isinstance(message, dict):
            out.bad += 1
            continue
        role = get_str(get_dict(message, "author"), "role")
        metadata = get_dict(message, "metadata")
        text = message_text(message)
        if role == "user":
            if text.strip() and metadata.get("is_visually_hidden_from_conversation") is not True:
                prompt = text
            continue
        if role != "assistant" or get_str(message, "recipient") not in ("", "all") or not text.strip():
            continue
        row = make_row(
            text,
            harness=CHATGPT,
            ts=iso_from_epoch(message.get("create_time")),
            model=get_str(metadata, "model_slug") or default_model,
            session=session,
            message_id=get_str(message, "id") or get_str(node, "id") or digest(CHATGPT, session, text),
            user_text=prompt,
            cwd="",
        )
        if row is not None:
            out.rows.append(row)
    return out


__all__ = ["EXPECTED", "active_branch", "is_conversation", "message_text", "parse_conversation"]
