"""Grok Build: the ``Stop`` hook payload and the session's ``updates.jsonl`` it names (spec section 6; llmoji 3.0's
contract, not checked against the live program: Grok Build cannot be installed here).

* The payload is Claude Code's shape plus ``reason``: Grok fires a second, observe-only ``Stop`` at session
  teardown, so only ``reason == "end_turn"`` is journaled; a subagent's stop (``SubagentStop``, or a payload with
  ``subagentType``) is not. The transcript is ``transcript_path`` (or ``transcriptPath``).
* ``updates.jsonl`` is the ACP update stream, one ``{"params": {"update": {...}, "_meta": {...}}}`` per line.
  Consecutive ``agent_message_chunk`` updates with one ``_meta.promptId`` are one message (their ``content.text``
  joined; the time is the first chunk's ``_meta.agentTimestampMs``); the prompt is the ``user_message_chunk`` text
  (consecutive chunks joined) before it. A line without ``_meta`` is passed over, as llmoji does.
* The model: a ``turn_completed`` update names the turn's models (``usage.modelUsage``; the one with the most output
  tokens wrote the turn). It lands after the hook runs, so rows without one take the latest ``model_id`` of an
  assistant record in the sibling ``chat_history.jsonl`` (read by ``session_context``, the only I/O here).
* The session is the transcript's folder name (``sessions/<project>/<session id>/updates.jsonl``); the cwd is the
  sibling ``summary.json``'s ``info.cwd``, else the payload's. The message id is ``<promptId>:<n>``, the message's
  place among its prompt's messages, so the hook path and a backfill of the same file agree.

A message is complete when a line that is not one of its chunks follows, or when the lines read end: the hook
reads at the end of a turn, when every chunk of it is written.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters.base import Line, ParseState, get_dict, get_str, json_events, make_row
from llmojid.daemon.adapters.opencode import epoch_ms_iso

HARNESS: Final = "grok"
JOURNALED_EVENTS: Final = frozenset({"Stop", ""})
#: How much of the end of ``chat_history.jsonl`` is read for the latest model (its newest records are last).
HISTORY_TAIL_BYTES: Final = 256 * 1024
MAX_SUMMARY_BYTES: Final = 1024 * 1024


def transcript_of(payload: dict[str, Any]) -> str | None:
    """The ``updates.jsonl`` an end-of-turn Stop names; None for the teardown Stop and subagent stops."""
    if get_str(payload, "hook_event_name") not in JOURNALED_EVENTS or payload.get("reason") != "end_turn":
        return None
    if payload.get("subagentType"):
        return None
    return get_str(payload, "transcript_path") or get_str(payload, "transcriptPath") or None


def initial_state(file_stem: str, payload: dict[str, Any]) -> ParseState:
    return ParseState(cwd=get_str(payload, "cwd"))


def session_context(path: str, state: ParseState) -> ParseState:
    """The session id, cwd and latest model from the transcript's folder (blocking: runs in a worker thread)."""
    folder = os.path.dirname(path)
    model = _latest_model(os.path.join(folder, "chat_history.jsonl"))
    cwd = _summary_cwd(os.path.join(folder, "summary.json"))
    return msgspec.structs.replace(
        state,
        session=state.session or os.path.basename(folder),
        model=model or state.model,
        cwd=cwd or state.cwd,
    )


def _read_regular(path: str, *, tail: int = 0, limit: int = 0) -> bytes:
    """A regular file's bytes (its last ``tail`` bytes; nothing when over ``limit``); b"" when unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (limit and st.st_size > limit):
            return b""
        start = max(0, st.st_size - tail) if tail else 0
        return os.pread(fd, st.st_size - start, start)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _latest_model(path: str) -> str:
    for line in reversed(_read_regular(path, tail=HISTORY_TAIL_BYTES).splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # also the first, cut line of the tail
        if isinstance(record, dict) and record.get("type") == "assistant" and get_str(record, "model_id"):
            return get_str(record, "model_id")
    return ""


def _summary_cwd(path: str) -> str:
    try:
        summary = json.loads(_read_regular(path, limit=MAX_SUMMARY_BYTES) or b"{}")
    except ValueError:
        return ""
    return get_str(get_dict(summary, "info"), "cwd")


def _turn_model(update: dict[str, Any]) -> str:
    """The model that wrote most of a completed turn (most output tokens in ``usage.modelUsage``)."""
    by_model = get_dict(get_dict(update, "usage"), "modelUsage")
    best, most = "", -1
    for model, usage in by_model.items():
        tokens = usage.get("outputTokens") if isinstance(usage, dict) else 0
        count = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0
        if count > most:
            best, most = model, count
    return best


class _Message:
    def __init__(self, prompt_id: str, text: str, ts: str) -> None:
        self.prompt_id = prompt_id
        self.text = text
        self.ts = ts


def parse_transcript_lines(lines: Iterable[Line], state: ParseState) -> tuple[list[JournalRow], ParseState]:
    """Rows for the kaomoji-led messages in ``lines``, and the state after them. Pure, never raises."""
    st = msgspec.structs.replace(state, turn_seen=list(state.turn_seen))
    rows: list[JournalRow] = []
    held: list[tuple[str, JournalRow]] = []  # rows waiting for their turn's model
    message: _Message | None = None
    user_open = False

    def close() -> None:
        nonlocal message
        if message is None:
            return
        if message.prompt_id != st.turn:
            st.turn, st.turn_messages = message.prompt_id, 0
        index = st.turn_messages
        st.turn_messages += 1
        row = make_row(
            message.text,
            harness=HARNESS,
            ts=message.ts,
            model=st.model,
            session=st.session,
            message_id=f"{message.prompt_id}:{index}",
            user_text=st.prompt,
            cwd=st.cwd,
        )
        if row is not None:
            held.append((message.prompt_id, row))
        message = None

    for event in json_events(lines, st):
        params = get_dict(event, "params")
        update, meta = params.get("update"), params.get("_meta")
        if not isinstance(update, dict) or not isinstance(meta, dict):
            continue
        kind = get_str(update, "sessionUpdate")
        text = get_str(get_dict(update, "content"), "text")
        prompt_id = get_str(meta, "promptId")
        if kind == "agent_message_chunk" and prompt_id:
            if message is not None and message.prompt_id == prompt_id:
                message.text += text
            else:
                close()
                message = _Message(prompt_id, text, epoch_ms_iso(meta.get("agentTimestampMs")))
            user_open = False
            continue
        close()
        if kind == "user_message_chunk":
            st.prompt = st.prompt + text if user_open else text
            user_open = True
            continue
        user_open = False
        if kind == "turn_completed":
            model, done = _turn_model(update), get_str(update, "prompt_id")
            rows += [msgspec.structs.replace(r, model=model or r.model) if p == done else r for p, r in held]
            held.clear()
    close()
    rows += [r for _, r in held]
    return rows, st
