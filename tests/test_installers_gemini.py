"""``llmojid-ctl hooks install|uninstall|status gemini|agy`` on real files in a temporary HOME (no daemon needed).

Gemini CLI: our ``AfterAgent`` entry in ``~/.gemini/settings.json`` (``$GEMINI_CLI_HOME/.gemini`` when set), the
user's settings and hooks kept byte for byte, the folder-trust note on install and in status. Antigravity: our own
plugin directory ``~/.gemini/config/plugins/llmojid/`` (``plugin.json`` + ``hooks.json``), created on install and
gone after uninstall; agy is detected by its own directories, not by ``~/.gemini``, which Gemini CLI shares.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llmojid.client.commands import doctor, hooks, stats
from llmojid.client.installers import gemini_trust
from tests.support import LLMOJID_CTL, make_env
from tests.test_installers_cli import ctl, snapshot

GEMINI_SETTINGS = """{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "hooks": {
    "AfterAgent": [{"hooks": [{"type": "command", "name": "notify", "command": "~/bin/notify", "timeout": 5000}]}],
    "BeforeTool": [{"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "~/bin/guard"}]}]
  },
  "ui": {"theme": "GitHub"}
}
"""
OURS = f"{LLMOJID_CTL} hook"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = make_env(tmp_path)
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "HERMES_HOME", "GEMINI_CLI_HOME", "GEMINI_CLI_TRUSTED_FOLDERS_PATH"):
        environ.pop(var, None)
    return environ


def _status(env: dict[str, str]) -> dict[str, dict[str, object]]:
    result = ctl(env, "hooks", "status", "--json")
    assert result.returncode == 0, result.stderr
    return {h["harness"]: h for h in json.loads(result.stdout)["harnesses"]}


def test_gemini_round_trip_keeps_the_users_settings_byte_for_byte(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".gemini").mkdir()
    settings = home / ".gemini" / "settings.json"
    settings.write_text(GEMINI_SETTINGS)
    settings.chmod(0o640)
    before = snapshot(home)

    result = ctl(env, "hooks", "install")  # every harness found: only Gemini CLI here, not Antigravity
    assert result.returncode == 0, result.stderr
    assert "Gemini CLI: install done" in result.stdout and "Antigravity" not in result.stdout
    assert "runs hooks only in trusted folders" in result.stdout, "the folder-trust note"
    after = json.loads(settings.read_text())
    mine = json.loads(GEMINI_SETTINGS)
    ours = {"hooks": [{"type": "command", "command": f"{OURS} gemini"}]}
    assert after["hooks"]["AfterAgent"] == [*mine["hooks"]["AfterAgent"], ours]
    assert {k: v for k, v in after.items() if k != "hooks"} == {k: v for k, v in mine.items() if k != "hooks"}
    assert after["hooks"]["BeforeTool"] == mine["hooks"]["BeforeTool"]
    assert oct(settings.stat().st_mode & 0o777) == "0o640"
    installed = snapshot(home)

    again = ctl(env, "hooks", "install", "gemini")
    assert "nothing to install" in again.stdout and "trusted folders" in again.stdout
    assert snapshot(home) == installed

    gemini = _status(env)["gemini"]
    assert gemini["installed"] and gemini["current"]
    assert gemini["to_do"] == [gemini_trust.pending(None, None, [])[0]]
    assert "no folder is trusted yet" in ctl(env, "hooks", "status").stdout

    removed = ctl(env, "hooks", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert snapshot(home) == before
    assert settings.read_text() == GEMINI_SETTINGS


def test_gemini_status_says_what_is_left_to_do(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".gemini").mkdir()
    assert ctl(env, "hooks", "install", "gemini").returncode == 0
    trusted = home / ".gemini" / "trustedFolders.json"
    trusted.write_text(json.dumps({"/w/a": "TRUST_FOLDER", "/w/b": "TRUST_PARENT", "/w/c": "DO_NOT_TRUST"}))
    assert any("(2 trusted now)" in s for s in _status(env)["gemini"]["to_do"])  # type: ignore[attr-defined]
    # GEMINI_CLI_TRUSTED_FOLDERS_PATH moves that file, as it does for Gemini CLI.
    elsewhere = home / "trusted.json"
    elsewhere.write_text(json.dumps({"/w/a": "TRUST_FOLDER"}))
    moved = _status(dict(env, GEMINI_CLI_TRUSTED_FOLDERS_PATH=str(elsewhere)))["gemini"]["to_do"]
    assert any("(1 trusted now)" in s for s in moved)  # type: ignore[attr-defined]

    command = f"{OURS} gemini"
    text = json.dumps({"hooksConfig": {"enabled": False, "disabled": [command]}, "security": {}})
    steps = gemini_trust.pending(text, None, [command])
    assert steps[0].startswith("hooks are switched off") and "hooksConfig.disabled" in steps[1]
    off = json.dumps({"security": {"folderTrust": {"enabled": False}}})
    assert gemini_trust.pending(off, None, [command]) == [], "folder trust off: every folder runs hooks"
    assert gemini_trust.pending("// a comment\n{", "not json", [command])[0].startswith("no folder is trusted")


def test_gemini_cli_home_moves_the_directory(env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "gemini-home"
    (other / ".gemini").mkdir(parents=True)
    moved = dict(env, GEMINI_CLI_HOME=str(other))
    assert ctl(moved, "hooks", "install", "gemini").returncode == 0
    assert f"{OURS} gemini" in (other / ".gemini" / "settings.json").read_text()
    assert not (Path(env["HOME"]) / ".gemini").exists()
    found = [(h, str(s)) for h, s, _ in doctor.hook_commands(Path(env["HOME"]))]
    assert found == [], "doctor looks where the environment says (none set in this process)"


def test_gemini_settings_that_do_not_parse_are_refused_untouched(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".gemini").mkdir()
    settings = home / ".gemini" / "settings.json"
    # Gemini CLI itself reads comments; we edit strict JSON only, so such a file is refused, never rewritten.
    for text in ('{\n  // my settings\n  "ui": {}\n}\n', '{"hooks": {"AfterAgent": {"x": 1}}}\n', "[1]\n"):
        settings.write_text(text)
        result = ctl(env, "hooks", "install", "gemini")
        assert result.returncode == 1 and f"{settings}:" in result.stderr, result.stderr
        assert settings.read_text() == text
        assert (
            not (home / ".local" / "state" / "llmojid" / "install-record.json").exists()
            or "settings.json" not in (home / ".local" / "state" / "llmojid" / "install-record.json").read_text()
        )


def test_agy_plugin_is_created_and_removed_whole(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".gemini" / "antigravity-cli").mkdir(parents=True)
    (home / ".gemini" / "config").mkdir()
    before = snapshot(home)
    result = ctl(env, "hooks", "install", "--nudge", "soft")
    assert result.returncode == 0, result.stderr
    assert "Antigravity: install done" in result.stdout and "Gemini CLI: install done" in result.stdout
    plugin = home / ".gemini" / "config" / "plugins" / "llmojid"
    assert json.loads((plugin / "plugin.json").read_text()) == {"name": "llmojid"}
    hooks = json.loads((plugin / "hooks.json").read_text())
    assert hooks == {"llmojid": {"Stop": [{"type": "command", "command": f"{OURS} agy"}]}}
    instructions = (home / ".gemini" / "GEMINI.md").read_text()
    assert instructions.count("llmojid nudge: start") == 1, "one soft nudge block for the two harnesses"
    installed = snapshot(home)
    assert ctl(env, "hooks", "install", "agy").stdout.startswith("Antigravity: nothing to install")
    assert snapshot(home) == installed
    agy = _status(env)["agy"]
    assert agy["installed"] and agy["current"] and agy["to_do"] == []
    assert ("agy", plugin / "hooks.json", f"{OURS} agy") in list(doctor.hook_commands(home))

    hard = ctl(env, "hooks", "install", "agy", "--nudge", "hard")
    assert "no prompt-time hook for a hard nudge" in hard.stdout

    assert ctl(env, "hooks", "uninstall").returncode == 0
    assert snapshot(home) == before, "plugin files and the plugins/ directory gone, config/ kept"


def test_the_shared_soft_nudge_stays_while_one_of_gemini_and_agy_still_reads_it(env: dict[str, str]) -> None:
    """Gemini CLI and Antigravity read the same ``~/.gemini/GEMINI.md``: uninstalling one keeps the block."""
    home = Path(env["HOME"])
    (home / ".gemini" / "antigravity-cli").mkdir(parents=True)
    (home / ".gemini" / "config").mkdir()
    instructions = home / ".gemini" / "GEMINI.md"
    instructions.write_text("# my notes\n")
    assert ctl(env, "hooks", "install", "gemini", "agy", "--nudge", "soft").returncode == 0
    assert instructions.read_text().count("llmojid nudge: start") == 1

    first = ctl(env, "hooks", "uninstall", "gemini")
    assert first.returncode == 0, first.stderr
    assert "Antigravity still reads it" in first.stdout
    assert instructions.read_text().count("llmojid nudge: start") == 1, "agy still installed: the block stays"
    assert _status(env)["agy"]["soft_nudge"]

    assert ctl(env, "hooks", "uninstall", "agy").returncode == 0
    assert instructions.read_text() == "# my notes\n", "the last of the two takes the block away"


def test_agy_keeps_what_others_put_in_the_plugin_and_refuses_a_broken_file(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    plugin = home / ".gemini" / "config" / "plugins" / "llmojid"
    plugin.mkdir(parents=True)
    (plugin / "plugin.json").write_text('{"name": "llmojid", "version": "mine"}\n')
    assert ctl(env, "hooks", "install", "agy").returncode == 0
    hooks_file = plugin / "hooks.json"
    data = json.loads(hooks_file.read_text())
    data["llmojid"]["Stop"].append({"type": "command", "command": "~/bin/also-mine"})
    data["other"] = {"Stop": []}
    hooks_file.write_text(json.dumps(data, indent=2) + "\n")
    assert ctl(env, "hooks", "uninstall", "agy").returncode == 0
    left = json.loads(hooks_file.read_text())
    assert left == {"llmojid": {"Stop": [{"type": "command", "command": "~/bin/also-mine"}]}, "other": {"Stop": []}}
    assert (plugin / "plugin.json").read_text() == '{"name": "llmojid", "version": "mine"}\n', "not ours: kept"

    for broken in ('{"llmojid": {"Stop": {"command": 1}}}', '{"llmojid": ', '["x"]'):
        hooks_file.write_text(broken)
        result = ctl(env, "hooks", "install", "agy")
        assert result.returncode == 1 and f"{hooks_file}:" in result.stderr, result.stderr
        assert hooks_file.read_text() == broken


def test_agy_is_not_found_from_gemini_clis_directory_alone(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".gemini").mkdir()
    result = ctl(env, "hooks", "install", "agy")
    assert result.returncode == 1 and "antigravity-cli or" in result.stdout
    assert not (home / ".gemini" / "config").exists()
    assert "Antigravity  not found" in ctl(env, "hooks", "status").stdout


def test_stats_knows_both_installed_hooks(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(env["HOME"])
    (home / ".gemini" / "antigravity-cli").mkdir(parents=True)
    assert ctl(env, "hooks", "install", "gemini", "agy").returncode == 0
    monkeypatch.setenv("HOME", str(home))
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "HERMES_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert stats.installed_harnesses() == ["gemini", "agy"]
    assert sorted(h for h, _, _ in doctor.hook_commands(home)) == ["agy", "gemini"]
    assert os.environ["HOME"] == str(home)


def test_status_names_the_steps_left_for_codex_and_a_broken_agy_plugin(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".codex").mkdir()
    (home / ".gemini" / "config").mkdir(parents=True)
    assert ctl(env, "hooks", "install", "codex", "agy").returncode == 0
    status = _status(env)
    assert status["codex"]["to_do"] == [hooks.CODEX_TRUST_STEP]
    assert status["agy"]["to_do"] == []
    (home / ".gemini" / "config" / "plugins" / "llmojid" / "plugin.json").unlink()
    assert "marker" in _status(env)["agy"]["to_do"][0]  # type: ignore[index]
    text = ctl(env, "hooks", "status").stdout
    assert "to do: trust the hook once in Codex" in text and "to do: the plugin's marker" in text
