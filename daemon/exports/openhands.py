"""OpenHands event folders: one JSON file per event, in a conversation's ``events/`` folder.

Two generations, told apart by their file names:

* OpenHands 0.x: ``~/.openhands/sessions/<id>/events/<n>.json``, events ``{id, timestamp, source: "user" |
  "agent" | "environment", message, action | observation, args | extras, tool_call_metadata}``; the model is
  ``metadata.json``'s ``llm_model`` beside ``events/`` (without one, a tool call's ``model_response.model``). The
  agent speaks in ``message`` actions (``args.content``), in ``finish`` (``args.final_thought``) and in the ``thought``
  it gives with any other action; a user ``message`` action is the prompt.
* OpenHands 1.x (software-agent-sdk, CLI): ``~/.openhands/conversations/<id>/events/event-<n>-<uuid>.json``,
  events ``{kind, id, timestamp, source, ...}``: a ``MessageEvent`` carries ``llm_message: {role, content:
  [{type: "text", text}]}``; an ``ActionEvent`` carries the agent's ``thought`` (text parts) and, for the finish
  tool, ``action.message``. The model is ``base_state.json``'s ``agent.llm.model``.

Each text the agent showed is one message (as each Claude Code text block is). Times without an offset are this
machine's local time (OpenHands writes ``datetime.now().isoformat()``) and are stored as UTC. A message's id is
the event's id (plus ``:finish`` for a finish message given beside a thought); the session is the folder's name.
"""

from __future__ import annotations

import re
from typing import Any, Final

from llmojid.daemon.adapters.base import get_dict, get_str, make_row, text_parts
from llmojid.daemon.exports.base import OPENHANDS, Malformed, Parsed, iso_utc

EXPECTED = "an OpenHands event (a JSON object with id, timestamp and source)"
#: Event file names: 0.x ``<n>.json``; 1.x ``event-<n>-<event id>.json``.
EVENT_NAME: Final = re.compile(r"^(?:(?P<old>\d+)|event-(?P<new>\d{5,})-[0-9A-Za-z\-]{8,})\.json$")
METADATA_FILES: Final = ("metadata.json", "base_state.json")


def event_index(name: str) -> int | None:
    """The event's place in its conversation from its file name; None when it is not an event file."""
    found = EVENT_NAME.match(name)
    if found is None:
        return None
    return int(found.group("old") or found.group("new"))


def model_of_metadata(document: object) -> str:
    """The model a conversation's ``metadata.json`` (0.x) or ``base_state.json`` (1.x) names."""
    if not isinstance(document, dict):
        return ""
    return get_str(document, "llm_model") or get_str(get_dict(get_dict(document, "agent"), "llm"), "model")


def _texts_of(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, id suffix) of what the agent showed in one event."""
    kind = event.get("kind")
    if isinstance(kind, str):  # 1.x
        if kind == "MessageEvent":
            content = get_dict(event, "llm_message").get("content")
            return [("\n".join(text_parts(content, ("text",))), "")]
        if kind == "ActionEvent":
            thought = "\n".join(text_parts(event.get("thought"), ("text",)))
            action = get_dict(event, "action")
            finish = get_str(action, "message") if action.get("kind") == "FinishAction" else ""
            return [(thought, ""), (finish, ":finish")]
        return []
    name = event.get("action")  # 0.x
    args = get_dict(event, "args")
    if name == "message":
        return [(get_str(args, "content"), "")]
    if name == "finish":
        return [(get_str(args, "final_thought") or get_str(args, "thought"), "")]
    if isinstance(name, str):
        return [(get_str(args, "thought"), "")]
    return []


def _user_prompt(event: dict[str, Any]) -> str:
    if event.get("kind") == "MessageEvent":
        return "\n".join(text_parts(get_dict(event, "llm_message").get("content"), ("text",)))
    if event.get("action") == "message":
        return get_str(get_dict(event, "args"), "content")
    return ""


class Conversation:
    """The rows of one conversation's events, fed in order (the events are files read one by one)."""

    def __init__(self, *, session: str, model: str) -> None:
        self.session = session
        self.model = model
        self.prompt = ""

    def feed(self, event: object) -> Parsed:
        """The rows of the next event. Raises Malformed."""
        if not isinstance(event, dict) or "source" not in event or "timestamp" not in event:
            raise Malformed(EXPECTED)
        source = event.get("source")
        if source == "user":
            text = _user_prompt(event)
            if text.strip():
                self.prompt = text
            return Parsed()
        if source != "agent":
            return Parsed(bad=int(not isinstance(source, str)))
        event_id = event.get("id")
        if not isinstance(event_id, str | int) or isinstance(event_id, bool):
            return Parsed(bad=1)
        response = get_dict(get_dict(event, "tool_call_metadata"), "model_response")
        model = self.model or get_str(response, "model")  # one name per conversation: the metadata's first
        out = Parsed()
        for text, suffix in _texts_of(event):
            if not text.strip():
                continue
            row = make_row(
                text,
                harness=OPENHANDS,
                ts=iso_utc(get_str(event, "timestamp")),
                model=model,
                session=self.session,
                message_id=f"{event_id}{suffix}",
                user_text=self.prompt,
                cwd="",
            )
            if row is not None:
                out.rows.append(row)
        return out


__all__ = ["EVENT_NAME", "EXPECTED", "METADATA_FILES", "Conversation", "event_index", "model_of_metadata"]
