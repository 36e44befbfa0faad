"""Antigravity (``agy``, Google's agent CLI): the ``Stop`` hook payload and the step list it names.

Built to the contract in spec section 6 and llmoji 3.0's reading of it (agy 1.4.7); agy itself cannot be installed
here, so this is tested against that documented format, not the live program.

* The Stop payload carries ``modelName``, ``transcriptPath`` (``brain/<id>/.system_generated/logs/
  transcript_full.jsonl``), ``workspacePaths`` and ``lastUserInput`` (the prompt without the ``<USER_REQUEST>``
  wrapper the transcript keeps it in). The hook answers ``{}`` on stdout.
* The transcript is a JSONL step list: a ``USER_INPUT`` step opens a turn (its ``content`` holds the prompt inside
  ``<USER_REQUEST>...</USER_REQUEST>``); ``PLANNER_RESPONSE`` steps with text are the model's messages, each a row
  when it is led by a kaomoji (``created_at`` is its time). It is complete when Stop fires, and only grows, so it
  is read incrementally like the others.
* The steps name no model: the row's model is the Stop payload's ``modelName``, applied to the parse state on
  every event (``event_state``), so a model switched mid-session shows on the next turn's rows. For the same
  reason there is no backfill (``import``): a replayed row would have no model, and rows are keyed by model.
* The session is the ``brain/<id>`` directory; the message id is the step's own ``id`` or ``stepId`` when it has
  one, else its line number (stable: the file is append-only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import Line, ParseState, get_str, json_events, make_row

HARNESS: Final = "agy"
#: The hook events whose transcript we journal (llmoji registers Stop; "" when a payload names no event).
JOURNALED_EVENTS: Final = frozenset({"Stop", ""})
_USER_REQUEST: Final = re.compile(r"<USER_REQUEST>\n?(.*?)\n?</USER_REQUEST>", re.DOTALL)
_BRAIN: Final = re.compile(r"/brain/([^/]+)/\.system_generated/")


def transcript_of(payload: dict[str, Any]) -> str | None:
    event = get_str(payload, "hook_event_name") or get_str(payload, "hookEventName")
    if event not in JOURNALED_EVENTS:
        return None
    return get_str(payload, "transcriptPath") or None


def session_of(path: str) -> str:
    """The ``<id>`` of ``.../brain/<id>/.system_generated/logs/transcript_full.jsonl`` ("" for another path)."""
    found = _BRAIN.search(path)
    return found.group(1) if found else ""


def initial_state(file_stem: str, payload: dict[str, Any]) -> ParseState:
    state = ParseState(session=session_of(get_str(payload, "transcriptPath")) or file_stem)
    return event_state(state, payload)


def event_state(state: ParseState, payload: dict[str, Any]) -> ParseState:
    """The parse state with what this Stop payload says about the turn: model, workspace, prompt."""
    workspaces = payload.get("workspacePaths")
    first = workspaces[0] if isinstance(workspaces, list) and workspaces and isinstance(workspaces[0], str) else ""
    return msgspec.structs.replace(
        state,
        model=get_str(payload, "modelName") or state.model,
        cwd=first or state.cwd,
        prompt=get_str(payload, "lastUserInput") or state.prompt,
    )


def user_request(content: str) -> str:
    """The prompt of a ``USER_INPUT`` step: the ``<USER_REQUEST>`` body, or the whole content without one."""
    found = _USER_REQUEST.search(content)
    return found.group(1) if found else content


def parse_transcript_lines(lines: Iterable[Line], state: ParseState) -> tuple[list[JournalRow], ParseState]:
    """Rows for the kaomoji-led ``PLANNER_RESPONSE`` steps in ``lines``, and the state after them. Pure."""
    st = msgspec.structs.replace(state, turn_seen=list(state.turn_seen))
    rows: list[JournalRow] = []
    for step in json_events(lines, st):
        kind = step.get("type")
        content = step.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        if kind == "USER_INPUT":
            prompt = user_request(content)
            if prompt.strip():
                st.prompt = prompt
        elif kind == "PLANNER_RESPONSE":
            row = make_row(
                content,
                harness=HARNESS,
                ts=get_str(step, "created_at"),
                model=st.model,
                session=st.session,
                message_id=get_str(step, "id") or get_str(step, "stepId") or f"line:{st.line_no}",
                user_text=st.prompt,
                cwd=st.cwd,
            )
            if row is not None:
                rows.append(row)
    return rows, st
