"""What the export parsers share: the refusal they raise, the result they return, and small text helpers.

The parsers (one module per export format) are pure: a decoded conversation in, journal rows out, built by the
hooks' own ``make_row`` (same face detection, same fields) so a row imported from an export is the row a hook
would have written for the same message. A conversation whose shape is not the format's raises ``Malformed``
(the importer then refuses the whole export and writes nothing); a single message with the wrong types inside a
well-formed conversation is counted in ``bad`` and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from llmojid.client.protocol import JournalRow

#: The export formats, as ``--export`` names them and as the journal's ``harness`` column holds their rows.
CLAUDE_AI: Final = "claude.ai"
CHATGPT: Final = "chatgpt"
GEMINI: Final = "gemini"
OPENHANDS: Final = "openhands"
FORMATS: Final = (CLAUDE_AI, CHATGPT, GEMINI, OPENHANDS)


class Malformed(Exception):
    """Input that is not the export it claims to be. The message says what was expected, never the content."""


@dataclass
class Parsed:
    """The rows of one conversation (or one activity record), and the entries in it that were skipped."""

    rows: list[JournalRow] = field(default_factory=list)
    bad: int = 0


def iso_from_epoch(value: object) -> str:
    """ISO-8601 UTC for a Unix time in seconds, written as llmoji 3.0 writes it (``2025-02-19T21:20:30Z``, with
    microseconds only when there are some); "" for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return ""


def iso_utc(text: str) -> str:
    """An ISO time as UTC with a Z; a time without an offset is taken as this machine's local time (OpenHands
    writes ``datetime.now().isoformat()``). Unparseable text is kept as it is."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return text
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["CHATGPT", "CLAUDE_AI", "FORMATS", "GEMINI", "OPENHANDS", "Malformed", "Parsed", "iso_from_epoch", "iso_utc"]
