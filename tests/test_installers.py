"""The hook installers' edit logic, without a disk: round trips, idempotence, refusals, spellings, nudges.

The planner (``llmojid.client.installers.harnesses.plan``) is driven exactly as ``llmojid-ctl hooks`` drives it,
with file states in memory; ``test_installers_cli.py`` runs the real command on real files.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmojid.client.installers import codex_toml, commands, hermes_yaml, hooks_json, jsonspan, nudge
from llmojid.client.installers.edits import SettingsError
from llmojid.client.installers.harnesses import HARNESSES, Change, FileState, Record, Request, plan

HOME = "/home/ada"
CTL = f"{HOME}/.local/bin/llmojid-ctl"


def files_for(name: str) -> dict[str, str]:
    return HARNESSES[name].files(HOME, {})


def states(name: str, texts: dict[str, str | None], records: dict[str, Record] | None = None) -> dict:
    records = records or {}
    return {role: FileState(role, path, texts.get(role), records.get(path)) for role, path in files_for(name).items()}


def run(name: str, texts: dict[str, str | None], request: Request, records: dict[str, Record]) -> dict[str, str | None]:
    """One install or uninstall in memory: new texts by role, records updated as the CLI updates them."""
    harness = HARNESSES[name]
    result = plan(harness, states(name, texts, records), request, HOME)
    out: dict[str, str | None] = {}
    for change in result.changes:
        assert isinstance(change, Change)
        out[change.role] = change.after
        if change.record is None:
            records.pop(change.path, None)
        else:
            records[change.path] = change.record
    return out


def install(name: str, nudge_kind: str = "", long: bool = False) -> Request:
    return Request(commands.hook_command(CTL, HARNESSES[name].hook_arg, HOME), nudge_kind, long)  # type: ignore[arg-type]


CLAUDE_SETTINGS = [
    None,
    "",
    "{}",
    "{}\n",
    '{"model":"opus"}',
    '{\n  "model": "opus",\n  "env": {"A": "1"}\n}\n',
    '{\n    "hooks": {\n        "Stop": []\n    }\n}\n',
    '{\n\t"hooks": {\n\t\t"Stop": null,\n\t\t"PreToolUse": [{"matcher": "Bash", "hooks": []}]\n\t}\n}',
    '\ufeff{\r\n  "permissions": {"allow": ["Bash(ls)"]},\r\n  "hooks": {}\r\n}\r\n',
    (
        '{\n  "hooks": {\n    "Stop": [\n      {\n        "hooks": [\n'
        '          {"type": "command", "command": "say done"}'
        "\n        ]\n      }\n    ],\n"
        '    "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "date"}]}]\n  },\n'
        '  "statusLine": {"type": "command", "command": "x"}\n}\n'
    ),
]


@pytest.mark.parametrize("original", CLAUDE_SETTINGS)
@pytest.mark.parametrize("nudge_kind", ["", "hard", "soft"])
def test_claude_code_round_trip_is_byte_identical(original: str | None, nudge_kind: str) -> None:
    records: dict[str, Record] = {}
    texts = {"hooks": original, "instructions": "# Me\n\nBe kind.\n"}
    after = run("claude-code", texts, install("claude-code", nudge_kind), records)
    found = hooks_json.find(after["hooks"] or "", ("Stop", "UserPromptSubmit"))
    assert [e.command for e in found if e.event == "Stop"][-1] == "~/.local/bin/llmojid-ctl hook claude-code"
    hard = [e for e in found if nudge.hard_wording(e.command, "additional-context") is not None]
    assert bool(hard) == (nudge_kind == "hard")
    assert (nudge.START_MARK in (after["instructions"] or "")) == (nudge_kind == "soft")
    again = run("claude-code", after, install("claude-code", nudge_kind), records)
    assert again == after, "a second install must change nothing"
    back = run("claude-code", after, Request(), records)
    assert back == texts
    assert records == {}


HERMES_CONFIGS = [
    None,
    "# Hermes config\nmodel:\n  default: hermes-4  # the big one\n\n# hooks: none yet\n",
    "model: x",
    "hooks:\n  pre_tool_call:\n  - command: ~/bin/guard.sh\n    timeout: 3\n  # trailing comment\n"
    "terminal: {backend: local}\n",
    "hooks: {}\n",
    'hooks:\n    post_llm_call:\n        - command: "other"\n\n# end\n',
    "a: 1\r\nb: 2\r\n",
]


@pytest.mark.parametrize("original", HERMES_CONFIGS)
@pytest.mark.parametrize("nudge_kind", ["", "hard"])
def test_hermes_round_trip_keeps_comments_and_bytes(original: str | None, nudge_kind: str) -> None:
    records: dict[str, Record] = {}
    texts = {"hooks": original, "instructions": None}
    after = run("hermes", texts, install("hermes", nudge_kind), records)
    text = after["hooks"] or ""
    for line in (original or "").splitlines():
        if "#" in line:
            assert line in text, "every comment survives the install, on its line"
    ours = [e for e in hermes_yaml.find(text, ("post_llm_call",)) if "llmojid-ctl" in e.command]
    assert [e.command for e in ours] == ["~/.local/bin/llmojid-ctl hook hermes"]
    assert run("hermes", after, install("hermes", nudge_kind), records) == after
    assert run("hermes", after, Request(), records) == texts


@pytest.mark.parametrize(
    ("hooks_file", "config"),
    [
        (None, None),
        (None, 'model = "o3"\n# a comment\n'),
        ('{"hooks": {}}', '[features]\nweb_search = true\n\n[tui]\ntheme = "dark"\n'),
        (None, "[features] # flags\nhooks = false # off for now\n"),
        (None, "[features]\nhooks = true\n"),
    ],
)
def test_codex_round_trip_including_the_feature_flag(hooks_file: str | None, config: str | None) -> None:
    records: dict[str, Record] = {}
    texts = {"hooks": hooks_file, "flag": config, "instructions": None}
    after = run("codex", texts, install("codex"), records)
    assert codex_toml.hooks_flag(after["flag"] or "") is True
    assert codex_toml.load(after["flag"] or "") == {
        **codex_toml.load(config or ""),
        "features": {**codex_toml.load(config or "").get("features", {}), "hooks": True},
    }
    assert run("codex", after, install("codex"), records) == after
    assert run("codex", after, Request(), records) == texts


def test_codex_flag_stays_when_the_users_own_hooks_need_it() -> None:
    records: dict[str, Record] = {}
    after = run("codex", {"hooks": None, "flag": None, "instructions": None}, install("codex"), records)
    # The user adds a hook of their own after ours.
    mine = hooks_json.add(after["hooks"] or "", [hooks_json.HookEntry("Stop", "notify-send done")])[0]
    back = run("codex", {**after, "hooks": mine}, Request(), records)
    assert [e.command for e in hooks_json.find(back["hooks"] or "", ("Stop",))] == ["notify-send done"]
    assert codex_toml.hooks_flag(back["flag"] or "") is True


def test_uninstall_after_the_user_edited_elsewhere_removes_only_ours() -> None:
    records: dict[str, Record] = {}
    original = '{\n  "model": "opus"\n}\n'
    after = run("claude-code", {"hooks": original, "instructions": None}, install("claude-code"), records)
    edited = (after["hooks"] or "").replace('"opus"', '"sonnet"')  # the user changes a setting later
    back = run("claude-code", {"hooks": edited, "instructions": None}, Request(), records)
    assert back["hooks"] == original.replace('"opus"', '"sonnet"')


def test_uninstall_without_a_record_removes_ours_by_structure() -> None:
    text = json.dumps(
        {
            "model": "opus",
            "hooks": {
                "Stop": [
                    {"hooks": [{"type": "command", "command": "$HOME/.local/bin/llmojid-ctl hook claude-code"}]},
                    {"hooks": [{"type": "command", "command": "say done"}]},
                ]
            },
        },
        indent=2,
    )
    back = run("claude-code", {"hooks": text, "instructions": None}, Request(), {})
    assert json.loads(back["hooks"] or "") == {
        "model": "opus",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]},
    }


@pytest.mark.parametrize(
    "spelled",
    [
        "$HOME/.local/bin/llmojid-ctl hook claude-code",
        "${HOME}/.local/bin/llmojid-ctl hook claude-code",
        "~/.local/bin/llmojid-ctl hook claude-code",
        f"{HOME}/.local/bin/llmojid-ctl hook claude-code",
        '"$HOME"/.local/bin/llmojid-ctl hook claude-code',
    ],
)
def test_home_spellings_of_our_command_are_one_entry(spelled: str) -> None:
    text = json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": spelled}]}]}}, indent=2) + "\n"
    records: dict[str, Record] = {}
    after = run("claude-code", {"hooks": text, "instructions": None}, install("claude-code"), records)
    assert after["hooks"] == text, "already installed under another spelling: no second entry"
    back = run("claude-code", after, Request(), records)
    assert hooks_json.find(back["hooks"] or "", ("Stop",)) == []


def test_a_stale_path_is_replaced_by_the_current_one() -> None:
    old = "/opt/old-venv/bin/llmojid-ctl hook claude-code"
    text = json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": old}]}]}}, indent=2)
    after = run("claude-code", {"hooks": text, "instructions": None}, install("claude-code"), {})
    commands_now = [e.command for e in hooks_json.find(after["hooks"] or "", ("Stop",))]
    assert commands_now == ["~/.local/bin/llmojid-ctl hook claude-code"]


def test_soft_nudge_wording_switch_and_edited_block() -> None:
    records: dict[str, Record] = {}
    texts = {"hooks": None, "instructions": "# Notes\n"}
    short = run("claude-code", texts, install("claude-code", "soft"), records)
    assert nudge.SHORT in (short["instructions"] or "")
    long = run("claude-code", short, install("claude-code", "soft", long=True), records)
    assert nudge.LONG in (long["instructions"] or "") and nudge.SHORT + "\n" not in (long["instructions"] or "")
    assert run("claude-code", long, Request(), records) == texts
    # A block the user edited is theirs: uninstall leaves it.
    records.clear()
    installed = run("claude-code", texts, install("claude-code", "soft"), records)
    edited = (installed["instructions"] or "").replace(nudge.SHORT, "Use a kaomoji when you are happy.")
    back = run("claude-code", {**installed, "instructions": edited}, Request(), records)
    assert back["instructions"] == edited
    assert back["hooks"] is None


@pytest.mark.parametrize("name", ["claude-code", "hermes"])
@pytest.mark.parametrize("long", [False, True])
def test_hard_nudge_prints_the_envelope_through_a_shell_and_without_one(name: str, long: bool) -> None:
    harness = HARNESSES[name]
    command = nudge.hard_command(harness.envelope, nudge.wording(long))
    through_shell = subprocess.run(["sh", "-c", command], capture_output=True, check=True, text=True).stdout
    split = subprocess.run(shlex.split(command), capture_output=True, check=True, text=True).stdout  # Hermes' way
    assert through_shell == split
    assert json.loads(through_shell) == nudge.envelope(harness.envelope, nudge.wording(long))
    assert nudge.hard_wording(command, harness.envelope) == nudge.wording(long)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"hooks": ', "does not parse as JSON"),
        ("[1, 2]", "the top level is a list"),
        ('{"hooks": []}', "'hooks' is a list"),
        ('{"hooks": {"Stop": {"hooks": []}}}', "'hooks.Stop' is an object"),
        ('{"hooks": {"Stop": ["echo"]}}', "'hooks.Stop[0]' is a string"),
        ('{"hooks": {"Stop": [{"hooks": {}}]}}', "'hooks.Stop[0]'.hooks is an object"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ('{"a": NaN}', "does not parse as JSON"),
        ('{"a": 1,}', "does not parse as JSON"),
    ],
)
def test_bad_json_settings_are_refused(text: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected.replace("[", r"\[").replace("]", r"\]")) as caught:
        plan(HARNESSES["claude-code"], states("claude-code", {"hooks": text}), install("claude-code"), HOME)
    assert files_for("claude-code")["hooks"] in str(caught.value), "the refusal names the file"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hooks: [\n", "does not parse as YAML"),
        ("- a\n- b\n", "top level is not a mapping"),
        ("hooks: [1]\n", "'hooks' is not a mapping"),
        ("hooks:\n  post_llm_call: run-me\n", "'hooks.post_llm_call' is not a list"),
        ("hooks: {pre_tool_call: [{command: x}]}\n", "flow style"),
        ("a: 1\n---\nb: 2\n", "does not parse as YAML"),
    ],
)
def test_bad_hermes_config_is_refused(text: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        plan(HARNESSES["hermes"], states("hermes", {"hooks": text}), install("hermes"), HOME)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model = \n", "does not parse as TOML"),
        ("features = 3\n", "'features' is not a table"),
        ("features.web = true\n", "inline table or dotted keys"),
        ("features = {web = true}\n", "inline table or dotted keys"),
    ],
)
def test_bad_codex_config_is_refused(text: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        plan(HARNESSES["codex"], states("codex", {"flag": text}), install("codex"), HOME)


def test_hook_command_spelling() -> None:
    assert commands.hook_command(CTL, "codex", HOME) == "~/.local/bin/llmojid-ctl hook codex"
    assert commands.hook_command("/usr/bin/llmojid-ctl", "codex", HOME) == "/usr/bin/llmojid-ctl hook codex"
    spaced = commands.hook_command(f"{HOME}/my tools/llmojid-ctl", "codex", HOME)
    assert spaced == f"'{HOME}/my tools/llmojid-ctl' hook codex"  # ~ does not expand inside quotes
    assert shlex.split(spaced)[0] == f"{HOME}/my tools/llmojid-ctl"
    assert commands.is_our_hook("llmojid-ctl hook codex", "codex", HOME)
    assert not commands.is_our_hook("llmojid-ctl hook claude-code", "codex", HOME)
    assert not commands.is_our_hook("echo llmojid-ctl hook codex", "codex", HOME)


# --- Property: any well-formed settings file survives install -> uninstall byte for byte --------------------------
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=8))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
_settings = st.dictionaries(st.text(max_size=8).filter(lambda k: k != "hooks"), _values, max_size=5)
_user_hooks = st.dictionaries(
    st.sampled_from(["Stop", "PreToolUse", "UserPromptSubmit", "Notification"]),
    st.lists(
        st.fixed_dictionaries(
            {
                "hooks": st.lists(
                    st.fixed_dictionaries({"type": st.just("command"), "command": st.text(max_size=10)}), max_size=2
                )
            }
        ),
        max_size=2,
    ),
    max_size=3,
)
_layouts = st.sampled_from([None, 2, 4, "\t", 1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=_settings,
    hooks=st.one_of(st.none(), _user_hooks),
    indent=_layouts,
    trailing=st.sampled_from(["", "\n", "\n\n"]),
    kind=st.sampled_from(["", "hard"]),
)
def test_property_round_trip_any_settings(
    doc: dict, hooks: dict | None, indent: object, trailing: str, kind: str
) -> None:
    if hooks is not None:
        doc = {**doc, "hooks": hooks}
    original = json.dumps(doc, indent=indent, ensure_ascii=False) + trailing  # type: ignore[arg-type]
    records: dict[str, Record] = {}
    texts = {"hooks": original, "instructions": None}
    after = run("claude-code", texts, install("claude-code", kind), records)
    parsed = json.loads(after["hooks"] or "")
    assert {k: v for k, v in parsed.items() if k != "hooks"} == {k: v for k, v in doc.items() if k != "hooks"}
    ours = [e for e in hooks_json.find(after["hooks"] or "", ("Stop",)) if "llmojid-ctl" in e.command]
    assert len(ours) == 1
    assert run("claude-code", after, install("claude-code", kind), records) == after
    assert run("claude-code", after, Request(), records) == texts


def test_jsonspan_matches_json_loads() -> None:
    for text in ['{"a": [1, 2.5e3, -0.5, true, false, null, "x\\u00e9\\n"], "b": {}}', "[]", '"s"', "3"]:
        node = jsonspan.parse(text)
        assert node is not None and node.to_python() == json.loads(text)


def test_cli_names_match_the_installers() -> None:
    from llmojid.client.commands.hooks import NAMES

    assert tuple(HARNESSES) == NAMES
