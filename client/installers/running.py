"""Which running OpenCode processes have not loaded our plugin: for ``hooks status`` to say what is left to do.

OpenCode loads its plugins when it starts, so an OpenCode (the TUI, ``opencode serve``) that was already running
when ``hooks install`` wrote the plugin does not journal until it is restarted. Linux only (``/proc``); elsewhere
nothing is reported. A process counts when it is an ``opencode`` executable of ours, its environment points at the
config folder the plugin is in (``$XDG_CONFIG_HOME/opencode`` or ``~/.config/opencode``), and it started before the
plugin file was last written. Nothing here reads more of a process than its executable name, start time and the
two variables that locate its config folder (its environment may hold API keys: they are never kept or shown).
"""

from __future__ import annotations

import os
from pathlib import Path

EXECUTABLES = frozenset({"opencode", "opencode.exe"})
PROC = Path("/proc")


def _boot_time() -> float | None:
    try:
        for line in (PROC / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _start_time(pid: str, boot: float) -> float | None:
    try:
        raw = (PROC / pid / "stat").read_text()
        fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _config_dir(pid: str) -> str | None:
    """The OpenCode config folder a process uses, from its HOME and XDG_CONFIG_HOME (nothing else is kept)."""
    try:
        environ = (PROC / pid / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    found: dict[bytes, bytes] = {}
    for entry in environ:
        name, _, value = entry.partition(b"=")
        if name in (b"HOME", b"XDG_CONFIG_HOME"):
            found[name] = value
    xdg = os.fsdecode(found.get(b"XDG_CONFIG_HOME", b""))
    home = os.fsdecode(found.get(b"HOME", b""))
    if xdg.startswith("/"):
        return os.path.join(xdg, "opencode")
    return os.path.join(home, ".config", "opencode") if home.startswith("/") else None


def opencode_not_loaded(plugin: str) -> int:
    """How many running OpenCode processes of ours that would load ``plugin`` started before it was written."""
    boot = _boot_time()
    try:
        written = os.stat(plugin).st_mtime
        pids = [p for p in os.listdir(PROC) if p.isdigit()]
    except OSError:
        return 0
    if boot is None:
        return 0
    folder = os.path.realpath(os.path.dirname(os.path.dirname(plugin)))
    count = 0
    for pid in pids:
        try:
            if os.stat(PROC / pid).st_uid != os.getuid():
                continue
            if os.path.basename(os.readlink(PROC / pid / "exe")) not in EXECUTABLES:
                continue
        except OSError:
            continue
        started = _start_time(pid, boot)
        config = _config_dir(pid)
        if started is not None and config is not None and started < written:
            count += os.path.realpath(config) == folder
    return count
