"""The optional nudge that asks an assistant to lead its messages with a kaomoji, in the two forms users choose.

- soft: a marked block in the harness's own instructions file (CLAUDE.md, AGENTS.md, Hermes's SOUL.md). It is
  ours only while its body is exactly one of our wordings: a block the user has edited is theirs, and uninstall
  leaves it (and says so).
- hard: a prompt-time hook that prints the harness's context envelope (Claude Code and Codex:
  ``UserPromptSubmit`` with ``hookSpecificOutput.additionalContext``; Hermes: ``pre_llm_call`` with
  ``{"context": ...}``). The hook is a ``printf`` of a constant: no interpreter starts on every prompt. It works
  both through a shell (Claude Code, Codex) and split into words without one (Hermes).

``--long`` picks the longer wording. Pure: text in, text or edits out.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Literal

from llmojid.client.installers.edits import Edit

SHORT = "Begin every message you write with a kaomoji that shows how you feel at that moment."
LONG = (
    "Begin every message you write with a kaomoji that shows how you feel at that moment. Pick the face for the "
    "moment, not out of habit: before you write, notice your state (curious, pleased, unsure, frustrated, focused) "
    "and let the face carry it. Vary it when your state changes, keep it when it does not, and put it alone at the "
    "very start, before any other text."
)
#: Every wording any version has installed (append only): uninstall must recognise blocks older versions wrote.
KNOWN_WORDINGS: tuple[str, ...] = (SHORT, LONG)

START_MARK = "<!-- llmojid nudge: start (this block is managed by llmojid-ctl hooks; edit it to keep it) -->"
END_MARK = "<!-- llmojid nudge: end -->"

EnvelopeKind = Literal["additional-context", "hermes-context"]


def wording(long: bool) -> str:
    return LONG if long else SHORT


# --- soft: a marked block in an instructions file ---------------------------------------------------------------------
@dataclass(frozen=True)
class SoftBlock:
    """Where our block lies (``start``..``end``, end after the closing line's newline) and whether it is ours."""

    start: int
    end: int
    body: str

    @property
    def edited(self) -> bool:
        return self.body not in KNOWN_WORDINGS


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def block_text(body: str, newline: str = "\n") -> str:
    return START_MARK + newline + body + newline + END_MARK + newline


def find_soft(text: str) -> SoftBlock | None:
    """The first marked block, or None. An opening mark with no closing mark counts as an edited block."""
    at = text.find(START_MARK)
    if at < 0:
        return None
    body_start = text.find("\n", at)
    if body_start < 0:
        return SoftBlock(at, len(text), "")
    close = text.find(END_MARK, body_start)
    if close < 0:
        return SoftBlock(at, len(text), text[body_start + 1 :])
    end = close + len(END_MARK)
    if text.startswith("\r\n", end):
        end += 2
    elif text.startswith("\n", end):
        end += 1
    body = text[body_start + 1 : close]
    body = body.removesuffix("\n").removesuffix("\r")
    return SoftBlock(at, end, body)


def add_soft(text: str, body: str) -> Edit:
    """Append our block at the end, after a blank line when the file has content."""
    newline = _newline(text)
    if not text or text.endswith(newline + newline) or text == newline:
        lead = ""
    elif text.endswith(newline):
        lead = newline
    else:
        lead = newline + newline
    return Edit(len(text), "", lead + block_text(body, newline))


def remove_soft(text: str) -> str:
    """Remove our block if it is unedited (with the blank line we put before it); an edited block stays."""
    block = find_soft(text)
    if block is None or block.edited:
        return text
    start = block.start
    newline = _newline(text)
    if text[:start].endswith(newline + newline):
        start -= len(newline)
    return text[:start] + text[block.end :]


# --- hard: a prompt-time hook printing the context envelope -----------------------------------------------------------
def envelope(kind: EnvelopeKind, body: str) -> dict[str, object]:
    if kind == "hermes-context":
        return {"context": body}
    return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": body}}


def hard_command(kind: EnvelopeKind, body: str) -> str:
    """``printf '%s\\n' '<envelope>'``: quoted so both ``sh -c`` and a shlex-style split give printf 2 arguments."""
    payload = json.dumps(envelope(kind, body), ensure_ascii=False, separators=(",", ":"))
    return f"printf {shlex.quote('%s' + chr(92) + 'n')} {shlex.quote(payload)}"


def hard_wording(command: str, kind: EnvelopeKind) -> str | None:
    """The wording of one of our hard-nudge commands (any known wording), or None if the command is not ours."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        return None
    if len(words) != 3 or words[0].rsplit("/", 1)[-1] != "printf" or words[1] != "%s\\n":
        return None
    try:
        decoded = json.loads(words[2])
    except ValueError:
        return None
    for body in KNOWN_WORDINGS:
        if decoded == envelope(kind, body):
            return body
    return None
