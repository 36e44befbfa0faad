"""Hook entries in a Claude Code ``settings.json`` or a Codex ``hooks.json``.

Both harnesses read the same shape: ``{"hooks": {"<Event>": [{"matcher"?: ..., "hooks": [{"type": "command",
"command": "..."}]}]}}``. We add one matcher group per entry (so removing it touches nothing of the user's), and
we check the shape only along the path we touch: a ``hooks`` that is not an object, an event that is not a list,
a group that is not an object, is refused with the key path that is wrong. Everything else in the file (other
settings, other events, the user's own groups, their formatting) is left byte for byte. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmojid.client.installers import jsonspan
from llmojid.client.installers.edits import Edit, SettingsError, apply
from llmojid.client.installers.jsonspan import kind_name


@dataclass(frozen=True)
class HookEntry:
    """One command hook, as found (``group``/``index`` locate it) or as wanted (both 0)."""

    event: str
    command: str
    group: int = 0
    index: int = 0


def _root(text: str) -> jsonspan.Node | None:
    return jsonspan.object_root(text, "a top-level key")


def _hooks_object(root: jsonspan.Node | None) -> jsonspan.Node | None:
    if root is None:
        return None
    member = root.get("hooks")
    if member is None:
        return None
    if member.value.kind != "object":
        raise SettingsError(f"has the wrong shape: 'hooks' is {kind_name(member.value)}, not an object")
    if member.value.duplicate_key is not None:
        raise SettingsError("has the wrong shape: an event appears twice under 'hooks'")
    return member.value


def _event_list(hooks: jsonspan.Node | None, event: str) -> jsonspan.Node | None:
    if hooks is None:
        return None
    member = hooks.get(event)
    if member is None:
        return None
    node = member.value
    if node.kind == "null":
        return None
    if node.kind != "array":
        raise SettingsError(f"has the wrong shape: 'hooks.{event}' is {kind_name(node)}, not a list")
    for gi, group in enumerate(node.items):
        where = f"'hooks.{event}[{gi}]'"
        if group.kind != "object":
            raise SettingsError(f"has the wrong shape: {where} is {kind_name(group)}, not an object")
        inner = group.get("hooks")
        if inner is None:
            continue
        if inner.value.kind != "array":
            raise SettingsError(f"has the wrong shape: {where}.hooks is {kind_name(inner.value)}, not a list")
        for hi, hook in enumerate(inner.value.items):
            if hook.kind != "object":
                raise SettingsError(f"has the wrong shape: {where}.hooks[{hi}] is {kind_name(hook)}, not an object")
    return node


def find(text: str, events: tuple[str, ...]) -> list[HookEntry]:
    """Every command hook under ``events`` (in file order). Raises SettingsError for a file we would refuse."""
    root = _root(text)
    hooks = _hooks_object(root)
    found = []
    for event in events:
        groups = _event_list(hooks, event)
        if groups is None:
            continue
        for gi, group in enumerate(groups.items):
            inner = group.get("hooks")
            for hi, hook in enumerate(inner.value.items if inner else ()):
                command = hook.get("command")
                if command is not None and command.value.kind == "string":
                    found.append(HookEntry(event, command.value.value, gi, hi))
    return found


def check(text: str, events: tuple[str, ...]) -> None:
    """Raise SettingsError unless we could edit ``events`` in this file."""
    find(text, events)


def _entry_value(command: str) -> dict[str, object]:
    return {"hooks": [{"type": "command", "command": command}]}


def add(text: str, entries: list[HookEntry]) -> tuple[str, list[Edit]]:
    """``text`` with one new group per entry appended to its event, and the edits that did it."""
    edits: list[Edit] = []
    for entry in entries:
        root = _root(text)
        group = _entry_value(entry.command)
        if root is None:
            edit = Edit(0, "", jsonspan.new_document({"hooks": {entry.event: [group]}}))
        else:
            hooks = _hooks_object(root)
            groups = _event_list(hooks, entry.event)
            if hooks is None:
                edit = jsonspan.add_child(text, root, root, {entry.event: [group]}, key="hooks")
            elif groups is None:
                member = hooks.get(entry.event)
                if member is not None:  # "Event": null -> a list holding our group
                    node = member.value
                    edit = Edit(
                        node.start, text[node.start : node.end], jsonspan.dump([group], "", "", multiline=False)
                    )
                else:
                    edit = jsonspan.add_child(text, root, hooks, [group], key=entry.event)
            else:
                edit = jsonspan.add_child(text, root, groups, group)
        text = apply(text, [edit])
        edits.append(edit)
    return text, edits


def remove(text: str, is_ours: Callable[[str, str], bool], events: tuple[str, ...]) -> str:
    """``text`` without any of our hooks, removing each group, event and ``hooks`` key our removal emptied.

    The fallback when the install record cannot undo our edits exactly (the user edited near them). A group
    that also holds the user's hooks, or keys we do not know, keeps them.
    """
    while True:
        root = _root(text)
        hooks = _hooks_object(root)
        hit = next((e for e in find(text, events) if is_ours(e.event, e.command)), None)
        if hit is None or root is None or hooks is None:
            return text
        groups = _event_list(hooks, hit.event)
        assert groups is not None
        group = groups.items[hit.group]
        inner_member = group.get("hooks")
        assert inner_member is not None
        inner = inner_member.value
        extra_keys = {m.key for m in group.members} - {"hooks", "matcher"}
        if len(inner.items) > 1 or extra_keys:
            edit = jsonspan.remove_child(text, inner, hit.index)
        elif len(groups.items) > 1:
            edit = jsonspan.remove_child(text, groups, hit.group)
        elif len(hooks.members) > 1:
            edit = jsonspan.remove_child(text, hooks, [m.key for m in hooks.members].index(hit.event))
        else:
            edit = jsonspan.remove_child(text, root, [m.key for m in root.members].index("hooks"))
        text = apply(text, [edit])


def other_hooks_remain(text: str) -> bool:
    """True when any hook of any event is configured (used to keep Codex's feature flag for the user's hooks)."""
    root = _root(text)
    hooks = _hooks_object(root)
    if hooks is None:
        return False
    return any(m.value.kind == "array" and m.value.items for m in hooks.members)
