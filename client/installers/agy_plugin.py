"""Our Antigravity (``agy``) plugin: ``~/.gemini/config/plugins/llmojid/`` with ``hooks.json`` and ``plugin.json``.

agy loads every directory under ``~/.gemini/config/plugins/`` that holds a ``plugin.json`` marker; the plugin's
``hooks.json`` is keyed by hook name, each mapping events to a flat list of handlers (spec section 6; llmoji 3.0
writes the same shape)::

    {"llmojid": {"Stop": [{"type": "command", "command": "~/.../llmojid-ctl hook agy"}]}}

The directory is ours, but the files are edited like any settings file (span edits, the install record, a file
that does not parse refused untouched), so a handler or hook name someone added beside ours survives. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from llmojid.client.installers import jsonspan
from llmojid.client.installers.edits import Edit, SettingsError, apply
from llmojid.client.installers.hooks_json import HookEntry
from llmojid.client.installers.jsonspan import kind_name

#: The hook name our handlers live under, and the plugin's name in its marker file.
PLUGIN_NAME = "llmojid"
MANIFEST = {"name": PLUGIN_NAME}


def _root(text: str) -> jsonspan.Node | None:
    return jsonspan.object_root(text, "a hook name")


def _events_of(root: jsonspan.Node | None, name: str) -> jsonspan.Node | None:
    member = root.get(name) if root is not None else None
    if member is None:
        return None
    if member.value.kind != "object":
        raise SettingsError(f"has the wrong shape: '{name}' is {kind_name(member.value)}, not an object")
    if member.value.duplicate_key is not None:
        raise SettingsError(f"has the wrong shape: an event appears twice under '{name}'")
    return member.value


def _handlers(events: jsonspan.Node | None, name: str, event: str) -> jsonspan.Node | None:
    member = events.get(event) if events is not None else None
    if member is None or member.value.kind == "null":
        return None
    node = member.value
    if node.kind != "array":
        raise SettingsError(f"has the wrong shape: '{name}.{event}' is {kind_name(node)}, not a list")
    for i, handler in enumerate(node.items):
        if handler.kind != "object":
            raise SettingsError(f"has the wrong shape: '{name}.{event}[{i}]' is {kind_name(handler)}, not an object")
    return node


def find(text: str, events: tuple[str, ...]) -> list[HookEntry]:
    """Our hook name's command handlers under ``events`` (``index`` locates each). Raises SettingsError."""
    found = []
    for event in events:
        handlers = _handlers(_events_of(_root(text), PLUGIN_NAME), PLUGIN_NAME, event)
        for i, handler in enumerate(handlers.items if handlers is not None else ()):
            command = handler.get("command")
            if command is not None and command.value.kind == "string":
                found.append(HookEntry(event, command.value.value, 0, i))
    return found


def add(text: str, entries: list[HookEntry]) -> tuple[str, list[Edit]]:
    """``text`` with a command handler per entry appended under our hook name, and the edits that did it."""
    edits: list[Edit] = []
    for entry in entries:
        handler = {"type": "command", "command": entry.command}
        root = _root(text)
        events = _events_of(root, PLUGIN_NAME)
        if root is None:
            edit = Edit(0, "", jsonspan.new_document({PLUGIN_NAME: {entry.event: [handler]}}))
        elif events is None:
            edit = jsonspan.add_child(text, root, root, {entry.event: [handler]}, key=PLUGIN_NAME)
        else:
            handlers = _handlers(events, PLUGIN_NAME, entry.event)
            if handlers is not None:
                edit = jsonspan.add_child(text, root, handlers, handler)
            elif (member := events.get(entry.event)) is not None:  # "Stop": null -> a list holding our handler
                node = member.value
                edit = Edit(node.start, text[node.start : node.end], jsonspan.dump([handler], "", "", multiline=False))
            else:
                edit = jsonspan.add_child(text, root, events, [handler], key=entry.event)
        text = apply(text, [edit])
        edits.append(edit)
    return text, edits


def remove(text: str, is_ours: Callable[[str, str], bool], events: tuple[str, ...]) -> str:
    """``text`` without our handlers, removing each event list and our hook name that our removal emptied (the
    fallback when the install record cannot undo our edits exactly)."""
    while True:
        hit = next((e for e in find(text, events) if is_ours(e.event, e.command)), None)
        root = _root(text)
        ours = _events_of(root, PLUGIN_NAME)
        if hit is None or root is None or ours is None:
            return text
        handlers = _handlers(ours, PLUGIN_NAME, hit.event)
        assert handlers is not None
        if len(handlers.items) > 1:
            edit = jsonspan.remove_child(text, handlers, hit.index)
        elif len(ours.members) > 1:
            edit = jsonspan.remove_child(text, ours, [m.key for m in ours.members].index(hit.event))
        else:
            edit = jsonspan.remove_child(text, root, [m.key for m in root.members].index(PLUGIN_NAME))
        text = apply(text, [edit])


def manifest_text() -> str:
    """The ``plugin.json`` we write when there is none."""
    return jsonspan.new_document(MANIFEST)


def check_manifest(text: str) -> None:
    """Raise SettingsError unless ``plugin.json`` is a JSON object (agy would not load a broken marker)."""
    root = jsonspan.parse(text)
    if root is not None and root.kind != "object":
        raise SettingsError(f"has the wrong shape: the top level is {kind_name(root)}, not an object")
