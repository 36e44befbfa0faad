"""``llmojid-ctl hooks install|uninstall|status``: register the journal hook in each harness's own settings.

The edit logic per harness lives in ``llmojid.client.installers`` (pure); this module picks the harnesses,
reads their files, asks the planner, writes, and tells the user what changed and what is left for them to do
(trust the hook in Codex, approve it in Hermes, trust the folder in Gemini CLI, restart Claude Code). Uninstall
keeps the journal: it only takes our entries out of the harnesses' files.

Exit codes: 0 done (or nothing to do), 1 a settings file was refused (it is left byte-identical; the message says
why), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmojid.client import paths
from llmojid.client.cli import EXIT_DAEMON_ERROR, EXIT_OK, UsageError, print_json
from llmojid.client.installers.edits import SettingsError

if TYPE_CHECKING:
    from llmojid.client.installers.harnesses import Harness, Request, Role

#: The harnesses ``llmojid.client.installers.harnesses.HARNESSES`` knows (a test holds the two together). Named
#: here so that building the CLI's parser does not import the installers (and PyYAML) for every command.
NAMES = ("claude-code", "codex", "hermes", "gemini", "agy", "opencode", "grok")


def register(sub: Any) -> None:
    parser = sub.add_parser("hooks", help="install, remove or check the harness hooks that feed the journal")
    hsub = parser.add_subparsers(dest="hooks_command", required=True, metavar="SUBCOMMAND")
    names = ", ".join(NAMES)

    install = hsub.add_parser("install", help="register the journal hook (default: every harness found)")
    install.add_argument("harnesses", nargs="*", metavar="HARNESS", help=f"one or more of: {names}")
    install.add_argument("--nudge", choices=("soft", "hard"), help="also ask the assistant to lead with a kaomoji")
    install.add_argument("--long", action="store_true", help="the longer nudge wording")
    install.add_argument("--ctl", metavar="PATH", help="the llmojid-ctl the harness runs (default: this one)")
    install.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    install.set_defaults(func=cmd_install)

    uninstall = hsub.add_parser("uninstall", help="remove our hooks and nudges (the journal is kept)")
    uninstall.add_argument("harnesses", nargs="*", metavar="HARNESS", help=f"one or more of: {names}")
    uninstall.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    uninstall.set_defaults(func=cmd_uninstall)

    status = hsub.add_parser("status", help="which harnesses have the hook, the nudge, and what needs fixing")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def _short(path: str, home: str) -> str:
    home = home.rstrip("/")
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


def _detected(harness: Harness, home: str) -> bool:
    base = harness.directory(home, os.environ)
    if harness.detect_subdirs:  # a directory shared with another harness (Antigravity's ~/.gemini)
        return any(os.path.isdir(os.path.join(base, sub)) for sub in harness.detect_subdirs)
    return os.path.isdir(base)


def _plugin_dir(harness: Harness, home: str) -> str:
    """The directory of the plugin we own (Antigravity), "" for a harness whose files live in its own dirs."""
    return os.path.dirname(harness.files(home, os.environ)["manifest"]) if harness.manifest_file else ""


def _make_plugin_dir(harness: Harness, home: str) -> None:
    plugin = _plugin_dir(harness, home)
    if plugin:
        os.makedirs(plugin, mode=0o700, exist_ok=True)


def _remove_plugin_dir(harness: Harness, home: str) -> None:
    """After an uninstall: our plugin directory, then ``plugins/``, each only if nothing else is left in it."""
    plugin = _plugin_dir(harness, home)
    for directory in (plugin, os.path.dirname(plugin)) if plugin else ():
        try:
            os.rmdir(directory)
        except OSError:
            return


def _chosen(names: list[str], home: str, *, default_all_known: bool) -> list[Harness]:
    from llmojid.client.installers.harnesses import HARNESSES

    unknown = [n for n in names if n not in HARNESSES]
    if unknown:
        raise UsageError(f"unknown harness {unknown[0]!r} (known: {', '.join(HARNESSES)})")
    if names:
        return [HARNESSES[n] for n in dict.fromkeys(names)]
    found = [h for h in HARNESSES.values() if default_all_known or _detected(h, home)]
    if not found:
        looked = ", ".join(_short(h.directory(home, os.environ), home) for h in HARNESSES.values())
        raise UsageError(f"no harness found (looked for {looked}); name one to install for it")
    return found


def default_ctl() -> str:
    """The ``llmojid-ctl`` a harness should run: the one running now, else the one on PATH."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "llmojid-ctl" and os.path.exists(argv0):
        return os.path.abspath(argv0)
    found = shutil.which("llmojid-ctl")
    if found:
        return os.path.abspath(found)
    raise UsageError("cannot tell where llmojid-ctl is installed; pass --ctl PATH")


def _states(harness: Harness, home: str, records: dict[str, Any]) -> dict[Role, Any]:
    from llmojid.client.installers import files

    return {role: files.read_state(role, path, records) for role, path in harness.files(home, os.environ).items()}


def _sharing_instructions(harness: Harness, home: str, records: dict[str, Any]) -> tuple[str, ...]:
    """The other harnesses whose journal hook is installed and that read ``harness``'s instructions file."""
    from llmojid.client.installers.harnesses import HARNESSES, our_hooks

    path = harness.files(home, os.environ)["instructions"]
    sharing: list[str] = []
    for other in HARNESSES.values():
        if other.name == harness.name or other.files(home, os.environ)["instructions"] != path:
            continue
        try:
            if our_hooks(other, _states(other, home, records)["hooks"].text or "", home):
                sharing.append(other.title)
        except SettingsError:
            continue  # a file that does not parse is reported when that harness itself is handled
    return tuple(sharing)


def _run(args: argparse.Namespace, request: Request, harnesses: list[Harness], home: str) -> int:
    from llmojid.client.installers import files
    from llmojid.client.installers.harnesses import plan

    state_dir = paths.state_dir()
    records = files.load_records(state_dir)
    refused = 0
    verb = "install" if request.command else "uninstall"
    for harness in harnesses:
        if request.command and not _detected(harness, home):
            where = _short(harness.directory(home, os.environ), home)
            if harness.detect_subdirs:
                where = " or ".join(f"{where}/{sub}" for sub in harness.detect_subdirs)
            print(f"{harness.title}: not installed here ({where} does not exist); start it once, then rerun")
            refused += 1
            continue
        written: list[str] = []
        try:
            shared = () if request.command else _sharing_instructions(harness, home, records)
            result = plan(harness, _states(harness, home, records), request, home, shared)
            if args.dry_run:
                written = [c.path for c in result.changes if c.changed]
            else:
                _make_hooks_dir(harness, result.changes)
                # One file at a time, each recorded as soon as it is written: if a later file cannot be written
                # (it changed under us), the record still lets uninstall undo the ones that were.
                try:
                    if request.command and result.changed:
                        _make_plugin_dir(harness, home)
                    for change in result.changes:
                        written += files.apply([change])
                        files.update_records(records, [change])
                finally:
                    files.save_records(state_dir, records)
                if not request.command:
                    _remove_plugin_dir(harness, home)
        except SettingsError as exc:
            done = (
                f" (already changed: {', '.join(_short(p, home) for p in written)})" if written else ", nothing changed"
            )
            print(f"{harness.title}: refused{done}: {exc}", file=sys.stderr)
            refused += 1
            continue
        would = "would change" if args.dry_run else "changed"
        if written:
            print(f"{harness.title}: {verb} done; {would} {', '.join(_short(p, home) for p in written)}")
        else:
            print(f"{harness.title}: nothing to {verb}; no file {'would change' if args.dry_run else 'changed'}")
        for note in result.notes:
            print(f"  note: {note}")
    return EXIT_DAEMON_ERROR if refused else EXIT_OK


def _make_hooks_dir(harness: Harness, changes: list[Any]) -> None:
    """Create the folder a hook file goes into (OpenCode's plugins/, Grok's hooks/) when the harness has none yet."""
    if not harness.make_hooks_dir:
        return
    for change in changes:
        if change.role == "hooks" and change.after is not None and change.changed:
            os.makedirs(os.path.dirname(change.path), mode=0o700, exist_ok=True)


def cmd_install(args: argparse.Namespace) -> int:
    from llmojid.client.installers.harnesses import Request

    if args.long and not args.nudge:
        raise UsageError("--long chooses the nudge wording; use it with --nudge soft|hard")
    home = _home()
    ctl = os.path.abspath(args.ctl) if args.ctl else default_ctl()
    from llmojid.client.installers.commands import hook_command

    harnesses = _chosen(args.harnesses, home, default_all_known=False)
    # The command is per harness (its hook argument); the nudge choice is shared.
    code = EXIT_OK
    for harness in harnesses:
        request = Request(command=hook_command(ctl, harness.hook_arg, home), nudge=args.nudge or "", long=args.long)
        code = max(code, _run(args, request, [harness], home))
    return code


def cmd_uninstall(args: argparse.Namespace) -> int:
    from llmojid.client.installers.harnesses import Request

    home = _home()
    harnesses = _chosen(args.harnesses, home, default_all_known=True)
    present = [h for h in harnesses if args.harnesses or _detected(h, home)]
    if not present:
        print("nothing to uninstall: no harness found")
        return EXIT_OK
    return _run(args, Request(), present, home)


def cmd_status(args: argparse.Namespace) -> int:
    from llmojid.client.installers import commands, files
    from llmojid.client.installers.harnesses import HARNESSES, status

    home = _home()
    records = files.load_records(paths.state_dir())
    try:
        ctl = default_ctl()
    except UsageError:
        ctl = ""
    out = []
    for harness in HARNESSES.values():
        directory = harness.directory(home, os.environ)
        detected = _detected(harness, home)
        try:
            states = _states(harness, home, records)
        except SettingsError as exc:
            out.append({"harness": harness.name, "title": harness.title, "detected": detected, "error": str(exc)})
            continue
        command = commands.hook_command(ctl, harness.hook_arg, home) if ctl else ""
        st = status(harness, states, home, command, directory, detected)
        missing = [
            c for c in st.journal_hooks if (p := commands.program_path(c, home)) and "/" in p and not Path(p).exists()
        ]
        out.append(
            {
                "harness": harness.name,
                "title": harness.title,
                "detected": detected,
                "directory": directory,
                "installed": st.installed,
                "journal_hooks": st.journal_hooks,
                "current": st.current,
                "missing_programs": missing,
                "hard_nudge": st.hard_nudge or None,
                "soft_nudge": st.soft_nudge or None,
                "feature_flag": st.feature_flag,
                "to_do": _to_do(harness, st.installed, st.journal_hooks, states),
                "files": {role: {"path": path, "target": s.path} for (role, path), s in _paired(harness, home, states)},
                "errors": st.errors,
            }
        )
    if args.json:
        print_json({"harnesses": out})
        return EXIT_OK
    for entry in out:
        _print_status(entry, home)
    return EXIT_OK


#: Codex keeps its hook-trust record to itself: status can only remind.
CODEX_TRUST_STEP = "trust the hook once in Codex (/hooks in the Codex TUI); llmojid cannot see Codex's trust record"


def _to_do(harness: Harness, installed: bool, journal_hooks: list[str], states: dict[Role, Any]) -> list[str]:
    """What the user still has to do before an installed hook runs (Codex hook trust, Gemini folder trust, an
    OpenCode started before our plugin was written)."""
    if not installed:
        return []
    if harness.name == "codex":
        return [CODEX_TRUST_STEP]
    if "manifest" in states and states["manifest"].text is None:  # Antigravity loads no plugin without it
        return [f"the plugin's marker {states['manifest'].path} is missing: run `llmojid-ctl hooks install agy`"]
    if harness.name == "opencode":
        from llmojid.client.installers.running import opencode_not_loaded

        stale = opencode_not_loaded(states["hooks"].path)
        if not stale:
            return []
        return [
            f"restart OpenCode: {stale} running OpenCode process(es) started before the plugin was written"
            " and do not load it"
        ]
    if harness.name != "gemini":
        return []
    from llmojid.client.installers import files, gemini_trust

    trusted_path = os.environ.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH", "")
    if not trusted_path.startswith("/"):
        trusted_path = os.path.join(harness.directory(_home(), os.environ), "trustedFolders.json")
    try:
        trusted = files.read_state("hooks", trusted_path, {}).text
    except SettingsError:
        trusted = None
    return gemini_trust.pending(states["hooks"].text, trusted, journal_hooks)


def _paired(harness: Harness, home: str, states: dict[Role, Any]) -> list[tuple[tuple[Role, str], Any]]:
    return [((role, path), states[role]) for role, path in harness.files(home, os.environ).items()]


def _print_status(entry: dict[str, Any], home: str) -> None:
    title = entry["title"]
    if "error" in entry:
        print(f"{title:<12} cannot read its settings: {entry['error']}")
        return
    if not entry["detected"]:
        print(f"{title:<12} not found ({_short(entry['directory'], home)} does not exist)")
        return
    state = "installed" if entry["installed"] else "not installed"
    hooks_file = entry["files"]["hooks"]
    shown = _short(hooks_file["path"], home)
    if hooks_file["target"] != os.path.abspath(hooks_file["path"]):
        shown += f" -> {_short(hooks_file['target'], home)}"
    print(f"{title:<12} {state:<14} {shown}")
    for command in entry["journal_hooks"]:
        flag = "" if entry["current"] else "  (not this llmojid-ctl, or an older plugin: run hooks install)"
        print(f"  hook:  {command}{flag}")
    for command in entry["missing_programs"]:
        print(f"  warning: the hook's program does not exist; reinstall: {command}")
    if entry["feature_flag"] is False:
        print("  warning: Codex hooks are off: '[features] hooks = true' is missing from config.toml")
    for step in entry["to_do"]:
        print(f"  to do: {step}")
    if entry["hard_nudge"]:
        print(f"  nudge: hard ({entry['hard_nudge']} wording)")
    if entry["soft_nudge"]:
        print(f"  nudge: soft ({entry['soft_nudge']})")
    for role, message in entry["errors"].items():
        print(f"  error in the {role} file: {message}")
