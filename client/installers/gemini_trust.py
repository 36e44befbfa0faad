"""What a Gemini CLI user may still have to do before our ``AfterAgent`` hook runs. Pure: file texts in, steps out.

Gemini CLI 0.61 (checked in its source and by running it) skips every configured hook in a folder that is not
trusted (``-p`` exits 55 there), unless folder trust is switched off (``security.folderTrust.enabled: false``).
Trust lives in ``~/.gemini/trustedFolders.json`` (``GEMINI_CLI_TRUSTED_FOLDERS_PATH`` moves it): ``{path:
"TRUST_FOLDER" | "TRUST_PARENT" | "DO_NOT_TRUST"}``. Hooks can also be switched off as a whole
(``hooksConfig.enabled: false``) or one by one (``hooksConfig.disabled``: names, or the command of a hook that has
none). Gemini CLI reads its settings with comments allowed; a file ``json`` cannot read is left to the installer,
which refuses it with its own message.
"""

from __future__ import annotations

import json
from typing import Any

TRUSTED = ("TRUST_FOLDER", "TRUST_PARENT")
HEADLESS_HINT = "headless runs: GEMINI_CLI_TRUST_WORKSPACE=true or --skip-trust"


def _object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _get(obj: dict[str, Any], *keys: str) -> object:
    node: object = obj
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def trusted_folders(trusted_text: str | None) -> int:
    """How many folders ``trustedFolders.json`` trusts (itself or with its parent)."""
    return sum(1 for level in _object(trusted_text).values() if level in TRUSTED)


def pending(settings_text: str | None, trusted_text: str | None, our_commands: list[str]) -> list[str]:
    """The steps left for the user, in the order Gemini CLI checks them (none: our hook runs where trusted)."""
    settings = _object(settings_text)
    steps = []
    if _get(settings, "hooksConfig", "enabled") is False:
        steps.append("hooks are switched off: set hooksConfig.enabled to true in settings.json")
    disabled = _get(settings, "hooksConfig", "disabled")
    if isinstance(disabled, list) and any(c in disabled for c in our_commands):
        steps.append("our hook is listed in hooksConfig.disabled in settings.json: take it out")
    if _get(settings, "security", "folderTrust", "enabled") is False:
        return steps
    count = trusted_folders(trusted_text)
    if count:
        steps.append(
            f"hooks run only in trusted folders ({count} trusted now): trust each project folder when Gemini CLI "
            f"asks, or with /permissions ({HEADLESS_HINT})"
        )
    else:
        steps.append(
            "no folder is trusted yet, and hooks run only in trusted folders: trust your project folders when "
            f"Gemini CLI asks, or with /permissions ({HEADLESS_HINT})"
        )
    return steps
