"""``llmojid-ctl doctor``: a healthy setup passes; each seeded fault fails its own check, with a fix, and only it.

Faults are real: a stopped daemon, a locked Secret Service collection (in a D-Bus session of the test's own), a
socket chmod-ed open, a config pointing at a missing model, a hook registered with a program that is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.commands import doctor
from tests.support import LLMOJID_CTL, DaemonProcess, make_env, remove_tree, short_tempdir


@pytest.fixture(scope="module")
def running() -> Iterator[DaemonProcess]:
    """One daemon for the faults that need a running one; each test seeds its fault and takes it away again."""
    root = short_tempdir("lj-doc-")
    proc = DaemonProcess(root, make_env(root)).start()
    yield proc
    code = proc.stop()
    remove_tree(root)
    assert code == 0


@pytest.fixture
def daemon(running: DaemonProcess) -> Iterator[DaemonProcess]:
    """The shared daemon, with HOME's harness settings, config.toml and spool cleaned after each test."""
    yield running
    home = Path(running.env["HOME"])
    for leftover in (home / ".claude", Path(running.env["XDG_CONFIG_HOME"]) / "llmojid", running.state_dir / "spool"):
        shutil.rmtree(leftover, ignore_errors=True)


def run_doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    result = subprocess.run([LLMOJID_CTL, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=180)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] == (result.returncode == 0)
    return result.returncode, checks


def seed_claude_hook(env: dict[str, str], command: str) -> Path:
    settings = Path(env["HOME"]) / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(
        json.dumps({"model": "x", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": command}]}]}})
    )
    return settings


def write_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "llmojid" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_only_failure(checks: dict[str, dict[str, Any]], failing: set[str]) -> None:
    failed = {name for name, c in checks.items() if c["status"] == "fail"}
    assert failed == failing, {n: checks[n] for n in failed ^ failing}
    for name in failing:
        assert checks[name]["fix"], f"{name} fails without saying how to fix it"


# --- healthy -------------------------------------------------------------------------------------------------------
def test_healthy_setup_passes(daemon: DaemonProcess) -> None:
    seed_claude_hook(daemon.env, f"{LLMOJID_CTL} hook claude-code")
    code, checks = run_doctor(daemon.env)
    assert code == 0, checks
    expected = ["config", "socket", "daemon", "keyring", "store", "model", "encoder", "hooks", "spool", "disk"]
    assert list(checks) == expected
    for name in ("config", "socket", "daemon", "keyring", "store", "model", "hooks", "spool", "disk"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["encoder"]["status"] in ("ok", "warn")  # "not installed" is not a failure
    assert "0600" in checks["socket"]["detail"] and "0700" in checks["socket"]["detail"]
    assert "started by self" in checks["daemon"]["detail"]
    assert "schema" in checks["store"]["detail"]
    assert "SmolLM2" in checks["model"]["detail"] or ".gguf" in checks["model"]["detail"]
    text = daemon.ctl("doctor").stdout.decode()
    assert "[ ok ] daemon" in text and "all checks passed" in text


# --- seeded faults ---------------------------------------------------------------------------------------------------
def test_daemon_down(daemon_env: dict[str, str]) -> None:
    code, checks = run_doctor(daemon_env)
    assert code == 1
    assert checks["daemon"]["status"] == "fail"
    assert "nothing answers" in checks["daemon"]["detail"]
    assert "llmojid-ctl service install" in checks["daemon"]["fix"] and "llmojid serve" in checks["daemon"]["fix"]
    assert checks["keyring"]["status"] == "ok", "the keyring is fine: doctor tells the two apart"
    assert checks["socket"]["status"] == "warn"
    assert_only_failure(checks, {"daemon"})


def test_keyring_locked(daemon_env: dict[str, str], workdir: Path) -> None:
    """A D-Bus session of our own whose gnome-keyring collection was unlocked, then locked again."""
    lock = (
        "import secretstorage; c = secretstorage.dbus_init(); "
        "col = secretstorage.get_default_collection(c); col.lock(); assert col.is_locked()"
    )
    script = (
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
        f'"$PY" -c "{lock}" && exec "$CTL" doctor --json'
    )
    env = {**daemon_env, "PY": str(Path(LLMOJID_CTL).parent / "python"), "CTL": LLMOJID_CTL}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert result.returncode == 1
    assert checks["keyring"]["status"] == "fail"
    assert "Locked" in checks["keyring"]["detail"]
    assert "unlock" in checks["keyring"]["fix"]
    assert_only_failure(checks, {"keyring", "daemon"})  # the daemon cannot run without it either


def test_wrong_socket_mode(daemon: DaemonProcess) -> None:
    daemon.socket_path.chmod(0o666)
    try:
        code, checks = run_doctor(daemon.env)
    finally:
        daemon.socket_path.chmod(0o600)
    assert code == 1
    assert checks["socket"]["status"] == "fail"
    assert "0666" in checks["socket"]["detail"]
    assert f"chmod 600 '{daemon.socket_path}'" in checks["socket"]["fix"]
    assert checks["daemon"]["status"] == "ok"
    assert_only_failure(checks, {"socket"})


def test_socket_directory_open_to_others(daemon: DaemonProcess) -> None:
    directory = daemon.socket_path.parent
    directory.chmod(0o755)
    try:
        _code, checks = run_doctor(daemon.env)
    finally:
        directory.chmod(0o700)
    assert checks["socket"]["status"] == "fail" and "0755" in checks["socket"]["detail"]
    assert f"chmod 700 '{directory}'" in checks["socket"]["fix"]


def test_missing_model(daemon: DaemonProcess) -> None:
    missing = daemon.root / "models" / "gone.gguf"
    config = write_config(daemon.env, f'model_path = "{missing}"\n')
    code, checks = run_doctor(daemon.env)
    assert code == 1
    assert checks["model"]["status"] == "fail"
    assert str(missing) in checks["model"]["detail"] and "does not exist" in checks["model"]["detail"]
    assert str(config) in checks["model"]["detail"], "says where model_path was set"
    assert "model_path" in checks["model"]["fix"]
    assert_only_failure(checks, {"model"})


def test_the_configured_embedded_model_is_the_one_checked(daemon: DaemonProcess) -> None:
    """``embedded_model = "gemma3-270m"``: doctor checks Gemma's file, not the default SmolLM2's; a split model
    not yet assembled is fine when its packages are installed (the daemon assembles it at first use)."""
    write_config(daemon.env, 'embedded_model = "gemma3-270m"\n')
    _code, checks = run_doctor(daemon.env)
    model = checks["model"]
    assert model["status"] == "ok", model
    assert "gemma3-270m" in model["detail"] and "SmolLM2" not in model["detail"]
    assembled = Path(daemon.env["XDG_DATA_HOME"]) / "llmojid" / "models" / "gemma-3-270m-q4_k_m.gguf"
    if not assembled.exists():
        assert "assembled at first use" in model["detail"] and str(assembled) in model["detail"]


def test_model_that_is_not_gguf(daemon: DaemonProcess) -> None:
    fake = daemon.root / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    env = {**daemon.env, "LLMOJID_MODEL_PATH": str(fake)}
    _code, checks = run_doctor(env)
    assert checks["model"]["status"] == "fail" and "not a GGUF" in checks["model"]["detail"]
    assert "LLMOJID_MODEL_PATH" in checks["model"]["detail"]


def test_stale_hook(daemon: DaemonProcess) -> None:
    settings = seed_claude_hook(daemon.env, "/opt/old-venv/bin/llmojid-ctl hook claude-code")
    code, checks = run_doctor(daemon.env)
    assert code == 1
    assert checks["hooks"]["status"] == "fail"
    assert "stale claude-code hook" in checks["hooks"]["detail"] and str(settings) in checks["hooks"]["detail"]
    assert "/opt/old-venv/bin/llmojid-ctl" in checks["hooks"]["detail"]
    assert checks["hooks"]["fix"] == "llmojid-ctl hooks install"
    assert_only_failure(checks, {"hooks"})


def test_hook_of_another_installation_is_stale(daemon: DaemonProcess) -> None:
    other = daemon.root / "other-venv" / "bin" / "llmojid-ctl"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text("#!/bin/sh\nexit 0\n")
    other.chmod(0o755)
    seed_claude_hook(daemon.env, f"{other} hook claude-code")
    _code, checks = run_doctor(daemon.env)
    assert checks["hooks"]["status"] == "fail" and "another installation" in checks["hooks"]["detail"]


def test_spool_backlog_is_reported(daemon: DaemonProcess) -> None:
    spool = daemon.state_dir / "spool"
    spool.mkdir(mode=0o700, exist_ok=True)
    for i in range(3):
        (spool / f"payload-{i}.sealed").write_bytes(b"\0" * 16)
    _code, checks = run_doctor(daemon.env)
    assert checks["spool"]["status"] == "warn"
    assert "3 hook payload(s) waiting" in checks["spool"]["detail"]
    assert "drains" in checks["spool"]["fix"]


def test_bad_config_is_a_failed_check_not_a_crash(daemon_env: dict[str, str]) -> None:
    write_config(daemon_env, "hook_timeout_ms = -5\n")
    code, checks = run_doctor(daemon_env)
    assert code == 1
    assert checks["config"]["status"] == "fail" and "hook_timeout_ms" in checks["config"]["detail"]
    assert set(checks) >= {"socket", "daemon", "disk"}, "the other checks still run"


# --- checks fed directly (their inputs are data: a probe answer, a status reply) -----------------------------------
def test_encoder_digest(tmp_path: Path) -> None:
    weights = tmp_path / "encoder.pt"
    weights.write_bytes(b"weights v1")
    good = hashlib.sha256(b"weights v1").hexdigest()
    assert doctor.check_encoder({"encoder": {"path": str(weights), "sha256": good}}).status == "ok"
    bad = doctor.check_encoder({"encoder": {"path": str(weights), "sha256": "0" * 64}})
    assert bad.status == "fail" and "does not match" in bad.detail and bad.fix
    gone = doctor.check_encoder({"encoder": {"path": str(tmp_path / "none.pt"), "sha256": good}})
    assert gone.status == "warn" and "no encoder weights installed" in gone.detail
    assert doctor.check_encoder({"encoder": {"error": "ImportError: x"}}).status == "warn"


def test_store_schema_mismatch_says_restart() -> None:
    reply = p.StatusReply(
        version="0.1.0",
        protocol=p.PROTOCOL_VERSION,
        pid=1,
        uptime_seconds=1.0,
        socket_path="/s",
        activated_by="self",
        store_path="/db",
        store_bytes=10,
        schema_version=2,
        row_counts={},
        keyring_backend="k",
        key_id="k",
    )
    stale = doctor.check_store({"schema_version": 3}, reply)
    assert stale.status == "fail" and "expects schema 3" in stale.detail and "llmojid-ctl stop" in stale.fix
    assert doctor.check_store({"schema_version": 2}, reply).status == "ok"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("~/bin/llmojid-ctl hook codex", "missing or not executable"),
        ("'unterminated hook", "does not parse"),
        ("no-such-program-xyz hook codex", "not on PATH"),
    ],
)
def test_hook_problems(tmp_path: Path, command: str, problem: str) -> None:
    found = doctor.hook_problem(command, tmp_path)
    assert found is not None and problem in found


def test_hook_spellings_of_home_are_understood(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "hook-script"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    for spelling in ("~/bin/hook-script", "$HOME/bin/hook-script", "${HOME}/bin/hook-script"):
        assert doctor.hook_problem(f"{spelling} claude-code", tmp_path) is None, spelling
    os.chmod(program, 0o644)
    assert doctor.hook_problem("~/bin/hook-script", tmp_path) is not None
