"""Text edits an installer makes, and how to take them back exactly.

Every change an installer makes to a user's file is a short list of ``Edit``s (replace ``old`` by ``new`` at
``offset``), computed on the file as it was. The install record keeps that list, so uninstall can undo it:
byte for byte when the file is as we left it (``undo_exact``), by finding our inserted text when the user has
edited elsewhere since (``undo_by_search``), and otherwise the caller falls back to removing our entries by
structure. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class SettingsError(Exception):
    """A settings file we will not edit: it does not parse, or it has a shape we do not recognise.

    The message says what is wrong and where (line/column, key path), never the file's content; the file layer
    prefixes the path. Raised before any write, so a refused file is left byte-identical.
    """


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (the text found at ``offset``) by ``new``. An insertion has ``old == ""``."""

    offset: int
    old: str
    new: str

    def to_json(self) -> list[object]:
        return [self.offset, self.old, self.new]

    @classmethod
    def from_json(cls, raw: object) -> Edit:
        if (
            not isinstance(raw, list)
            or len(raw) != 3
            or not isinstance(raw[0], int)
            or not isinstance(raw[1], str)
            or not isinstance(raw[2], str)
        ):
            raise ValueError("an edit is [offset, old, new]")
        return cls(raw[0], raw[1], raw[2])


def apply(text: str, edits: Iterable[Edit]) -> str:
    """Apply edits in order; each offset refers to the text as the previous edits left it."""
    for edit in edits:
        if text[edit.offset : edit.offset + len(edit.old)] != edit.old:
            raise ValueError("edit does not match the text it was made for")
        text = text[: edit.offset] + edit.new + text[edit.offset + len(edit.old) :]
    return text


def undo_exact(text: str, edits: Sequence[Edit]) -> str | None:
    """The text before ``edits``, if ``text`` is exactly what they produced; else None."""
    for edit in reversed(edits):
        if text[edit.offset : edit.offset + len(edit.new)] != edit.new:
            return None
        text = text[: edit.offset] + edit.old + text[edit.offset + len(edit.new) :]
    return text


def undo_by_search(text: str, edits: Sequence[Edit]) -> str | None:
    """Undo edits whose inserted text still occurs exactly once (the user edited elsewhere); else None.

    The caller must check that the result still parses and no longer holds our entries: text that happens to be
    unique is not proof that it is ours.
    """
    for edit in reversed(edits):
        if not edit.new or text.count(edit.new) != 1:
            return None
        at = text.index(edit.new)
        text = text[:at] + edit.old + text[at + len(edit.new) :]
    return text
