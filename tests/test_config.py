"""config.toml: typed, layered (default < file < environment < flag), every value's source recorded, every mistake
refused with the key and the file named. Pure tests first, then the real daemon and ctl reading a real file."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonUnreachable
from llmojid.common import config
from tests.support import LLMOJID, LLMOJID_CTL, START_TIMEOUT_SECONDS

CFG = Path("/home/someone/.config/llmojid/config.toml")


def resolve(text: str | None, env: dict[str, str] | None = None, **flags: object) -> config.LoadedConfig:
    return config.resolve(text, CFG, env=env or {}, flags=flags)


# --- pure layering -------------------------------------------------------------------------------------------------
def test_defaults_when_there_is_no_file() -> None:
    loaded = resolve(None)
    assert loaded.config == config.Config()
    assert loaded.config.hook_timeout_ms == 300
    assert loaded.file_exists is False
    assert {s.kind for s in loaded.sources.values()} == {"default"}
    assert set(loaded.sources) == set(config.KEYS)


def test_the_brief_keys_exist() -> None:
    for key in (
        "socket",
        "idle_exit_seconds",
        "hook_timeout_ms",
        "model_path",
        "model_threads",
        "model_context",
        "model_idle_unload_seconds",
        "synthesis_method",
        "retain_text_days",
        "log_level",
    ):
        assert key in config.KEYS
        assert config.describe(key), f"{key} has no description for config show"


def test_each_layer_overrides_the_one_below_and_is_recorded() -> None:
    text = 'hook_timeout_ms = 500\nmodel_threads = 3\nlog_level = "debug"\nsocket = "/file.sock"\n'
    env = {"LLMOJID_MODEL_THREADS": "4", "LLMOJID_SOCKET": "/env.sock", "UNRELATED": "x"}
    loaded = resolve(text, env, socket="/flag.sock", idle_exit_seconds=None)
    c, s = loaded.config, loaded.sources
    assert (c.hook_timeout_ms, s["hook_timeout_ms"]) == (500, config.Source("file", str(CFG)))
    assert (c.log_level, s["log_level"].kind) == ("debug", "file")
    assert (c.model_threads, s["model_threads"]) == (4, config.Source("environment", "LLMOJID_MODEL_THREADS"))
    assert (c.socket, s["socket"]) == ("/flag.sock", config.Source("flag", "--socket"))
    # a flag given as None (not on the command line) does not count
    assert (c.idle_exit_seconds, s["idle_exit_seconds"].kind) == (None, "default")
    assert (c.model_context, s["model_context"].kind) == (4096, "default")


def test_environment_strings_are_converted_to_the_key_type() -> None:
    loaded = resolve(None, {"LLMOJID_IDLE_EXIT_SECONDS": "2.5", "LLMOJID_RETAIN_TEXT_DAYS": "30"})
    assert loaded.config.idle_exit_seconds == 2.5
    assert loaded.config.retain_text_days == 30


def test_an_integer_is_accepted_for_a_float_key() -> None:
    assert resolve("idle_exit_seconds = 5\n").config.idle_exit_seconds == 5.0


@pytest.mark.parametrize(
    ("text", "key", "expect"),
    [
        ('hook_timeout_ms = "fast"\n', "hook_timeout_ms", "an integer from 1 to 60000"),
        ("hook_timeout_ms = 0\n", "hook_timeout_ms", "an integer from 1 to 60000"),
        ("hook_timeout_ms = 2.5\n", "hook_timeout_ms", "an integer"),
        ("model_threads = true\n", "model_threads", "an integer"),
        ('log_level = "loud"\n', "log_level", "one of 'debug', 'info', 'warning', 'error'"),
        ('synthesis_method = "magic"\n', "synthesis_method", "one of 'scoring', 'generation', 'grammar'"),
        ("idle_exit_seconds = -1\n", "idle_exit_seconds", "a number of at least 0"),
        ("socket = 5\n", "socket", "a string"),
        ("retain_text_days = [1]\n", "retain_text_days", "an integer"),
    ],
)
def test_wrong_types_are_refused_naming_key_and_file(text: str, key: str, expect: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        resolve(text)
    message = str(err.value)
    assert f"key '{key}'" in message
    assert str(CFG) in message
    assert expect in message


def test_the_bad_value_itself_is_not_echoed() -> None:
    with pytest.raises(config.ConfigError) as err:
        resolve('log_level = "sekrit-canary-9f3a"\n')
    assert "sekrit-canary-9f3a" not in str(err.value)


def test_unknown_keys_are_refused_naming_the_key_and_file() -> None:
    with pytest.raises(config.ConfigError) as err:
        resolve("hook_timeout_ms = 300\nhook_timout_ms = 200\n")
    assert "unknown key 'hook_timout_ms'" in str(err.value)
    assert str(CFG) in str(err.value)
    assert "hook_timeout_ms" in str(err.value)  # the known keys are listed, so the typo is easy to see


def test_a_table_is_an_unknown_key() -> None:
    with pytest.raises(config.ConfigError, match="unknown key 'model'"):
        resolve('[model]\npath = "/x.gguf"\n')


def test_invalid_toml_is_refused_with_its_position() -> None:
    with pytest.raises(config.ConfigError) as err:
        resolve("hook_timeout_ms = = 3\n")
    assert "not valid TOML" in str(err.value) and "line 1" in str(err.value)


def test_environment_and_flag_errors_name_their_origin() -> None:
    with pytest.raises(config.ConfigError, match="environment variable LLMOJID_HOOK_TIMEOUT_MS: key 'hook_timeout_ms'"):
        resolve(None, {"LLMOJID_HOOK_TIMEOUT_MS": "soon"})
    with pytest.raises(config.ConfigError, match="the command line: key 'idle_exit_seconds'"):
        resolve(None, idle_exit_seconds=-2.0)
    with pytest.raises(config.ConfigError, match="unknown setting 'colour'"):
        resolve(None, colour="red")


def test_toml_spelling_of_values() -> None:
    assert config.to_toml_value('a "b"') == '"a \\"b\\""'
    assert config.to_toml_value(None) == "(unset)"
    assert config.to_toml_value(2.5) == "2.5"


# --- the file on disk ------------------------------------------------------------------------------------------------
def test_load_reads_the_file_and_refuses_one_others_can_write(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert config.load(path, env={}).file_exists is False
    path.write_text("retain_text_days = 7\n")
    path.chmod(0o644)
    loaded = config.load(path, env={})
    assert loaded.config.retain_text_days == 7 and loaded.file_exists
    path.chmod(0o666)
    with pytest.raises(config.ConfigError, match="writable by other users"):
        config.load(path, env={})
    path.chmod(0o600)
    path.write_bytes(b"log_level = '\xff'\n")
    with pytest.raises(config.ConfigError, match="not UTF-8"):
        config.load(path, env={})


def test_config_file_override(tmp_path: Path) -> None:
    assert config.config_file(tmp_path, env={}) == tmp_path / "config.toml"
    assert config.config_file(tmp_path, env={"LLMOJID_CONFIG": "/etc/x.toml"}) == Path("/etc/x.toml")


# --- the real programs ---------------------------------------------------------------------------------------------
def _write_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "llmojid" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_show_reports_value_and_source(daemon_env: dict[str, str]) -> None:
    path = _write_config(daemon_env, "hook_timeout_ms = 750\n")
    env = {**daemon_env, "LLMOJID_MODEL_CONTEXT": "2048"}
    result = subprocess.run(
        [LLMOJID_CTL, "--socket", "/tmp/flag.sock", "config", "show", "--json"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["file"] == str(path) and shown["file_exists"] is True
    values = shown["values"]
    assert values["hook_timeout_ms"] == {"value": 750, "source": "file", "detail": str(path)}
    assert values["model_context"] == {"value": 2048, "source": "environment", "detail": "LLMOJID_MODEL_CONTEXT"}
    assert values["socket"] == {"value": "/tmp/flag.sock", "source": "flag", "detail": "--socket"}
    assert values["log_level"] == {"value": "info", "source": "default", "detail": ""}
    text = subprocess.run([LLMOJID_CTL, "config", "show"], env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0
    assert any(
        line.startswith("hook_timeout_ms") and "750" in line and "file" in line for line in text.stdout.splitlines()
    )


def test_config_show_refuses_a_bad_file(daemon_env: dict[str, str]) -> None:
    path = _write_config(daemon_env, "model_threds = 4\n")
    result = subprocess.run([LLMOJID_CTL, "config", "show"], env=daemon_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown key 'model_threds'" in result.stderr and str(path) in result.stderr


def test_daemon_refuses_to_start_with_a_bad_config(daemon_env: dict[str, str]) -> None:
    path = _write_config(daemon_env, 'idle_exit_seconds = "soon"\n')
    result = subprocess.run([LLMOJID, "serve"], env=daemon_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2  # the unit's RestartPreventExitStatus: no restart loop on a bad config
    assert "key 'idle_exit_seconds'" in result.stderr and str(path) in result.stderr
    assert not (Path(daemon_env["XDG_STATE_HOME"]) / "llmojid").exists(), "nothing is touched before the config is good"


def test_daemon_takes_socket_idle_exit_and_log_level_from_the_file(workdir: Path, daemon_env: dict[str, str]) -> None:
    sock = workdir / "cfg" / "d.sock"
    _write_config(daemon_env, f'socket = "{sock}"\nidle_exit_seconds = 1\nlog_level = "warning"\n')
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([LLMOJID, "serve"], env=daemon_env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        reply = None
        while reply is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with Client(sock, timeout=5) as client:
                    reply = client.request(p.Status())
            except DaemonUnreachable:
                time.sleep(0.05)
        assert isinstance(reply, p.StatusReply), log_path.read_text()
        assert reply.socket_path == str(sock)
        assert proc.wait(timeout=30) == 0, "idle_exit_seconds from config.toml makes a self-started daemon exit"
        assert not sock.exists(), "a socket it bound itself is removed on exit"
        assert "serving on" not in log_path.read_text(), "log_level = warning hides INFO lines"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
