"""Shell hooks in Hermes's ``~/.hermes/config.yaml``, edited line by line so comments and layout survive.

Hermes reads ``hooks: {<event>: [{command: ...}, ...]}``. A YAML library round trip would drop the user's
comments and reflow their file, so the edit is textual: we insert whole lines (``- command: "..."`` under the
event, the event under ``hooks:``, or a ``hooks:`` block at the end), indented like their neighbours. PyYAML only
reads: ``compose`` tells us where each node lies, and after every edit ``safe_load`` must give exactly the old
data plus our entry, or the edit is refused and the file left alone. Flow style (``hooks: {a: ...}``) other than
an empty ``{}`` / ``[]`` is refused with what to do by hand. Pure (PyYAML is imported here, not by the CLI at
start-up).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import yaml

from llmojid.client.installers.edits import Edit, SettingsError, apply
from llmojid.client.installers.hooks_json import HookEntry

_NULLS = ("", "~", "null", "Null", "NULL")


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise SettingsError(f"does not parse as YAML{where}") from None


def _load(text: str) -> Any:
    _compose(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise SettingsError("does not parse as YAML") from None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and node.value in _NULLS


def _get(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _root(text: str) -> yaml.MappingNode | None:
    root = _compose(text)
    if root is None or _is_null(root):
        return None
    if not isinstance(root, yaml.MappingNode):
        raise SettingsError("has the wrong shape: the top level is not a mapping")
    return root


def _hooks(root: yaml.MappingNode | None) -> tuple[yaml.Node, yaml.Node] | None:
    if root is None:
        return None
    pair = _get(root, "hooks")
    if pair is None:
        return None
    value = pair[1]
    if not (_is_null(value) or isinstance(value, yaml.MappingNode)):
        raise SettingsError("has the wrong shape: 'hooks' is not a mapping")
    return pair


def find(text: str, events: tuple[str, ...]) -> list[HookEntry]:
    """Every ``command`` under ``hooks.<event>`` for ``events``. Raises SettingsError for a file we would refuse."""
    data = _load(text)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise SettingsError("has the wrong shape: the top level is not a mapping")
    hooks = data.get("hooks")
    if hooks is None:
        return []
    if not isinstance(hooks, dict):
        raise SettingsError("has the wrong shape: 'hooks' is not a mapping")
    found = []
    for event in events:
        entries = hooks.get(event)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise SettingsError(f"has the wrong shape: 'hooks.{event}' is not a list")
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("command"), str):
                found.append(HookEntry(event, entry["command"], 0, index))
    return found


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _content_end(node: yaml.Node) -> int:
    """Where a node's last character of content lies (block nodes' own end marks run on past comments)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _content_end(node.value[-1])
    return int(node.end_mark.index)


def _after_line(text: str, pos: int, newline: str) -> tuple[int, str, str]:
    """Insertion point after the line holding ``pos``: (offset, text to put before our lines, after them)."""
    end = text.find("\n", pos)
    if end < 0:
        return len(text), newline, ""
    return end + 1, "", newline


def _lines(lines: list[str], newline: str) -> str:
    return newline.join(lines)


def _item_line(indent: int, command: str) -> str:
    return " " * indent + "- command: " + json.dumps(command, ensure_ascii=False)


def _clear_inline(text: str, node: yaml.Node) -> Edit | None:
    """Edit removing an inline empty value (``~``, ``null``, ``{}``, ``[]``) so block lines can follow the key."""
    start, end = int(node.start_mark.index), int(node.end_mark.index)
    if start == end:
        return None
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return Edit(start, text[start:end], "")


def _empty_flow(node: yaml.Node) -> bool:
    return isinstance(node, yaml.MappingNode | yaml.SequenceNode) and bool(node.flow_style) and not node.value


def _sequence_offset(hooks: yaml.MappingNode) -> int:
    """How far the file indents a hook list past its event key (``- `` under the key, or two columns in)."""
    for key, value in hooks.value:
        if isinstance(value, yaml.SequenceNode) and not value.flow_style:
            return max(0, int(value.start_mark.column) - int(key.start_mark.column))
    return 2


def _add_one(text: str, entry: HookEntry) -> list[Edit]:
    newline = _newline(text)
    root = _root(text)
    hooks = _hooks(root)
    if root is not None and root.flow_style:
        raise SettingsError("is written in flow style ({...}); add the hook by hand")
    if hooks is None:
        block = ["hooks:", f"  {entry.event}:", _item_line(4, entry.command)]
        if not text:
            return [Edit(0, "", _lines(block, newline) + newline)]
        lead = "" if text.endswith(newline) else newline
        gap = newline if text.strip() else ""
        return [Edit(len(text), "", lead + gap + _lines(block, newline) + newline)]
    key, value = hooks
    if _is_null(value) or _empty_flow(value):
        clear = _clear_inline(text, value)
        base = clear.offset if clear else int(key.end_mark.index)
        at, before, after = _after_line(text, base, newline)
        insert = Edit(at, "", before + _lines([f"  {entry.event}:", _item_line(4, entry.command)], newline) + after)
        return [e for e in (insert, clear) if e is not None]  # later offset first: both stay valid
    assert isinstance(value, yaml.MappingNode)
    if value.flow_style:
        raise SettingsError("writes 'hooks' in flow style ({...}); add the hook by hand")
    indent = int(value.value[0][0].start_mark.column) if value.value else 2
    pair = _get(value, entry.event)
    if pair is None:
        at, before, after = _after_line(text, _content_end(value), newline)
        lines = [" " * indent + f"{entry.event}:", _item_line(indent + _sequence_offset(value), entry.command)]
        return [Edit(at, "", before + _lines(lines, newline) + after)]
    ev_key, seq = pair
    if _is_null(seq) or _empty_flow(seq):
        clear = _clear_inline(text, seq)
        base = clear.offset if clear else int(ev_key.end_mark.index)
        at, before, after = _after_line(text, base, newline)
        insert = Edit(at, "", before + _item_line(int(ev_key.start_mark.column) + 2, entry.command) + after)
        return [e for e in (insert, clear) if e is not None]
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style:
        raise SettingsError(f"writes 'hooks.{entry.event}' in a form this installer does not edit; add it by hand")
    at, before, after = _after_line(text, _content_end(seq), newline)
    return [Edit(at, "", before + _item_line(int(seq.start_mark.column), entry.command) + after)]


def _expected_after_add(data: Any, entry: HookEntry) -> Any:
    data = copy.deepcopy(data) if data is not None else {}
    hooks = data.get("hooks") or {}
    data["hooks"] = hooks
    hooks[entry.event] = [*(hooks.get(entry.event) or []), {"command": entry.command}]
    return data


def add(text: str, entries: list[HookEntry]) -> tuple[str, list[Edit]]:
    """``text`` with one ``- command:`` line per entry, and the edits; refused unless the result reads as intended."""
    find(text, tuple(e.event for e in entries))  # parse and shape checks first
    all_edits: list[Edit] = []
    for entry in entries:
        before = _load(text)
        edits = _add_one(text, entry)
        after_text = apply(text, edits)
        try:
            after = yaml.safe_load(after_text)
        except yaml.YAMLError:
            after = None
        if after != _expected_after_add(before, entry):
            raise SettingsError("could not be edited safely; add the hook under 'hooks:' by hand")
        text = after_text
        all_edits += edits
    return text, all_edits


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Whole lines covering [start, end): from the first line's start through the last line's newline."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, (len(text) if line_end < 0 else line_end + 1)


def remove(text: str, is_ours: Callable[[str, str], bool], events: tuple[str, ...]) -> str:
    """``text`` without our hook lines, removing the event and ``hooks:`` lines our removal emptied.

    The fallback when the install record cannot undo our edits exactly. Only whole block-style lines are removed;
    the result must read as the old data minus our entries, or the file is refused (left alone).
    """
    while True:
        hit = next((e for e in find(text, events) if is_ours(e.event, e.command)), None)
        if hit is None:
            return text
        root = _root(text)
        hooks = _hooks(root)
        assert root is not None and hooks is not None
        hooks_key, hooks_map = hooks
        assert isinstance(hooks_map, yaml.MappingNode)
        pair = _get(hooks_map, hit.event)
        assert pair is not None
        ev_key, seq = pair
        if not isinstance(seq, yaml.SequenceNode) or seq.flow_style or hooks_map.flow_style:
            raise SettingsError("writes our hook in flow style; remove it by hand")
        item = seq.value[hit.index]
        if len(seq.value) > 1:
            start, end = _line_span(text, int(item.start_mark.index), _content_end(item))
        elif len(hooks_map.value) > 1:
            start, end = _line_span(text, int(ev_key.start_mark.index), _content_end(seq))
        else:
            start, end = _line_span(text, int(hooks_key.start_mark.index), _content_end(hooks_map))
        before = _load(text)
        after_text = text[:start] + text[end:]
        try:
            after = yaml.safe_load(after_text)
        except yaml.YAMLError:
            after = None
        expected = copy.deepcopy(before)
        entries = expected["hooks"][hit.event]
        del entries[hit.index]
        if not entries:
            del expected["hooks"][hit.event]
            if not expected["hooks"]:
                del expected["hooks"]
        if (after or {}) != (expected or {}):
            raise SettingsError("could not remove our hook safely; remove it under 'hooks:' by hand")
        text = after_text
