"""JSON with source positions, so an installer can change one entry and leave every other byte of a file alone.

``json.loads`` forgets where things were; rewriting a user's ``settings.json`` with ``json.dumps`` would reflow
their formatting, reorder nothing but still churn every line. This parser keeps the span of each value, member and
item, and the helpers below turn "insert this member" / "delete that item" into text edits (``Edit``) at those
spans, formatted like their neighbours. Pure: text in, text or edits out.

Strict JSON only (what Claude Code and Codex accept): no comments, no trailing commas, no NaN. A UTF-8 byte order
mark at the start is kept as is. Duplicate keys are reported (``Node.duplicate_key``) so callers can refuse them:
with duplicates, which one a harness reads is not ours to guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Literal

from llmojid.client.installers.edits import Edit, SettingsError

#: Nesting deeper than this is refused rather than recursed into (hostile or broken files must not crash us).
MAX_DEPTH = 256
_WS = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_BOM = "\ufeff"

Kind = Literal["object", "array", "string", "number", "true", "false", "null"]


@dataclass(frozen=True)
class Node:
    """One JSON value and where it lies in the text (``start`` inclusive, ``end`` exclusive)."""

    kind: Kind
    start: int
    end: int
    members: tuple[Member, ...] = ()
    items: tuple[Node, ...] = ()
    value: Any = None
    duplicate_key: str | None = None

    def get(self, key: str) -> Member | None:
        for member in self.members:
            if member.key == key:
                return member
        return None

    def children(self) -> tuple[Member, ...] | tuple[Node, ...]:
        return self.members if self.kind == "object" else self.items

    def to_python(self) -> Any:
        if self.kind == "object":
            return {m.key: m.value.to_python() for m in self.members}
        if self.kind == "array":
            return [item.to_python() for item in self.items]
        return self.value


@dataclass(frozen=True)
class Member:
    """``"key": value`` inside an object; its span runs from the key's opening quote to the value's end."""

    key: str
    start: int
    value: Node

    @property
    def end(self) -> int:
        return self.value.end


@dataclass
class _Parser:
    text: str
    pos: int = 0
    depth: int = 0

    def fail(self, what: str) -> SettingsError:
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return SettingsError(f"does not parse as JSON: {what} at line {line}, column {column}")

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def value(self) -> Node:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of input")
        ch = self.text[self.pos]
        if ch == "{":
            return self.container("object")
        if ch == "[":
            return self.container("array")
        if ch == '"':
            start = self.pos
            decoded = self.string()
            return Node("string", start, self.pos, value=decoded)
        for word, kind, val in (("true", "true", True), ("false", "false", False), ("null", "null", None)):
            if self.text.startswith(word, self.pos):
                start = self.pos
                self.pos += len(word)
                return Node(kind, start, self.pos, value=val)  # type: ignore[arg-type]
        match = _NUMBER.match(self.text, self.pos)
        if match:
            start = self.pos
            self.pos = match.end()
            literal = match.group()
            number: float | int = float(literal) if any(c in literal for c in ".eE") else int(literal)
            return Node("number", start, self.pos, value=number)
        raise self.fail("unexpected character")

    def string(self) -> str:
        try:
            decoded, end = scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            raise self.fail("bad string") from None
        self.pos = end
        return str(decoded)

    def container(self, kind: Kind) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH}")
        start = self.pos
        close = "}" if kind == "object" else "]"
        self.pos += 1
        members: list[Member] = []
        items: list[Node] = []
        seen: set[str] = set()
        duplicate: str | None = None
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == close:
            self.pos += 1
            self.depth -= 1
            return Node(kind, start, self.pos)
        while True:
            self.skip_ws()
            if kind == "object":
                if self.pos >= len(self.text) or self.text[self.pos] != '"':
                    raise self.fail("expected a key")
                key_start = self.pos
                key = self.string()
                self.skip_ws()
                if self.pos >= len(self.text) or self.text[self.pos] != ":":
                    raise self.fail("expected ':'")
                self.pos += 1
                member = Member(key, key_start, self.value())
                if key in seen and duplicate is None:
                    duplicate = key
                seen.add(key)
                members.append(member)
            else:
                items.append(self.value())
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("unexpected end of input")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == close:
                break
            if ch != ",":
                self.pos -= 1
                raise self.fail(f"expected ',' or '{close}'")
        self.depth -= 1
        return Node(kind, start, self.pos, members=tuple(members), items=tuple(items), duplicate_key=duplicate)


def parse(text: str) -> Node | None:
    """The document's root value, or None for a document that is only whitespace. Raises SettingsError."""
    parser = _Parser(text)
    if text.startswith(_BOM):
        parser.pos = 1
    parser.skip_ws()
    if parser.pos >= len(text):
        return None
    root = parser.value()
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.fail("extra data after the document")
    return root


# --- Formatting like the neighbours -----------------------------------------------------------------------------------
def kind_name(node: Node) -> str:
    """How an error message names a value's kind ("an object", "a list", "a string", ...)."""
    return {"object": "an object", "array": "a list"}.get(node.kind, f"a {node.kind}")


def object_root(text: str, member: str) -> Node | None:
    """The top-level object of a settings file (None for an empty file); SettingsError when the top level is
    not an object, or when one of its keys (what ``member`` names: "a top-level key", "a hook name") repeats."""
    root = parse(text)
    if root is None:
        return None
    if root.kind != "object":
        raise SettingsError(f"has the wrong shape: the top level is {kind_name(root)}, not an object")
    if root.duplicate_key is not None:
        raise SettingsError(f"has the wrong shape: {member} appears twice")
    return root


def indent_unit(text: str, root: Node | None) -> str:
    """The file's indentation step, read from the root object's first member (two spaces when unknown)."""
    if root is not None and root.kind == "object" and root.members:
        before = text[root.start + 1 : root.members[0].start]
        if "\n" in before:
            unit = before.rsplit("\n", 1)[1]
            root_indent = _line_indent(text, root.start)
            if unit.startswith(root_indent) and len(unit) > len(root_indent) and not unit.strip(" \t"):
                return unit[len(root_indent) :]
    return "  "


def _line_indent(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    end = line_start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[line_start:end]


def dump(value: Any, unit: str, base: str, *, multiline: bool) -> str:
    """``value`` as JSON text whose continuation lines start at ``base`` (or on one line)."""
    if not multiline:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return json.dumps(value, ensure_ascii=False, indent=unit).replace("\n", "\n" + base)


def _multiline(text: str, root: Node) -> bool:
    """Files written on several lines get several-line insertions; a one-line file stays on one line."""
    return "\n" in text[root.start : root.end] or not root.children()


def add_child(text: str, root: Node, container: Node, value: Any, key: str | None = None) -> Edit:
    """Append ``key: value`` (object) or ``value`` (array) to ``container``, formatted like its siblings."""
    unit = indent_unit(text, root)
    multiline = _multiline(text, root)
    children = container.children()
    if children:
        last = children[-1]
        prev_end = children[-2].end if len(children) > 1 else container.start + 1
        gap = text[prev_end : last.start]
        ws = gap.split(",", 1)[1] if "," in gap else gap
        if "\n" in ws:
            base = ws.rsplit("\n", 1)[1]
            body = dump(value, unit, base, multiline=True)
        else:
            body = dump(value, unit, "", multiline=False)
        entry = f"{json.dumps(key, ensure_ascii=False)}: {body}" if key is not None else body
        return Edit(last.end, "", "," + ws + entry)
    inner = text[container.start + 1 : container.end - 1]
    if multiline:
        outer = _line_indent(text, container.start)
        base = outer + unit
        body = dump(value, unit, base, multiline=True)
        entry = f"{json.dumps(key, ensure_ascii=False)}: {body}" if key is not None else body
        tail = "" if "\n" in inner else "\n" + outer
        return Edit(container.start + 1, "", "\n" + base + entry + tail)
    body = dump(value, unit, "", multiline=False)
    entry = f"{json.dumps(key, ensure_ascii=False)}: {body}" if key is not None else body
    return Edit(container.start + 1, "", entry)


def remove_child(text: str, container: Node, index: int) -> Edit:
    """Delete child ``index`` of ``container`` with one neighbouring comma (the inverse of ``add_child``)."""
    children = container.children()
    child = children[index]
    if len(children) == 1:
        start, end = container.start + 1, container.end - 1
    elif index > 0:
        start, end = children[index - 1].end, child.end
    else:
        start, end = child.start, children[1].start
    return Edit(start, text[start:end], "")


def new_document(value: Any) -> str:
    """A whole new file holding ``value`` (two-space indent, trailing newline: how the harnesses write theirs)."""
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
