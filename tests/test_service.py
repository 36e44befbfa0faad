"""The shipped units and plist, their rendering, ``systemd-analyze verify``, and ``llmojid-ctl service``.

CI runs as root in a container with no systemd as PID 1. ``systemd-analyze verify --user`` still loads and checks
the units there, given an ``XDG_RUNTIME_DIR`` (without one it stops at "Failed to lookup RuntimeDirectory path").
It exits 0 even for an unknown key or a bad value (it only warns, "..., ignoring"), so a clean run is exit 0 *and*
nothing printed; a control with a misspelt key proves the check can fail.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmojid.client.commands import service
from llmojid.daemon import security
from tests.support import LLMOJID, LLMOJID_CTL

REPO = Path(__file__).resolve().parents[1]


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}} (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def render_units(directory: Path, daemon_bin: Path, socket_path: str = service.SYSTEMD_DEFAULT_SOCKET) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for unit in (service.SOCKET_UNIT, service.SERVICE_UNIT):
        template = (REPO / "systemd" / unit).read_text()
        path = directory / unit
        path.write_text(service.render_systemd(template, daemon_bin=daemon_bin, socket_path=socket_path))
        out.append(path)
    return out


def verify(units: list[Path], tmp: Path) -> subprocess.CompletedProcess[str]:
    runtime = tmp / "verify-run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", *map(str, units)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the shipped files ---------------------------------------------------------------------------------------------
def test_socket_unit_is_private_and_in_the_runtime_dir() -> None:
    s = unit_settings((REPO / "systemd" / service.SOCKET_UNIT).read_text())["Socket"]
    assert s["ListenStream"] == ["@SOCKET_PATH@"]
    assert s["SocketMode"] == ["0600"] and s["DirectoryMode"] == ["0700"]
    rendered = service.render_systemd(
        (REPO / "systemd" / service.SOCKET_UNIT).read_text(),
        daemon_bin=Path(LLMOJID),
        socket_path=service.SYSTEMD_DEFAULT_SOCKET,
    )
    assert unit_settings(rendered)["Socket"]["ListenStream"] == ["%t/llmojid/llmojid.sock"]


def test_service_unit_is_notify_restarting_and_hardened() -> None:
    s = unit_settings((REPO / "systemd" / service.SERVICE_UNIT).read_text())["Service"]
    expected = {
        "Type": "notify",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "RestrictAddressFamilies": "AF_UNIX",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "no",  # torch oneDNN JIT: see tests/test_service_systemd.py
        "SystemCallArchitectures": "native",
        "UMask": "0077",
        "RestartPreventExitStatus": "2",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    assert s["ExecStart"] == ["@LLMOJID_BIN@ serve"]
    # Settings that need a mount namespace (so user namespaces, in a user service) are not used.
    for needs_userns in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateUsers"):
        assert needs_userns not in s


def test_systemd_analyze_verify_passes_on_the_rendered_units(tmp_path: Path) -> None:
    units = render_units(tmp_path / "units", Path(LLMOJID))
    result = verify(units, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


def test_systemd_analyze_verify_catches_a_bad_unit(tmp_path: Path) -> None:
    """The control: the same check on a misspelt key and a missing executable does complain."""
    units = render_units(tmp_path / "bad", Path("/nonexistent/llmojid"))
    units[1].write_text(units[1].read_text().replace("LockPersonality=yes", "LockPersonalty=yes"))
    result = verify(units, tmp_path)
    output = result.stdout + result.stderr
    assert "LockPersonalty" in output
    assert "/nonexistent/llmojid" in output


def test_odd_paths_are_quoted_and_escaped(tmp_path: Path) -> None:
    odd = tmp_path / "my env 100%" / "llmojid"
    odd.parent.mkdir()
    odd.symlink_to(LLMOJID)
    units = render_units(tmp_path / "odd", odd, socket_path="/run/x 50%/llmojid.sock")
    text = units[1].read_text()
    assert f'ExecStart="{str(odd).replace("%", "%%")}" serve' in text
    assert "ListenStream=/run/x 50%%/llmojid.sock" in units[0].read_text()
    result = verify(units, tmp_path)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_a_missing_value_is_a_clear_error() -> None:
    with pytest.raises(service.ServiceError, match="@OTHER@"):
        service.render_systemd("ExecStart=@OTHER@", daemon_bin=Path("/x"), socket_path="/s")


def test_launchd_plist_parses_and_has_the_required_keys(tmp_path: Path) -> None:
    template = (REPO / "launchd" / f"{service.LAUNCHD_LABEL}.plist").read_text()
    odd_bin = Path("/Users/a&b <c>/venv/bin/llmojid")
    data = service.render_launchd(
        template,
        daemon_bin=odd_bin,
        socket_path=Path("/Users/a&b/Library/Caches/llmojid/run/llmojid.sock"),
        log_path=Path("/Users/a&b/Library/Logs/llmojid/llmojid.log"),
    )
    plist = plistlib.loads(data)
    assert plist["Label"] == service.LAUNCHD_LABEL
    assert plist["ProgramArguments"] == [str(odd_bin), "serve"]
    listeners = plist["Sockets"]["Listeners"]
    assert listeners["SockPathName"] == "/Users/a&b/Library/Caches/llmojid/run/llmojid.sock"
    assert listeners["SockPathMode"] == 384 == 0o600
    assert listeners["SockType"] == "stream" and listeners["SockFamily"] == "Unix"
    # Restart after a crash only: an idle exit (status 0) must not be undone by launchd.
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["RunAtLoad"] is False
    assert plist["EnvironmentVariables"]["LLMOJID_LAUNCHD"] == "1"
    assert plist["Umask"] == 63 == 0o077
    assert plist["StandardErrorPath"].endswith("llmojid.log")
    # The template itself parses too (its placeholders are plain strings).
    assert plistlib.loads(template.encode())["Sockets"]["Listeners"]["SockPathMode"] == 384


# --- launchd activation (ctypes) ------------------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform != "darwin", reason="launch_activate_socket exists only in macOS's libc")
def test_launch_activate_socket_outside_launchd_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a launchd job the real call fails (ESRCH); the daemon says so instead of crashing."""
    monkeypatch.setenv("LLMOJID_LAUNCHD", "1")
    with pytest.raises(security.SecurityError, match="launchd handed over no socket"):
        security.activated_socket()


@pytest.mark.skipif(sys.platform == "darwin", reason="off macOS only")
def test_launchd_flag_is_ignored_off_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOJID_LAUNCHD", "1")
    monkeypatch.delenv("LISTEN_PID", raising=False)
    assert security.activated_socket() is None


# --- llmojid-ctl service ---------------------------------------------------------------------------------------------
def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID_CTL, *args], env=env, capture_output=True, text=True, timeout=120)


def user_manager_running(env: dict[str, str]) -> bool:
    state = subprocess.run(
        ["systemctl", "--user", "is-system-running"], env=env, capture_output=True, text=True, timeout=30
    )
    return state.stdout.strip() in {"running", "degraded"}


def test_install_no_start_status_and_uninstall_round_trip(daemon_env: dict[str, str]) -> None:
    unit_dir = Path(daemon_env["XDG_CONFIG_HOME"]) / "systemd" / "user"
    result = ctl(daemon_env, "service", "--manager", "systemd", "install", "--no-start")
    assert result.returncode == 0, result.stderr
    socket_unit, service_unit = unit_dir / service.SOCKET_UNIT, unit_dir / service.SERVICE_UNIT
    assert socket_unit.is_file() and service_unit.is_file()
    exec_start = unit_settings(service_unit.read_text())["Service"]["ExecStart"]
    assert exec_start == [f"{Path(LLMOJID).absolute()} serve"], "the unit runs this installation's daemon"
    assert re.search(r"@[A-Z_]+@", service_unit.read_text() + socket_unit.read_text()) is None

    status = ctl(daemon_env, "service", "--manager", "systemd", "status", "--json")
    report = json.loads(status.stdout)
    assert report["files"] == {str(socket_unit): "current", str(service_unit): "current"}

    service_unit.write_text(service_unit.read_text().replace(str(Path(LLMOJID).absolute()), "/old/venv/bin/llmojid"))
    report = json.loads(ctl(daemon_env, "service", "--manager", "systemd", "status", "--json").stdout)
    assert report["files"][str(service_unit)] == "outdated"
    assert "differs from this installation" in ctl(daemon_env, "service", "--manager", "systemd", "status").stdout

    result = ctl(daemon_env, "service", "--manager", "systemd", "uninstall")
    assert result.returncode == 0, result.stderr
    assert not socket_unit.exists() and not service_unit.exists()
    assert "journal" in result.stdout  # it says what it keeps
    report = json.loads(ctl(daemon_env, "service", "--manager", "systemd", "status", "--json").stdout)
    assert set(report["files"].values()) == {"missing"}
    assert "nothing was installed" in ctl(daemon_env, "service", "--manager", "systemd", "uninstall").stdout


def test_config_socket_goes_into_the_socket_unit(daemon_env: dict[str, str], workdir: Path) -> None:
    cfg = Path(daemon_env["XDG_CONFIG_HOME"]) / "llmojid" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'socket = "{workdir}/custom/llmojid.sock"\n')
    assert ctl(daemon_env, "service", "--manager", "systemd", "install", "--no-start").returncode == 0
    text = (Path(daemon_env["XDG_CONFIG_HOME"]) / "systemd" / "user" / service.SOCKET_UNIT).read_text()
    assert unit_settings(text)["Socket"]["ListenStream"] == [f"{workdir}/custom/llmojid.sock"]


def test_install_without_a_user_manager_says_so_and_what_to_do(daemon_env: dict[str, str]) -> None:
    if user_manager_running(daemon_env):
        pytest.skip("a systemd user manager runs here; tests/test_service_systemd.py covers that case")
    result = ctl(daemon_env, "service", "--manager", "systemd", "install")
    assert result.returncode == 1
    assert "no systemd user manager is running here" in result.stderr
    assert "systemctl --user enable --now llmojid.socket" in result.stderr
    assert "llmojid serve" in result.stderr
    assert (Path(daemon_env["XDG_CONFIG_HOME"]) / "systemd" / "user" / service.SERVICE_UNIT).is_file()
    logs = ctl(daemon_env, "service", "--manager", "systemd", "logs")
    assert logs.returncode == 1 and "no systemd user manager" in logs.stdout


def test_launchd_install_no_start_writes_the_agent(daemon_env: dict[str, str]) -> None:
    result = ctl(daemon_env, "service", "--manager", "launchd", "install", "--no-start")
    assert result.returncode == 0, result.stderr
    plist_path = Path(daemon_env["HOME"]) / "Library" / "LaunchAgents" / f"{service.LAUNCHD_LABEL}.plist"
    plist = plistlib.loads(plist_path.read_bytes())
    assert plist["ProgramArguments"][0] == str(Path(LLMOJID).absolute())
    assert plist["Sockets"]["Listeners"]["SockPathMode"] == 384
    if sys.platform != "darwin":
        started = ctl(daemon_env, "service", "--manager", "launchd", "install")
        assert started.returncode == 1 and "launchd is not available here" in started.stderr
    assert ctl(daemon_env, "service", "--manager", "launchd", "uninstall").returncode == 0
    assert not plist_path.exists()


def test_templates_are_found_for_this_installation() -> None:
    root = service.templates_root()
    assert (root / "systemd" / service.SOCKET_UNIT).is_file()
    assert shutil.which("systemd-analyze"), "scripts/setup installs systemd (for systemd-analyze verify)"
