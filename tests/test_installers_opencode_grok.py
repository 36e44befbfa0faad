"""``hooks install|uninstall|status`` for OpenCode (a plugin file that is ours alone) and Grok Build (a hook file of
ours among the user's ``~/.grok/hooks/*.json``), on real files in a temporary HOME; and ``doctor`` knowing them.

Shown: the round trip leaves every file of the user's byte for byte and removes what install created; a second
install changes nothing; a file of the user's at our path (or a corrupt one) is refused untouched; ``status``
says what is installed and current; a hard nudge is declined with a note (no prompt hook llmojid can use); the
OpenCode plugin names the command it runs, and doctor flags it when that command is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from llmojid.client.installers import opencode_plugin
from tests.support import LLMOJID_CTL, make_env
from tests.test_installers_cli import ctl

OPENCODE_JSON = '{\n  "$schema": "https://opencode.ai/config.json",\n  "model": "anthropic/claude-sonnet-4-5"\n}\n'
GROK_USER_HOOKS = (
    '{\n  "hooks": {\n    "PreToolUse": [{"hooks": [{"type": "command", "command": "~/bin/guard"}]}]\n  }\n}\n'
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path)


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = "" if stat.S_ISDIR(info.st_mode) else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = ("dir" if stat.S_ISDIR(info.st_mode) else "file", info.st_mode, digest)
    return out


def _populate(home: Path) -> tuple[Path, Path]:
    opencode = home / ".config" / "opencode"
    (opencode / "plugins").mkdir(parents=True)
    (opencode / "opencode.json").write_text(OPENCODE_JSON)
    (opencode / "plugins" / "mine.ts").write_text("export const Mine = async () => ({})\n")
    (opencode / "AGENTS.md").write_text("# Mine\n")
    grok = home / ".grok"
    (grok / "hooks").mkdir(parents=True)
    (grok / "hooks" / "hooks.json").write_text(GROK_USER_HOOKS)
    (grok / "AGENTS.md").write_text("# Grok rules\n")
    return opencode, grok


def test_round_trip_keeps_the_users_files_and_removes_ours(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    opencode, grok = _populate(home)
    before = {"opencode": _tree(opencode), "grok": _tree(grok)}
    result = ctl(env, "hooks", "install", "opencode", "grok", "--nudge", "soft")
    assert result.returncode == 0, result.stderr
    assert "OpenCode: install done" in result.stdout and "Grok Build: install done" in result.stdout
    plugin = (opencode / "plugins" / "llmojid.js").read_text()
    assert plugin.startswith(opencode_plugin.MARKER + "\n")
    assert f"const HOOK = {json.dumps([LLMOJID_CTL, 'hook', 'opencode'])};" in plugin
    assert stat.S_IMODE((opencode / "plugins" / "llmojid.js").stat().st_mode) == 0o600
    ours = json.loads((grok / "hooks" / "llmojid.json").read_text())
    assert ours == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"{LLMOJID_CTL} hook grok"}]}]}}
    for folder in (opencode, grok):
        agents = (folder / "AGENTS.md").read_text()
        assert agents.startswith(before_text(folder)) and "kaomoji" in agents.lower()
    for kept in ("opencode.json", "plugins/mine.ts"):
        assert _tree(opencode)[kept] == before["opencode"][kept]
    assert _tree(grok)["hooks/hooks.json"] == before["grok"]["hooks/hooks.json"]

    again = ctl(env, "hooks", "install", "opencode", "grok", "--nudge", "soft")
    assert again.returncode == 0 and again.stdout.count("nothing to install") == 2

    status = json.loads(ctl(env, "hooks", "status", "--json").stdout)
    by_name = {h["harness"]: h for h in status["harnesses"]}
    for name in ("opencode", "grok"):
        assert (by_name[name]["installed"], by_name[name]["current"], by_name[name]["soft_nudge"]) == (
            True,
            True,
            "short",
        )
    text_status = ctl(env, "hooks", "status").stdout
    assert "OpenCode     installed" in text_status and "Grok Build   installed" in text_status

    removed = ctl(env, "hooks", "uninstall", "opencode", "grok")
    assert removed.returncode == 0, removed.stderr
    assert {"opencode": _tree(opencode), "grok": _tree(grok)} == before


def before_text(folder: Path) -> str:
    return "# Mine\n" if folder.name == "opencode" else "# Grok rules\n"


def test_install_creates_the_hook_folders_it_needs(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    (home / ".config" / "opencode").mkdir(parents=True)
    (home / ".grok").mkdir()
    result = ctl(env, "hooks", "install")  # every harness found: these two
    assert result.returncode == 0, result.stderr
    assert (home / ".config" / "opencode" / "plugins" / "llmojid.js").exists()
    assert (home / ".grok" / "hooks" / "llmojid.json").exists()
    assert ctl(env, "hooks", "uninstall").returncode == 0
    assert not (home / ".config" / "opencode" / "plugins" / "llmojid.js").exists()
    assert not (home / ".grok" / "hooks" / "llmojid.json").exists()


def test_opencode_follows_xdg_config_home(env: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "xdg-config"
    (elsewhere / "opencode").mkdir(parents=True)
    env = dict(env, XDG_CONFIG_HOME=str(elsewhere))
    assert ctl(env, "hooks", "install", "opencode").returncode == 0
    assert (elsewhere / "opencode" / "plugins" / "llmojid.js").exists()


def test_a_users_file_at_our_path_or_a_corrupt_hook_file_is_refused_untouched(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    opencode, grok = _populate(home)
    theirs = "// someone else's plugin\nexport const X = async () => ({})\n"
    (opencode / "plugins" / "llmojid.js").write_text(theirs)
    (grok / "hooks" / "llmojid.json").write_text('{"hooks": {"Stop": [')
    before = {"opencode": _tree(opencode), "grok": _tree(grok)}
    for verb in ("install", "uninstall"):
        result = ctl(env, "hooks", verb, "opencode", "grok")
        assert result.returncode == 1
        assert "OpenCode: refused" in result.stderr and "is not llmojid's plugin" in result.stderr
        assert "Grok Build: refused" in result.stderr
        assert {"opencode": _tree(opencode), "grok": _tree(grok)} == before


def test_a_hard_nudge_is_declined_with_a_note(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    _populate(home)
    result = ctl(env, "hooks", "install", "opencode", "grok", "--nudge", "hard")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("gets no hard nudge from llmojid") == 2
    assert json.loads((home / ".grok" / "hooks" / "llmojid.json").read_text())["hooks"].keys() == {"Stop"}


def test_doctor_knows_both_and_flags_a_stale_plugin(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    opencode, _grok = _populate(home)
    assert ctl(env, "hooks", "install", "opencode", "grok").returncode == 0
    checks = {c["name"]: c for c in json.loads(ctl(env, "doctor", "--json").stdout)["checks"]}
    assert checks["hooks"]["status"] == "ok" and "grok, opencode" in checks["hooks"]["detail"]
    stale = opencode_plugin.render("/opt/old/bin/llmojid-ctl hook opencode", ["/opt/old/bin/llmojid-ctl"])
    (opencode / "plugins" / "llmojid.js").write_text(stale)
    os.chmod(opencode / "plugins" / "llmojid.js", 0o600)
    checks = {c["name"]: c for c in json.loads(ctl(env, "doctor", "--json").stdout)["checks"]}
    assert checks["hooks"]["status"] == "fail" and "stale opencode hook" in checks["hooks"]["detail"]


def test_an_older_plugin_body_is_shown_stale_and_rewritten(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    opencode, _grok = _populate(home)
    assert ctl(env, "hooks", "install", "opencode").returncode == 0
    plugin = opencode / "plugins" / "llmojid.js"
    current = plugin.read_text()
    plugin.write_text(current.replace("const KEEP = 256;", "const KEEP = 64;"))  # as an older llmojid wrote it

    def entry() -> dict[str, object]:
        status = json.loads(ctl(env, "hooks", "status", "--json").stdout)
        return next(h for h in status["harnesses"] if h["harness"] == "opencode")

    assert (entry()["installed"], entry()["current"]) == (True, False)
    result = ctl(env, "hooks", "install", "opencode")
    assert "OpenCode: install done" in result.stdout
    assert plugin.read_text() == current and entry()["current"] is True


def _fake_opencode(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process named ``opencode`` (a copy of sleep) with the given environment, as a running OpenCode would be."""
    binary = tmp_path / "bin" / "opencode"
    if not binary.exists():
        binary.parent.mkdir(exist_ok=True)
        shutil.copy("/bin/sleep", binary)
    return subprocess.Popen([str(binary), "300"], env=env)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="running processes are read from /proc (Linux)")
def test_status_says_which_running_opencode_has_not_loaded_the_plugin(env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["HOME"])
    _populate(home)
    other_home = tmp_path / "someone-else"
    (other_home / ".config" / "opencode").mkdir(parents=True)
    before = _fake_opencode(tmp_path, env)
    elsewhere = _fake_opencode(tmp_path, dict(env, HOME=str(other_home), XDG_CONFIG_HOME=""))
    try:
        time.sleep(2.5)  # process start times are known to a second (the boot time's resolution)
        assert ctl(env, "hooks", "install", "opencode").returncode == 0
        time.sleep(2.5)
        after = _fake_opencode(tmp_path, env)
        try:

            def todo() -> list[str]:
                status = json.loads(ctl(env, "hooks", "status", "--json").stdout)
                return next(h for h in status["harnesses"] if h["harness"] == "opencode")["to_do"]

            assert todo() == [
                "restart OpenCode: 1 running OpenCode process(es) started before the plugin was written and do not"
                " load it"
            ]
            assert "  to do: restart OpenCode: 1 running" in ctl(env, "hooks", "status").stdout
            before.kill()
            before.wait()
            assert todo() == []
        finally:
            after.kill()
            after.wait()
    finally:
        for proc in (before, elsewhere):
            proc.kill()
            proc.wait()
