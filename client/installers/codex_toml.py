"""Codex's hook feature flag, ``[features] hooks = true`` in ``~/.codex/config.toml``, set with a one-line edit.

Codex runs no hook unless the flag is on. Python can read TOML (tomllib) but not write it, and a rewrite would
lose the user's comments and layout anyway, so the edit is textual: add ``hooks = true`` under an existing
``[features]`` header, append a ``[features]`` table when there is none, or turn ``hooks = false`` into ``true``.
Every edit is then checked by parsing the result: the flag must read true and every other value must be what it
was, or the edit is refused and the file left alone. A ``features`` written as an inline table or dotted keys is
refused with what to add by hand (appending a header there would redefine the table). Pure.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from llmojid.client.installers.edits import Edit, SettingsError, apply

_HEADER = re.compile(r"^[ \t]*\[[ \t]*features[ \t]*\][ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_HOOKS_KEY = re.compile(r"^[ \t]*hooks[ \t]*=[ \t]*(true|false)[ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_ANY_HEADER = re.compile(r"^[ \t]*\[", re.MULTILINE)


def load(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names the line and column ("Invalid value (at line 3, column 7)"), not the content.
        raise SettingsError(f"does not parse as TOML: {exc}") from None


def hooks_flag(text: str) -> bool | None:
    """The value of ``features.hooks`` (None when unset). Raises SettingsError for a file we would refuse."""
    features = load(text).get("features")
    if features is None:
        return None
    if not isinstance(features, dict):
        raise SettingsError("has the wrong shape: 'features' is not a table")
    value = features.get("hooks")
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SettingsError("has the wrong shape: 'features.hooks' is not true or false")
    return value


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def enable(text: str) -> tuple[str, list[Edit]]:
    """``text`` with ``features.hooks = true``, and the edit (none if it already was)."""
    before = load(text)
    flag = hooks_flag(text)
    if flag is True:
        return text, []
    newline = _newline(text)
    header = _HEADER.search(text)
    if flag is False:
        edit = _flip(text, header)
    elif header is not None:
        at = header.end()
        if text.startswith(newline, at):
            edit = Edit(at + len(newline), "", f"hooks = true{newline}")
        else:
            edit = Edit(at, "", f"{newline}hooks = true")
    else:
        # No [features] header: append one. Valid when there is no features table at all, or only sub-tables
        # ([features.x]); an inline table or dotted keys make the appended header a redefinition, which the
        # check below catches.
        lead = "" if not text or text.endswith(newline) else newline
        gap = newline if text.strip() else ""
        edit = Edit(len(text), "", f"{lead}{gap}[features]{newline}hooks = true{newline}")
        if "features" in before:
            try:
                after_text = apply(text, [edit])
                _verify(before, after_text)
            except SettingsError:
                raise SettingsError(
                    "defines 'features' as an inline table or dotted keys; add 'hooks = true' to it by hand"
                ) from None
    after_text = apply(text, [edit])
    _verify(before, after_text)
    return after_text, [edit]


def _flip(text: str, header: re.Match[str] | None) -> Edit:
    """``hooks = false`` -> ``hooks = true`` on the line inside the ``[features]`` table."""
    if header is None:
        raise SettingsError("sets features.hooks = false outside a [features] header; set it to true by hand")
    following = _ANY_HEADER.search(text, header.end())
    stop = following.start() if following else len(text)
    match = _HOOKS_KEY.search(text, header.end(), stop)
    if match is None or match.group(1) != "false":
        raise SettingsError("sets features.hooks = false in a form this installer does not edit; set it by hand")
    line = match.group(0)
    return Edit(match.start(), line, line.replace("false", "true", 1))


def _verify(before: dict[str, Any], after_text: str) -> None:
    """The edit set the flag and changed nothing else, or it is refused."""
    try:
        after = tomllib.loads(after_text)
    except tomllib.TOMLDecodeError:
        raise SettingsError(
            "could not be edited safely (the edit did not parse); add '[features] hooks = true'"
        ) from None
    features = after.get("features")
    if not isinstance(features, dict) or features.get("hooks") is not True:
        raise SettingsError("could not be edited safely; add '[features] hooks = true' by hand")
    expected = dict(before)
    expected["features"] = {**before.get("features", {}), "hooks": True}
    if after != expected:
        raise SettingsError("could not be edited safely (other values moved); add '[features] hooks = true' by hand")
