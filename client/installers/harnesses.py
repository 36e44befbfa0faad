"""Which files each harness keeps its hooks in, and the plan that installs or uninstalls ours. Pure.

The planner sees each file as it is (``FileState``: text, or None when missing, plus what the install record
says we did to it) and returns a ``Change`` per file: the text to write (None: delete the file we created), the
record to keep, and notes for the user. ``files.py`` does the reading and the writing.

Round trip: installing computes "the file without anything of ours" (undoing our recorded edits, exactly when
the file is as we left it) and adds what is wanted to that, recording the edits; uninstalling undoes them. So
install followed by uninstall gives back the file byte for byte, and a second install changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from llmojid.client.installers import agy_plugin, codex_toml, commands, hermes_yaml, hooks_json, nudge, opencode_plugin
from llmojid.client.installers.edits import Edit, SettingsError, undo_by_search, undo_exact
from llmojid.client.installers.hooks_json import HookEntry

Role = Literal["hooks", "flag", "instructions", "manifest"]
NudgeKind = Literal["", "soft", "hard"]


@dataclass(frozen=True)
class Harness:
    name: str
    title: str
    #: ``llmojid-ctl hook <hook_arg>`` (the daemon's adapter name).
    hook_arg: str
    #: The harness's own directory: ``$<dir_env>`` if set, else ``~/<dir_default>``.
    dir_env: str
    dir_default: str
    hooks_file: str
    #: ``plugin``: a file that is ours alone (OpenCode), written whole and deleted on uninstall.
    hooks_format: Literal["json", "yaml", "agy-plugin", "plugin"]
    journal_event: str
    nudge_event: str
    envelope: nudge.EnvelopeKind
    instructions_file: str
    flag_file: str = ""
    #: What the user must still do after the hook file changed.
    after_change: str = ""
    #: ``$<dir_env>`` names a home that holds ``dir_default`` (Gemini CLI's ``GEMINI_CLI_HOME``), not the directory.
    dir_env_is_home: bool = False
    #: A plugin marker file written beside the hooks file (Antigravity's ``plugin.json``); the hooks file's
    #: directory is then ours to create.
    manifest_file: str = ""
    #: Subdirectories whose presence shows the harness is installed (default: its directory exists). Antigravity
    #: shares ``~/.gemini`` with Gemini CLI, so that directory alone says nothing about it.
    detect_subdirs: tuple[str, ...] = ()
    #: What the user may still have to do for the hook to run at all, said on every install (and by status).
    reminder: str = ""
    #: ``$<dir_env>/<dir_env_sub>`` is the directory when the variable is set (OpenCode: $XDG_CONFIG_HOME/opencode).
    dir_env_sub: str = ""
    #: The hook file lives in a folder of the harness directory that may not exist yet (created on install).
    make_hooks_dir: bool = False

    def directory(self, home: str, environ: Mapping[str, str]) -> str:
        override = environ.get(self.dir_env, "") if self.dir_env else ""
        if override.startswith("/"):
            if self.dir_env_is_home:
                return f"{override.rstrip('/')}/{self.dir_default}"
            return f"{override.rstrip('/')}/{self.dir_env_sub}" if self.dir_env_sub else override
        return f"{home.rstrip('/')}/{self.dir_default}"

    def files(self, home: str, environ: Mapping[str, str]) -> dict[Role, str]:
        base = self.directory(home, environ)
        out: dict[Role, str] = {
            "hooks": f"{base}/{self.hooks_file}",
            "instructions": f"{base}/{self.instructions_file}",
        }
        if self.flag_file:
            out["flag"] = f"{base}/{self.flag_file}"
        if self.manifest_file:
            out["manifest"] = f"{base}/{self.manifest_file}"
        return out


HARNESSES: dict[str, Harness] = {
    h.name: h
    for h in (
        Harness(
            name="claude-code",
            title="Claude Code",
            hook_arg="claude-code",
            dir_env="CLAUDE_CONFIG_DIR",
            dir_default=".claude",
            hooks_file="settings.json",
            hooks_format="json",
            journal_event="Stop",
            nudge_event="UserPromptSubmit",
            envelope="additional-context",
            instructions_file="CLAUDE.md",
            after_change="Claude Code reads hooks when a session starts: restart running sessions.",
        ),
        Harness(
            name="codex",
            title="Codex",
            hook_arg="codex",
            dir_env="CODEX_HOME",
            dir_default=".codex",
            hooks_file="hooks.json",
            hooks_format="json",
            journal_event="Stop",
            nudge_event="UserPromptSubmit",
            envelope="additional-context",
            instructions_file="AGENTS.md",
            flag_file="config.toml",
            after_change=(
                "Codex skips a new or changed hook until you trust it once: open Codex, run /hooks and trust the "
                "llmojid entries (Codex's app-server records the same through hooks/list and config/batchWrite). "
                "Until then, `codex exec --dangerously-bypass-hook-trust` runs them for a single session."
            ),
        ),
        Harness(
            name="hermes",
            title="Hermes",
            hook_arg="hermes",
            dir_env="HERMES_HOME",
            dir_default=".hermes",
            hooks_file="config.yaml",
            hooks_format="yaml",
            journal_event="post_llm_call",
            nudge_event="pre_llm_call",
            envelope="hermes-context",
            instructions_file="SOUL.md",
            after_change=(
                "Hermes asks once, in the terminal, before it first runs a new hook command; gateway and desktop "
                "runs need that approval given once, or `hooks_auto_accept: true` in config.yaml."
            ),
        ),
        # --- Gemini CLI and Antigravity (agy) ---
        Harness(
            name="gemini",
            title="Gemini CLI",
            hook_arg="gemini",
            dir_env="GEMINI_CLI_HOME",
            dir_env_is_home=True,
            dir_default=".gemini",
            hooks_file="settings.json",
            hooks_format="json",
            journal_event="AfterAgent",
            nudge_event="BeforeAgent",
            envelope="additional-context",
            instructions_file="GEMINI.md",
            after_change="Gemini CLI reads hooks when a session starts: restart running sessions.",
            reminder=(
                "Gemini CLI runs hooks only in trusted folders: trust each project folder when Gemini CLI asks "
                "(or with /permissions; headless runs: GEMINI_CLI_TRUST_WORKSPACE=true or --skip-trust). "
                "`llmojid-ctl hooks status` shows the folders trusted now."
            ),
        ),
        Harness(
            name="agy",
            title="Antigravity",
            hook_arg="agy",
            dir_env="",
            dir_default=".gemini",
            hooks_file=f"config/plugins/{agy_plugin.PLUGIN_NAME}/hooks.json",
            hooks_format="agy-plugin",
            journal_event="Stop",
            nudge_event="",
            envelope="additional-context",
            instructions_file="GEMINI.md",
            manifest_file=f"config/plugins/{agy_plugin.PLUGIN_NAME}/plugin.json",
            detect_subdirs=("antigravity-cli", "config"),
            after_change="Antigravity loads plugins when it starts: restart running sessions.",
        ),
        # OpenCode runs no hook commands: our plugin file (ours alone) starts the hook on each finished message.
        Harness(
            name="opencode",
            title="OpenCode",
            hook_arg="opencode",
            dir_env="XDG_CONFIG_HOME",
            dir_env_sub="opencode",
            dir_default=".config/opencode",
            hooks_file="plugins/llmojid.js",
            hooks_format="plugin",
            journal_event=opencode_plugin.EVENT,
            nudge_event="",
            envelope="additional-context",
            instructions_file="AGENTS.md",
            make_hooks_dir=True,
            after_change="OpenCode loads plugins when it starts: restart running sessions (the TUI, opencode serve).",
        ),
        # Grok Build reads every ~/.grok/hooks/*.json (Claude Code's shape); llmojid.json is ours. It discards an
        # allowing UserPromptSubmit hook's output, so there is no hard nudge.
        Harness(
            name="grok",
            title="Grok Build",
            hook_arg="grok",
            dir_env="",
            dir_default=".grok",
            hooks_file="hooks/llmojid.json",
            hooks_format="json",
            journal_event="Stop",
            nudge_event="",
            envelope="additional-context",
            instructions_file="AGENTS.md",
            make_hooks_dir=True,
        ),
    )
}


# --- State in, changes out --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """What an install did to one file: the edits (to undo), the file's hash after them, whether we created it."""

    created: bool
    sha256: str
    edits: tuple[Edit, ...]

    @classmethod
    def of(cls, after: str, edits: list[Edit], created: bool) -> Record:
        return cls(created=created, sha256=sha256(after), edits=tuple(edits))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class FileState:
    role: Role
    path: str
    text: str | None
    record: Record | None = None


@dataclass(frozen=True)
class Change:
    role: Role
    path: str
    before: str | None
    after: str | None
    record: Record | None
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Request:
    """An install (``command`` set) or an uninstall (``command`` empty)."""

    command: str = ""
    nudge: NudgeKind = ""
    long: bool = False


@dataclass
class Plan:
    harness: Harness
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


# --- Our entries in the hook file -------------------------------------------------------------------------------------
def is_ours(harness: Harness, home: str) -> Callable[[str, str], bool]:
    def check(event: str, command: str) -> bool:
        if event == harness.journal_event and commands.is_our_hook(command, harness.hook_arg, home):
            return True
        return (
            bool(harness.nudge_event)
            and event == harness.nudge_event
            and nudge.hard_wording(command, harness.envelope) is not None
        )

    return check


def _events(harness: Harness) -> tuple[str, ...]:
    return tuple(e for e in (harness.journal_event, harness.nudge_event) if e)


def find_hooks(harness: Harness, text: str) -> list[HookEntry]:
    if harness.hooks_format == "plugin":
        return opencode_plugin.find(text)
    if harness.hooks_format == "json":
        return hooks_json.find(text, _events(harness))
    if harness.hooks_format == "agy-plugin":
        return agy_plugin.find(text, _events(harness))
    return hermes_yaml.find(text, _events(harness))


def our_hooks(harness: Harness, text: str, home: str) -> list[HookEntry]:
    ours = is_ours(harness, home)
    return [e for e in find_hooks(harness, text) if ours(e.event, e.command)]


def _add_hooks(harness: Harness, text: str, entries: list[HookEntry], home: str) -> tuple[str, list[Edit]]:
    if harness.hooks_format == "plugin":
        return opencode_plugin.add(text, entries, home)
    if harness.hooks_format == "json":
        return hooks_json.add(text, entries)
    if harness.hooks_format == "agy-plugin":
        return agy_plugin.add(text, entries)
    return hermes_yaml.add(text, entries)


def _strip_hooks(harness: Harness, text: str, home: str) -> str:
    if harness.hooks_format == "plugin":
        return opencode_plugin.remove(text)
    if harness.hooks_format == "json":
        return hooks_json.remove(text, is_ours(harness, home), _events(harness))
    if harness.hooks_format == "agy-plugin":
        return agy_plugin.remove(text, is_ours(harness, home), _events(harness))
    return hermes_yaml.remove(text, is_ours(harness, home), _events(harness))


def _restore(text: str, record: Record | None, *, strip: Callable[[str], str], clean: Callable[[str], bool]) -> str:
    """``text`` without anything of ours: the recorded edits undone when possible, else ``strip``.

    ``clean(candidate)`` must say the candidate parses and holds nothing of ours: a searched-for undo is only
    accepted when it does.
    """
    if record is not None:
        if sha256(text) == record.sha256:
            exact = undo_exact(text, record.edits)
            if exact is not None:
                return exact
        searched = undo_by_search(text, record.edits)
        if searched is not None and clean(searched):
            return searched
    return strip(text)


def _restored_exactly(text: str, record: Record | None) -> bool:
    return record is not None and sha256(text) == record.sha256 and undo_exact(text, record.edits) is not None


def _clean_hooks(harness: Harness, home: str) -> Callable[[str], bool]:
    def clean(candidate: str) -> bool:
        try:
            return not our_hooks(harness, candidate, home)
        except SettingsError:
            return False

    return clean


@contextmanager
def _naming(path: str) -> Iterator[None]:
    """Prefix a refusal with the file it is about (the pure editors do not know paths)."""
    try:
        yield
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


# --- Planning ---------------------------------------------------------------------------------------------------------
def plan(
    harness: Harness,
    states: Mapping[Role, FileState],
    request: Request,
    home: str,
    instructions_shared_with: tuple[str, ...] = (),
) -> Plan:
    """What to write to each of the harness's files. Raises SettingsError (nothing is written then).

    ``instructions_shared_with`` names the other installed harnesses that read the same instructions file
    (Gemini CLI and Antigravity share ``~/.gemini/GEMINI.md``): uninstalling one leaves the soft nudge to them.
    """
    result = Plan(harness)
    hooks_state = states["hooks"]
    with _naming(hooks_state.path):
        hooks_change = _plan_hooks(harness, hooks_state, request, home)
    result.changes.append(hooks_change)
    if "flag" in states:
        with _naming(states["flag"].path):
            result.changes.append(_plan_flag(states["flag"], hooks_change, request))
    if "manifest" in states:
        with _naming(states["manifest"].path):
            result.changes.append(_plan_manifest(states["manifest"], hooks_change, request))
    with _naming(states["instructions"].path):
        result.changes.append(_plan_instructions(states["instructions"], request, instructions_shared_with))
    for change in result.changes:
        result.notes.extend(change.notes)
    if hooks_change.changed and request.command and harness.after_change:
        result.notes.append(harness.after_change)
    if request.command and request.nudge == "hard" and not harness.nudge_event:
        result.notes.append(
            f"{harness.title} gets no hard nudge from llmojid: it has no prompt-time hook for a hard nudge; "
            "--nudge soft works."
        )
    if harness.name == "codex" and request.command and not hooks_change.changed:
        result.notes.append("hooks.json is unchanged, so a trust you gave Codex for it still holds.")
    if request.command and harness.reminder:
        result.notes.append(harness.reminder)
    return result


def _plan_hooks(harness: Harness, state: FileState, request: Request, home: str) -> Change:
    text = state.text or ""
    present = our_hooks(harness, text, home)
    if not request.command:
        if state.text is None or (not present and state.record is None):
            return Change(state.role, state.path, state.text, state.text, None)
        base = _restore(
            text, state.record, strip=lambda t: _strip_hooks(harness, t, home), clean=_clean_hooks(harness, home)
        )
        ours_alone = harness.hooks_format == "plugin"
        delete = base == "" and (ours_alone or (state.record is not None and state.record.created))
        return Change(state.role, state.path, state.text, None if delete else base, None)
    desired = _desired_hooks(harness, present, request, home)
    same = Counter((e.event, e.command) for e in present) == Counter((e.event, e.command) for e in desired)
    if same and (harness.hooks_format != "plugin" or opencode_plugin.is_current(text, home)):
        return Change(state.role, state.path, state.text, state.text, state.record)
    base = _restore(
        text, state.record, strip=lambda t: _strip_hooks(harness, t, home), clean=_clean_hooks(harness, home)
    )
    after, edits = _add_hooks(harness, base, desired, home)
    created = state.text is None or (state.record is not None and state.record.created and base == "")
    return Change(state.role, state.path, state.text, after, Record.of(after, edits, created))


def _desired_hooks(harness: Harness, present: list[HookEntry], request: Request, home: str) -> list[HookEntry]:
    journal = [e for e in present if e.event == harness.journal_event]
    hard = [e for e in present if e.event == harness.nudge_event]
    if len(journal) == 1 and commands.same_command(journal[0].command, request.command, home):
        journal_command = journal[0].command  # the user's spelling ($HOME/..., ~/...) of the same command
    else:
        journal_command = request.command
    wanted = [HookEntry(harness.journal_event, journal_command)]
    if request.nudge == "hard" and harness.nudge_event:
        body = nudge.wording(request.long)
        keep = [e for e in hard if nudge.hard_wording(e.command, harness.envelope) == body][:1]
        wanted += keep or [HookEntry(harness.nudge_event, nudge.hard_command(harness.envelope, body))]
    else:
        wanted += [HookEntry(e.event, e.command) for e in hard]
    return wanted


def _plan_flag(state: FileState, hooks_change: Change, request: Request) -> Change:
    """Codex's ``[features] hooks = true``: set on install; on uninstall removed only if we set it and no other
    hook needs it."""
    text = state.text or ""
    if request.command:
        if codex_toml.hooks_flag(text) is True:
            return Change(state.role, state.path, state.text, state.text, state.record)
        after, edits = codex_toml.enable(text)
        return Change(state.role, state.path, state.text, after, Record.of(after, edits, state.text is None))
    if state.record is None or state.text is None:
        return Change(state.role, state.path, state.text, state.text, None)
    remaining = hooks_change.after or ""
    if hooks_json.other_hooks_remain(remaining) or _config_has_hooks(text):
        note = "Left '[features] hooks = true' in config.toml: other hooks are configured and need it."
        return Change(state.role, state.path, state.text, state.text, None, (note,))

    def clean(candidate: str) -> bool:
        try:
            return codex_toml.hooks_flag(candidate) is not True
        except SettingsError:
            return False

    base = _restore(text, state.record, strip=lambda t: t, clean=clean)
    if base == text and codex_toml.hooks_flag(text) is True:
        note = "Left '[features] hooks = true' in config.toml: it was edited since install; remove it by hand."
        return Change(state.role, state.path, state.text, state.text, None, (note,))
    delete = base == "" and state.record.created
    return Change(state.role, state.path, state.text, None if delete else base, None)


def _plan_manifest(state: FileState, hooks_change: Change, request: Request) -> Change:
    """Antigravity's ``plugin.json`` marker: written on install when missing; on uninstall deleted when we wrote
    it, it is as we wrote it, and the hooks file goes too (anything else of the plugin keeps its marker)."""
    if state.text is not None:
        agy_plugin.check_manifest(state.text)
    if request.command:
        if state.text is not None:
            return Change(state.role, state.path, state.text, state.text, state.record)
        after = agy_plugin.manifest_text()
        return Change(state.role, state.path, None, after, Record.of(after, [Edit(0, "", after)], True))
    if state.record is None or state.text is None:
        return Change(state.role, state.path, state.text, state.text, None)
    if hooks_change.after is not None or not _restored_exactly(state.text, state.record) or not state.record.created:
        note = f"Left {state.path}: the plugin still holds other hooks, or the file was edited."
        return Change(state.role, state.path, state.text, state.text, None, (note,))
    return Change(state.role, state.path, state.text, None, None)


def _config_has_hooks(text: str) -> bool:
    try:
        hooks = codex_toml.load(text).get("hooks")
    except SettingsError:
        return False
    return bool(hooks)


def _plan_instructions(state: FileState, request: Request, shared_with: tuple[str, ...] = ()) -> Change:
    text = state.text or ""
    block = nudge.find_soft(text)

    def clean(candidate: str) -> bool:
        found = nudge.find_soft(candidate)
        return found is None or found.edited

    if request.command:
        if request.nudge != "soft":
            return Change(state.role, state.path, state.text, state.text, state.record)
        if block is not None and block.edited:
            note = f"Left the nudge block in {state.path} as it is: it was edited."
            return Change(state.role, state.path, state.text, state.text, None, (note,))
        body = nudge.wording(request.long)
        if block is not None and block.body == body:
            return Change(state.role, state.path, state.text, state.text, state.record)
        base = _restore(text, state.record, strip=nudge.remove_soft, clean=clean)
        edit = nudge.add_soft(base, body)
        after = base + edit.new
        created = state.text is None or (state.record is not None and state.record.created and base == "")
        return Change(state.role, state.path, state.text, after, Record.of(after, [edit], created))
    if block is None and state.record is None:
        return Change(state.role, state.path, state.text, state.text, None)
    if block is not None and block.edited:
        note = f"Left the nudge block in {state.path}: it was edited, so it is yours now."
        return Change(state.role, state.path, state.text, state.text, None, (note,))
    if block is not None and shared_with:
        note = f"Left the nudge block in {state.path}: {' and '.join(shared_with)} still reads it."
        return Change(state.role, state.path, state.text, state.text, state.record, (note,))
    base = _restore(text, state.record, strip=nudge.remove_soft, clean=clean)
    delete = base == "" and state.record is not None and state.record.created and state.text is not None
    return Change(state.role, state.path, state.text, None if delete else base, None)


# --- Status -----------------------------------------------------------------------------------------------------------
@dataclass
class Status:
    name: str
    title: str
    directory: str
    detected: bool
    journal_hooks: list[str] = field(default_factory=list)
    current: bool = False
    hard_nudge: str = ""
    soft_nudge: str = ""
    feature_flag: bool | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def installed(self) -> bool:
        """Our journal hook is registered (and, for Codex, hooks are switched on)."""
        return bool(self.journal_hooks) and self.feature_flag is not False


def _wording_name(body: str | None) -> str:
    if body is None:
        return ""
    return {nudge.SHORT: "short", nudge.LONG: "long"}.get(body, "older wording")


def status(
    harness: Harness, states: Mapping[Role, FileState], home: str, command: str, directory: str, detected: bool
) -> Status:
    """What of ours each file holds. Files that do not parse are reported in ``errors``, not raised."""
    result = Status(harness.name, harness.title, directory, detected)
    hooks_state = states["hooks"]
    try:
        present = our_hooks(harness, hooks_state.text or "", home)
    except SettingsError as exc:
        result.errors["hooks"] = str(exc)
        present = []
    result.journal_hooks = [e.command for e in present if e.event == harness.journal_event]
    result.current = any(commands.same_command(c, command, home) for c in result.journal_hooks)
    if harness.hooks_format == "plugin" and result.current:
        result.current = opencode_plugin.is_current(hooks_state.text or "", home)  # an older plugin body is stale
    for entry in present:
        if entry.event == harness.nudge_event:
            result.hard_nudge = _wording_name(nudge.hard_wording(entry.command, harness.envelope))
    block = nudge.find_soft(states["instructions"].text or "")
    if block is not None:
        result.soft_nudge = "edited" if block.edited else _wording_name(block.body)
    if "flag" in states:
        try:
            result.feature_flag = codex_toml.hooks_flag(states["flag"].text or "") is True
        except SettingsError as exc:
            result.errors["flag"] = str(exc)
            result.feature_flag = False
    return result
