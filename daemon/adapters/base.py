"""What every harness adapter shares: the parse state, hostile-input-safe JSON access, and the row builder.

Adapters are pure: they take transcript lines (or a decoded hook payload) and return journal rows. They never
raise on input: a line that is not JSON, has the wrong types, or is binary yields no row and is counted in
``ParseState.bad_lines``; the good lines around it still count.

Why one state type for all transcript harnesses: the cursor table stores it sealed, as one msgpack blob, and the
importer and the hook handler hand it around without knowing which harness it belongs to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, Final

import msgspec

from llmojid.client.protocol import JournalRow
from llmojid.common.taxonomy import leading_face

#: A line the reader skipped because it was longer than its cap: counted, never parsed.
SKIPPED: Final = None
Line = bytes | None
#: Digests of assistant messages remembered per turn (Codex mirrors each message right after it; see codex.py).
#: Only the latest are kept: forgetting older ones can only let a far-away mirror through, never lose a row.
MAX_TURN_SEEN: Final = 512


class ParseState(msgspec.Struct, kw_only=True):
    """Where a transcript parse stands after the lines consumed so far.

    Persisted (sealed: ``prompt`` is user text) between hook events, so the next event parses only new lines and
    still knows the prompt, model, session and turn that earlier lines established.
    """

    #: Complete lines consumed (skipped and blank lines included): message ids derived from line numbers agree
    #: between the hook path and a backfill of the same file.
    line_no: int = 0
    #: The session the rows belong to (a transcript's own id; the file name when it names none).
    session: str = ""
    model: str = ""
    cwd: str = ""
    #: The latest real user prompt (not a tool result, not injected text).
    prompt: str = ""
    #: Codex: the current turn's key, how many distinct assistant messages it had, and digests of the latest.
    turn: str = ""
    turn_messages: int = 0
    turn_seen: list[str] = []
    #: Lines that were not JSON objects, had the wrong shape, or were over the line cap.
    bad_lines: int = 0


def decode_json(raw: bytes) -> Any:
    """A JSON value, or None for anything that does not decode (bad UTF-8, bad JSON, nesting too deep)."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None


def json_events(lines: Iterable[Line], state: ParseState) -> Iterator[dict[str, Any]]:
    """The JSON objects among transcript lines, counting every line and the bad ones (over-long, not an object)
    in ``state``: the line loop both transcript adapters share."""
    for raw in lines:
        state.line_no += 1
        if raw is None:
            state.bad_lines += 1
            continue
        if not raw.strip():
            continue
        event = decode_json(raw)
        if not isinstance(event, dict):
            state.bad_lines += 1
            continue
        yield event


def get_str(obj: object, key: str) -> str:
    """``obj[key]`` when obj is a dict and the value a string; else the empty string."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return ""


#: Hook events whose transcript Claude Code and Codex journal ("" when a payload names no event). SubagentStop is
#: subagent traffic, which is not journaled.
STOP_EVENTS: Final = frozenset({"Stop", ""})


def stop_transcript(payload: dict[str, Any]) -> str | None:
    """The transcript path a Stop hook payload names, or None when the event is not one to journal."""
    if get_str(payload, "hook_event_name") not in STOP_EVENTS:
        return None
    return get_str(payload, "transcript_path") or None


def get_dict(obj: object, key: str) -> dict[str, Any]:
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, dict):
            return value
    return {}


def text_parts(content: object, kinds: Iterable[str]) -> list[str]:
    """The text of content blocks of the given types (``[{"type": "text", "text": ...}, ...]``), in order."""
    wanted = set(kinds)
    out: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") in wanted:
                text = block.get("text")
                if isinstance(text, str) and text:
                    out.append(text)
    return out


def is_injected(text: str, prefixes: tuple[str, ...]) -> bool:
    return text.lstrip().startswith(prefixes)


def digest(*parts: str) -> str:
    """A short stable id from parts (message ids for harnesses that give none). Never stored bare with text:
    the journal keys rows by an HMAC of (harness, session, message id)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def make_row(
    text: str,
    *,
    harness: str,
    ts: str,
    model: str,
    session: str,
    message_id: str,
    user_text: str,
    cwd: str,
) -> JournalRow | None:
    """The journal row for one assistant message, or None when the message is not led by a kaomoji."""
    found = leading_face(text)
    if found is None:
        return None
    face, rest = found
    return JournalRow(
        ts=ts,
        model=model,
        harness=harness,
        session=session,
        message_id=message_id,
        kaomoji=face,
        assistant_text=rest,
        user_text=user_text,
        cwd=cwd,
    )
