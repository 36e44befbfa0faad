"""``llmojid-ctl hooks install|uninstall|status`` on real files in a temporary HOME (no daemon needed).

Shown here: install -> uninstall gives back every settings file byte for byte (and removes the files install
created); a second install changes nothing; a corrupt or wrong-shaped settings file is refused and left
byte-identical while the other harnesses still install; a symlinked dotfile is edited at its target and stays a
symlink; file modes are kept and no temporary file is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support import LLMOJID_CTL, make_env

CLAUDE_SETTINGS = """{
  "model": "opus",
  "permissions": {"allow": ["Bash(ls)", "Read"]},
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/guard"}]}
    ]
  },
  "statusLine": {"type": "command", "command": "echo hi"}
}
"""
HERMES_CONFIG = """# Hermes settings (hand-written)
model:
  default: hermes-4-70b   # the big one
  provider: nous

terminal:
  backend: local

# hooks:
#   none yet
"""
CODEX_CONFIG = 'model = "gpt-5-codex"  # default model\napproval_policy = "on-request"\n\n[tui]\nnotifications = true\n'


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = make_env(tmp_path)
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "HERMES_HOME"):
        environ.pop(var, None)
    return environ


def home_of(env: dict[str, str]) -> Path:
    return Path(env["HOME"])


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID_CTL, *args], env=env, capture_output=True, text=True, timeout=60)


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under the harness homes: (kind, mode, sha256 or link target). The state dir is ours; skipped."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith((".local", ".config", ".cache")):
            continue
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            out[rel] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            out[rel] = ("dir", stat.S_IMODE(info.st_mode), "")
        else:
            out[rel] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def populate(home: Path) -> None:
    for name in (".claude", ".codex", ".hermes"):
        (home / name).mkdir()
    (home / ".claude" / "settings.json").write_text(CLAUDE_SETTINGS)
    (home / ".claude" / "settings.json").chmod(0o644)
    (home / ".claude" / "CLAUDE.md").write_text("# My rules\n\nBe terse.")
    (home / ".hermes" / "config.yaml").write_text(HERMES_CONFIG)
    (home / ".codex" / "config.toml").write_text(CODEX_CONFIG)


@pytest.mark.parametrize("nudge", [[], ["--nudge", "soft"], ["--nudge", "hard", "--long"]])
def test_install_uninstall_round_trip_is_byte_identical(env: dict[str, str], nudge: list[str]) -> None:
    home = home_of(env)
    populate(home)
    before = snapshot(home)
    result = ctl(env, "hooks", "install", *nudge)
    assert result.returncode == 0, result.stderr
    assert "Claude Code: install done" in result.stdout and "/hooks" in result.stdout, "Codex trust is explained"
    installed = snapshot(home)
    assert installed != before
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["hooks"]["Stop"][-1]["hooks"][0]["command"].endswith("llmojid-ctl hook claude-code")
    assert settings["model"] == "opus" and settings["hooks"]["PreToolUse"][0]["matcher"] == "Bash"
    hermes = (home / ".hermes" / "config.yaml").read_text()
    assert hermes.startswith(HERMES_CONFIG), "the Hermes file keeps its comments and layout; ours is appended"
    assert 'hook hermes"' in hermes
    assert "[features]\nhooks = true\n" in (home / ".codex" / "config.toml").read_text()
    assert stat.S_IMODE((home / ".claude" / "settings.json").stat().st_mode) == 0o644, "mode kept"

    again = ctl(env, "hooks", "install", *nudge)
    assert again.returncode == 0 and "nothing to install" in again.stdout
    assert "trust you gave Codex for it still holds" in again.stdout
    assert snapshot(home) == installed, "a second install changes nothing"

    status = json.loads(ctl(env, "hooks", "status", "--json").stdout)
    by_name = {h["harness"]: h for h in status["harnesses"]}
    assert all(by_name[n]["installed"] and by_name[n]["current"] for n in ("claude-code", "codex", "hermes"))
    assert by_name["codex"]["feature_flag"] is True
    kind = nudge[1] if nudge else None
    assert by_name["claude-code"]["soft_nudge"] == ("short" if kind == "soft" else None)
    assert by_name["hermes"]["hard_nudge"] == ("long" if kind == "hard" else None)

    removed = ctl(env, "hooks", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert snapshot(home) == before, "every file byte-identical, created files gone, nothing left behind"


def test_corrupt_or_wrong_shape_settings_are_refused_untouched(env: dict[str, str]) -> None:
    home = home_of(env)
    populate(home)
    broken = '{\n  "model": "opus",\n  "hooks": {"Stop": [ \n'
    (home / ".claude" / "settings.json").write_text(broken)
    (home / ".hermes" / "config.yaml").write_text("hooks: [not, a, mapping]\n")
    before = snapshot(home)
    result = ctl(env, "hooks", "install", "--nudge", "soft")
    assert result.returncode == 1
    assert f"{home}/.claude/settings.json: does not parse as JSON" in result.stderr
    assert f"{home}/.hermes/config.yaml: has the wrong shape: 'hooks' is not a mapping" in result.stderr
    assert "Codex: install done" in result.stdout, "a refused harness does not stop the others"
    after = snapshot(home)
    for rel in (".claude/settings.json", ".claude/CLAUDE.md", ".hermes/config.yaml"):
        assert after[rel] == before[rel], f"{rel} must be left byte-identical"
    assert not (home / ".hermes" / "SOUL.md").exists(), "nothing of a refused harness is written"
    assert (home / ".claude" / "settings.json").read_text() == broken
    assert ctl(env, "hooks", "uninstall", "claude-code").returncode == 1, "uninstall refuses it too"
    assert snapshot(home)[".claude/settings.json"] == before[".claude/settings.json"]


def test_symlinked_dotfiles_are_edited_at_their_target(env: dict[str, str]) -> None:
    home = home_of(env)
    populate(home)
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    (home / ".claude" / "settings.json").rename(dotfiles / "claude-settings.json")
    (home / ".claude" / "settings.json").symlink_to("../dotfiles/claude-settings.json")
    (dotfiles / "hermes").mkdir()
    (home / ".hermes" / "config.yaml").rename(dotfiles / "hermes" / "config.yaml")
    (home / ".hermes" / "config.yaml").symlink_to(dotfiles / "hermes" / "config.yaml")  # absolute link
    before = snapshot(home)
    assert ctl(env, "hooks", "install", "claude-code", "hermes").returncode == 0
    assert (home / ".claude" / "settings.json").is_symlink() and (home / ".hermes" / "config.yaml").is_symlink()
    assert "llmojid-ctl hook claude-code" in (dotfiles / "claude-settings.json").read_text()
    assert "llmojid-ctl hook hermes" in (dotfiles / "hermes" / "config.yaml").read_text()
    status = json.loads(ctl(env, "hooks", "status", "--json").stdout)
    claude = next(h for h in status["harnesses"] if h["harness"] == "claude-code")
    assert claude["files"]["hooks"]["target"] == str(dotfiles / "claude-settings.json")
    leftovers = [p.name for p in dotfiles.rglob("*") if "llmojid-tmp" in p.name]
    assert leftovers == [], "no temporary file is left next to the target"
    assert ctl(env, "hooks", "uninstall").returncode == 0
    assert snapshot(home) == before


def test_usage_errors_and_undetected_harnesses(env: dict[str, str]) -> None:
    home = home_of(env)
    none = ctl(env, "hooks", "install")
    assert none.returncode == 2 and "no harness found" in none.stderr
    assert ctl(env, "hooks", "install", "vim").returncode == 2
    (home / ".claude").mkdir()
    assert ctl(env, "hooks", "install", "--long").returncode == 2, "--long needs --nudge"
    missing = ctl(env, "hooks", "install", "codex")
    assert missing.returncode == 1 and "does not exist" in missing.stdout
    assert not (home / ".codex").exists(), "an explicit but absent harness is not created"
    dry = ctl(env, "hooks", "install", "--dry-run")
    assert dry.returncode == 0 and "would change" in dry.stdout
    assert not (home / ".claude" / "settings.json").exists(), "a dry run writes nothing"
    text = ctl(env, "hooks", "status").stdout
    assert "Claude Code" in text and "not installed" in text and "Codex" in text and "not found" in text
