"""How our hook command is spelled in a harness's settings, and how we recognise it again.

A harness runs ``<llmojid-ctl> hook <harness>`` on every turn. The same command may be written with ``~/...``,
``$HOME/...``, ``${HOME}/...`` or an absolute path (a dotfiles repo shared between machines often uses the
first two), and all of these are one entry: installing must not add a second, uninstalling must remove each.
Claude Code and Codex run the command through a shell; Hermes splits it itself and expands only a leading ``~``,
so we write ``~/`` (or an absolute path), never ``$HOME``. Pure: the home directory is an argument.
"""

from __future__ import annotations

import os
import posixpath
import shlex

CTL_NAME = "llmojid-ctl"
_HOME_SPELLINGS = ("~/", "$HOME/", "${HOME}/")


def hook_command(ctl_path: str, hook_arg: str, home: str) -> str:
    """The command line we install: ``~/...`` when the executable lives under home and needs no quoting."""
    home = home.rstrip("/")
    rel = posixpath.relpath(ctl_path, home) if ctl_path.startswith(home + "/") else None
    program = "~/" + rel if rel is not None and shlex.quote(rel) == rel else shlex.quote(ctl_path)
    return f"{program} hook {shlex.quote(hook_arg)}"


def expand_home(word: str, home: str) -> str:
    """``~/x``, ``$HOME/x``, ``${HOME}/x`` -> ``<home>/x``; anything else unchanged."""
    home = home.rstrip("/")
    for prefix in _HOME_SPELLINGS:
        if word.startswith(prefix):
            return home + "/" + word[len(prefix) :]
    if word in ("~", "$HOME", "${HOME}"):
        return home
    return word


def argv(command: str, home: str) -> list[str] | None:
    """The command's words with home spellings expanded and the program path normalised; None if unparsable."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        return None
    if not words:
        return None
    words = [expand_home(w, home) for w in words]
    words[0] = posixpath.normpath(words[0]) if "/" in words[0] else words[0]
    return words


def same_command(a: str, b: str, home: str) -> bool:
    """True when two command lines run the same program with the same arguments (home spellings folded)."""
    left, right = argv(a, home), argv(b, home)
    return left is not None and left == right


def is_our_hook(command: str, hook_arg: str, home: str) -> bool:
    """True for any ``.../llmojid-ctl hook <hook_arg>``, whichever path or spelling points at the executable."""
    words = argv(command, home)
    return words is not None and os.path.basename(words[0]) == CTL_NAME and words[1:] == ["hook", hook_arg]


def program_path(command: str, home: str) -> str | None:
    """The executable a command line names (home spellings expanded), for ``hooks status`` to check it exists."""
    words = argv(command, home)
    return words[0] if words else None
