"""Harness adapters: turn what a harness's hook sends (and the transcripts it names) into journal rows.

Two kinds, one table (``ADAPTERS``, keyed by the harness name a hook passes: ``llmojid-ctl hook <harness>``):

* transcript adapters (Claude Code, Codex, Gemini CLI, Antigravity): the payload names a JSONL transcript, which
  the daemon reads incrementally (``reader``); ``parse_transcript_lines(lines, state) -> (rows, state)`` is the pure
  entry point that the hook path and the backfill importer share, so both derive the same message ids;
* payload adapters (Hermes, generic): the payload itself carries the messages;
  ``rows_from_payload(raw, received_at) -> rows | None`` (None: the payload does not decode).

The adapters are pure; ``llmojid.daemon.adapters.ingest`` does the I/O and the commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from llmojid.client.protocol import JournalRow
from llmojid.daemon.adapters import antigravity, claude_code, codex, gemini, generic, grok, hermes
from llmojid.daemon.adapters import opencode as opencode_adapter
from llmojid.daemon.adapters.base import Line, ParseState, decode_json, stop_transcript


@dataclass(frozen=True)
class TranscriptAdapter:
    harness: str
    #: The transcript a decoded hook payload names; None when the event is not one to journal.
    transcript_of: Callable[[dict[str, Any]], str | None]
    #: The parse state a first read starts from: (transcript file stem, decoded payload or {}).
    initial_state: Callable[[str, dict[str, Any]], ParseState]
    parse_transcript_lines: Callable[[Iterable[Line], ParseState], tuple[list[JournalRow], ParseState]]
    #: What each hook event's payload adds to the saved parse state before the new lines are read (a harness
    #: whose transcript names no model: Antigravity); None when the transcript says it all.
    event_state: Callable[[ParseState, dict[str, Any]], ParseState] | None = None
    #: Facts from files beside the transcript, folded into the state before each read (blocking; Grok's model).
    context: Callable[[str, ParseState], ParseState] | None = None


@dataclass(frozen=True)
class PayloadAdapter:
    harness: str
    rows_from_payload: Callable[[bytes, str], list[JournalRow] | None]


def _hermes_rows(raw: bytes, received_at: str) -> list[JournalRow] | None:
    payload = decode_json(raw)
    return hermes.rows_from_payload(payload, received_at) if isinstance(payload, dict) else None


def _opencode_rows(raw: bytes, received_at: str) -> list[JournalRow] | None:
    document = decode_json(raw)
    return opencode_adapter.rows_from_message(document, received_at) if isinstance(document, dict) else None


def _generic_rows(raw: bytes, received_at: str) -> list[JournalRow] | None:
    messages = generic.decode_payload(raw)
    if not any(isinstance(m, dict) for m in messages):
        return None
    return generic.rows_from_messages(messages, received_at)


ADAPTERS: Final[dict[str, TranscriptAdapter | PayloadAdapter]] = {
    claude_code.HARNESS: TranscriptAdapter(
        claude_code.HARNESS, stop_transcript, claude_code.initial_state, claude_code.parse_transcript_lines
    ),
    codex.HARNESS: TranscriptAdapter(codex.HARNESS, stop_transcript, codex.initial_state, codex.parse_transcript_lines),
    hermes.HARNESS: PayloadAdapter(hermes.HARNESS, _hermes_rows),
    generic.HARNESS: PayloadAdapter(generic.HARNESS, _generic_rows),
    gemini.HARNESS: TranscriptAdapter(
        gemini.HARNESS, gemini.transcript_of, gemini.initial_state, gemini.parse_transcript_lines
    ),
    antigravity.HARNESS: TranscriptAdapter(
        antigravity.HARNESS,
        antigravity.transcript_of,
        antigravity.initial_state,
        antigravity.parse_transcript_lines,
        antigravity.event_state,
    ),
    # OpenCode: our plugin hands the hook one finished message per file (see adapters/opencode.py).
    opencode_adapter.HARNESS: PayloadAdapter(opencode_adapter.HARNESS, _opencode_rows),
    # Grok Build: built to the documented contract (the CLI cannot be installed here).
    grok.HARNESS: TranscriptAdapter(
        grok.HARNESS,
        grok.transcript_of,
        grok.initial_state,
        grok.parse_transcript_lines,
        context=grok.session_context,
    ),
}

#: The harness names, as hooks pass them and as the journal's ``harness`` column holds them.
HARNESSES: Final = tuple(ADAPTERS)

__all__ = ["ADAPTERS", "HARNESSES", "Line", "ParseState", "PayloadAdapter", "TranscriptAdapter"]
