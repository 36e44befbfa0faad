"""``llmojid-ctl service install`` under a real systemd user manager, with the shipped hardening in force.

CI has no systemd as PID 1, but systemd's user manager (``systemd --user``) runs fine once ``sd_booted()`` is true,
and that only asks whether ``/run/systemd/system`` exists. So this test (root only) enters a private mount namespace
(``unshare -m``), mounts a tmpfs over ``/run/systemd`` there, creates that directory and starts a user manager with a
throwaway HOME and runtime dir; nothing outside the namespace sees any of it. In there it runs the real thing:

* ``service install`` (daemon-reload, enable --now llmojid.socket, first connection starts the Type=notify service);
* the daemon runs with NoNewPrivileges, seccomp (the SystemCallFilter) and UMask 0077 applied by systemd;
* idle exit (idle_exit_seconds = 2 from config.toml), and the socket brings it back on the next connection;
* a kill -9 crash is restarted (Restart=on-failure);
* torch and llama.cpp do their work under the shipped hardening (``systemd-run`` with the unit's own settings), and
  the MemoryDenyWriteExecute measurement behind the unit's choice;
* ``service uninstall`` leaves no unit behind.

The scenario runs as this file's ``__main__`` inside the namespace and writes its observations as JSON; the test
asserts on them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent
MANAGER = Path("/lib/systemd/systemd")
#: [Service] keys of llmojid.service that are hardening (passed to systemd-run for the workload).
HARDENING_KEYS = (
    "NoNewPrivileges",
    "UMask",
    "LimitCORE",
    "RestrictAddressFamilies",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "SystemCallArchitectures",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "RestrictNamespaces",
    "SystemCallFilter",
    "SystemCallErrorNumber",
)
#: What the workload does: the daemon's heavy dependencies, each reported on its own.
WORKLOAD = r"""
import json, sys
out = {}
try:
    import llama_cpp
    from llmojid.daemon.model.runner import default_model_path
    llm = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=256, n_threads=1, verbose=False)
    llm("Hi", max_tokens=2)
    out["llama"] = "ok"
except Exception as exc:
    out["llama"] = f"{type(exc).__name__}: {exc}"
import torch
for name, onednn in (("torch_onednn", True), ("torch_no_onednn", False)):
    torch.backends.mkldnn.enabled = onednn
    try:
        with torch.no_grad():
            torch.nn.Conv1d(8, 8, 3, dilation=2)(torch.randn(2, 8, 64))
        out[name] = "ok"
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
sys.stdout.write(json.dumps(out))
"""


def _can_run() -> str | None:
    if os.getuid() != 0:
        return "needs root (a mount namespace and a tmpfs over /run/systemd)"
    if not MANAGER.exists() or shutil.which("unshare") is None:
        return "systemd or unshare is not installed"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return "unshare -m is not permitted here"
    return None


# --- the scenario (runs inside the namespace, as __main__) ---------------------------------------------------------
def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def _show(unit: str) -> dict[str, str]:
    props = ("ActiveState", "SubState", "MainPID", "NRestarts", "Result")
    result = _run("systemctl", "--user", "show", unit, *[f"-p{p}" for p in props])
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def _status(ctl: str) -> dict[str, Any]:
    result = _run(ctl, "status", "--json", timeout=90)
    return json.loads(result.stdout) if result.returncode == 0 else {"error": result.stderr}


def _wait_for(predicate: Any, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _hardening_lines(unit_text: str) -> list[str]:
    return [line for line in unit_text.splitlines() if line.partition("=")[0] in HARDENING_KEYS]


def _workload(name: str, hardening: list[str], root: Path) -> subprocess.Popen[str]:
    """Run WORKLOAD as a oneshot unit carrying ``hardening`` (through systemctl's private socket: no D-Bus)."""
    script = root / "workload.py"
    script.write_text(WORKLOAD)
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / f"{name}.service"
    unit.write_text(
        "[Service]\nType=oneshot\nTimeoutStartSec=600\n"
        f"ExecStart={sys.executable} {script}\nStandardOutput=truncate:{root / name}.out\n"
        f"StandardError=truncate:{root / name}.err\n" + "\n".join(hardening) + "\n"
    )
    _run("systemctl", "--user", "daemon-reload")
    return subprocess.Popen(["systemctl", "--user", "start", f"{name}.service"], stderr=subprocess.PIPE, text=True)


def _workload_result(name: str, proc: subprocess.Popen[str], root: Path) -> dict[str, Any]:
    _, stderr = proc.communicate(timeout=660)
    try:
        return dict(json.loads((root / f"{name}.out").read_text()))
    except (OSError, json.JSONDecodeError):
        err = (root / f"{name}.err").read_text()[-2000:] if (root / f"{name}.err").exists() else ""
        return {"failed": proc.returncode, "stderr": stderr[-1000:] + err}


def scenario(out_path: Path) -> None:
    ctl = str(BIN / "llmojid-ctl")
    obs: dict[str, Any] = {}
    # What a desktop login does: the user manager learns the session bus (where the keyring answers).
    bus_env = [f"{k}={os.environ[k]}" for k in ("DBUS_SESSION_BUS_ADDRESS", "LLMOJID_KEYRING_SERVICE", "PYTHONPATH")]
    _run("systemctl", "--user", "set-environment", *[e for e in bus_env if not e.endswith("=")])
    install = _run(ctl, "service", "install")
    obs["install"] = {"rc": install.returncode, "stdout": install.stdout, "stderr": install.stderr}
    first = _status(ctl)
    obs["first"] = first
    obs["first_unit"] = _show("llmojid.service")
    pid = int(first.get("pid", 0))
    if pid:
        fields = Path(f"/proc/{pid}/status").read_text().splitlines()
        obs["proc"] = {
            k: v.strip() for k, _, v in (f.partition(":") for f in fields) if k in ("NoNewPrivs", "Seccomp", "Umask")
        }
    obs["idle_exited"] = _wait_for(lambda: _show("llmojid.service").get("ActiveState") == "inactive")
    obs["after_idle_unit"] = _show("llmojid.service")
    obs["socket_after_idle"] = _show("llmojid.socket")
    second = _status(ctl)
    obs["second"] = second
    if second.get("pid"):
        os.kill(int(second["pid"]), 9)
        obs["restarted"] = _wait_for(
            lambda: (
                _show("llmojid.service").get("MainPID") not in ("0", str(second["pid"]))
                and _show("llmojid.service").get("ActiveState") == "active"
            )
        )
        obs["after_crash_unit"] = _show("llmojid.service")
        obs["third"] = _status(ctl)
    service_status = _run(ctl, "service", "status", "--json")
    obs["service_status"] = {"rc": service_status.returncode, "report": json.loads(service_status.stdout or "{}")}
    unit_text = (Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "llmojid.service").read_text()
    root = out_path.parent
    hardening = _hardening_lines(unit_text)
    shipped = _workload("wl-shipped", hardening, root)
    wx = _workload("wl-mdwe", [*hardening, "MemoryDenyWriteExecute=yes"], root)
    obs["workload_shipped"] = _workload_result("wl-shipped", shipped, root)
    obs["workload_mdwe"] = _workload_result("wl-mdwe", wx, root)
    uninstall = _run(ctl, "service", "uninstall")
    obs["uninstall"] = {"rc": uninstall.returncode, "stdout": uninstall.stdout}
    obs["unit_files_after"] = _run("systemctl", "--user", "list-unit-files", "llmojid*", "--no-legend").stdout
    obs["socket_exists_after"] = (Path(os.environ["XDG_RUNTIME_DIR"]) / "llmojid" / "llmojid.sock").exists()
    out_path.write_text(json.dumps(obs))


DRIVER = r"""
set -u
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir -p /run/systemd/system
"$MANAGER" --user --log-target=console > "$ROOT/manager.log" 2>&1 &
manager=$!
i=0
while [ ! -S "$XDG_RUNTIME_DIR/systemd/private" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
"$PYTHON" "$SCENARIO" "$ROOT/observations.json"
rc=$?
kill "$manager"
wait "$manager"
exit $rc
"""


@pytest.mark.slow
def test_install_under_a_real_user_manager(workdir: Path, daemon_env: dict[str, str]) -> None:
    reason = _can_run()
    if reason:
        pytest.skip(reason)
    config_dir = Path(daemon_env["XDG_CONFIG_HOME"]) / "llmojid"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("idle_exit_seconds = 2\n")
    env = {
        **daemon_env,
        "ROOT": str(workdir),
        "MANAGER": str(MANAGER),
        "PYTHON": sys.executable,
        "SCENARIO": str(HERE),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    result = subprocess.run(["unshare", "-m", "sh", "-c", DRIVER], env=env, capture_output=True, text=True, timeout=600)
    observations = workdir / "observations.json"
    assert observations.exists(), f"{result.stdout}\n{result.stderr}\n{(workdir / 'manager.log').read_text()}"
    obs = json.loads(observations.read_text())

    assert obs["install"]["rc"] == 0, obs["install"]
    assert "the daemon answered" in obs["install"]["stdout"] and "started by systemd" in obs["install"]["stdout"]
    assert obs["first"]["activated_by"] == "systemd", obs["first"]
    assert obs["first_unit"]["ActiveState"] == "active"  # Type=notify: READY=1 arrived
    assert obs["proc"] == {"NoNewPrivs": "1", "Seccomp": "2", "Umask": "0077"}, obs["proc"]

    assert obs["idle_exited"], obs["after_idle_unit"]
    assert obs["after_idle_unit"]["Result"] == "success"  # exit 0: not a failure, no restart
    assert obs["socket_after_idle"]["ActiveState"] == "active"  # the socket keeps listening
    assert obs["second"]["activated_by"] == "systemd" and obs["second"]["pid"] != obs["first"]["pid"]

    assert obs["restarted"], obs["after_crash_unit"]
    assert int(obs["after_crash_unit"]["NRestarts"]) >= 1
    assert obs["third"]["pid"] not in (obs["first"]["pid"], obs["second"]["pid"])

    assert obs["service_status"]["rc"] == 0
    assert set(obs["service_status"]["report"]["files"].values()) == {"current"}

    assert obs["workload_shipped"] == {"llama": "ok", "torch_onednn": "ok", "torch_no_onednn": "ok"}
    mdwe = obs["workload_mdwe"]
    assert mdwe["llama"] == "ok" and mdwe["torch_no_onednn"] == "ok", mdwe
    assert mdwe["torch_onednn"] != "ok", (
        "torch's oneDNN runs under MemoryDenyWriteExecute now: set MemoryDenyWriteExecute=yes in llmojid.service"
    )

    assert obs["uninstall"]["rc"] == 0
    assert "llmojid" not in obs["unit_files_after"]
    assert not obs["socket_exists_after"], "RemoveOnStop: no stale socket after uninstall"


if __name__ == "__main__":
    scenario(Path(sys.argv[1]))
