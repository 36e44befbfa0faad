"""``llmojid-ctl service install|uninstall|status|logs``: run the daemon under the user's service manager.

Install once and forget: the manager holds the socket (systemd ``llmojid.socket``, launchd's ``Sockets``), starts
the daemon on the first connection, and starts it again after it exits idle or crashes. The unit files and the
plist ship as templates (``systemd/``, ``launchd/`` at the top of the source tree); this module fills in the paths
of *this* installation (the ``llmojid`` executable next to the running interpreter, the socket from the config)
and writes the result where the manager looks for the user's own services.

Where no user service manager runs (a container, CI, a login without systemd's user instance) ``install`` writes
the files, says plainly that nothing could be started, and prints what to do instead. ``uninstall`` stops and
removes everything ``install`` wrote, and nothing else: the journal and the keys stay.

Exit codes: 0 done; 1 the service manager is absent or refused (the message says which, and what to do); 2 usage.

Resource handling: files are written atomically (temp file + rename in the same directory). Every call to
``systemctl``/``launchctl``/``journalctl`` has a timeout, and its output is shown only when it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.sax.saxutils
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError, DaemonUnreachable
from llmojid.common import config

EXIT_OK = 0
EXIT_MANAGER = 1
EXIT_USAGE = 2

SOCKET_UNIT = "llmojid.socket"
SERVICE_UNIT = "llmojid.service"
LAUNCHD_LABEL = "org.llmojid.daemon"
#: systemd's own spelling of the default socket: %t is the user manager's $XDG_RUNTIME_DIR.
SYSTEMD_DEFAULT_SOCKET = "%t/llmojid/llmojid.sock"
#: Any one call to a service manager tool; they answer in milliseconds when healthy.
MANAGER_TIMEOUT_SECONDS = 30.0
#: How long install waits for the freshly activated daemon to answer (start-up opens the keyring and the store).
VERIFY_TIMEOUT_SECONDS = 60.0
#: Manager states (``systemctl --user is-system-running``) that mean a user manager is there to talk to.
_SYSTEMD_UP_STATES = frozenset({"running", "degraded", "starting", "initializing", "maintenance"})


class ServiceError(Exception):
    """Something the user must fix before the service can be installed (message says what)."""


# --- templates and rendering (pure) ----------------------------------------------------------------------------------
def templates_root() -> Path:
    """The folder holding ``systemd/`` and ``launchd/``: the source tree (editable install) or share/llmojid."""
    candidates = [Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "llmojid"]
    for root in candidates:
        if (root / "systemd" / SOCKET_UNIT).is_file() and (root / "launchd" / f"{LAUNCHD_LABEL}.plist").is_file():
            return root
    raise ServiceError(
        "the service templates (systemd/, launchd/) are not part of this installation; "
        f"looked in {', '.join(str(c) for c in candidates)}. Install llmojid from its source tree."
    )


def daemon_executable() -> Path:
    """The ``llmojid`` console script of this installation (beside the interpreter running us), else on PATH."""
    beside = Path(sys.executable).parent / "llmojid"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("llmojid")
    if found:
        return Path(found).absolute()
    raise ServiceError("the `llmojid` executable was not found next to this Python or on PATH; reinstall llmojid")


def systemd_quote(value: str) -> str:
    """One word for a unit file: ``%`` doubled (it starts a specifier), quoted when it holds blanks or quotes."""
    text = value.replace("%", "%%")
    if any(c.isspace() or c in "\"'\\" for c in text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


UNIX_ONLY_LINE = "RestrictAddressFamilies=AF_UNIX"
#: What the service unit allows when config.toml names a TCP backend for analyze (an outgoing connection only).
INET_LINE = (
    "# config.toml names a TCP backend (synthesis_backend_url), so analyze may connect out over IPv4/IPv6.\n"
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
)


def render_systemd(template: str, *, daemon_bin: Path, socket_path: str, inet: bool = False) -> str:
    """Fill a unit template. ``socket_path`` may be the literal ``%t/...`` default (kept as a specifier). ``inet``
    widens the service unit's ``RestrictAddressFamilies=AF_UNIX`` by AF_INET and AF_INET6 (a TCP backend)."""
    socket_value = socket_path if socket_path == SYSTEMD_DEFAULT_SOCKET else socket_path.replace("%", "%%")
    rendered = template.replace("@LLMOJID_BIN@", systemd_quote(str(daemon_bin))).replace("@SOCKET_PATH@", socket_value)
    if inet and "[Service]" in rendered:
        lines = rendered.split("\n")
        if lines.count(UNIX_ONLY_LINE) != 1:
            raise ServiceError(f"the service template has no single `{UNIX_ONLY_LINE}` line to widen (a bug)")
        rendered = "\n".join(INET_LINE if line == UNIX_ONLY_LINE else line for line in lines)
    _no_placeholder_left(rendered)
    return rendered


def is_tcp_backend(url: str) -> bool:
    """Whether a configured synthesis backend is reached over TCP (so the daemon must open an inet socket)."""
    return url.strip().lower().startswith(("http://", "https://"))


def render_launchd(template: str, *, daemon_bin: Path, socket_path: Path, log_path: Path) -> bytes:
    """Fill the plist template (XML-escaped), and prove the result parses as a plist."""
    import plistlib

    rendered = (
        template.replace("@LLMOJID_BIN@", xml.sax.saxutils.escape(str(daemon_bin)))
        .replace("@SOCKET_PATH@", xml.sax.saxutils.escape(str(socket_path)))
        .replace("@LOG_PATH@", xml.sax.saxutils.escape(str(log_path)))
    )
    _no_placeholder_left(rendered)
    data = rendered.encode("utf-8")
    plistlib.loads(data)  # a template or escaping bug must not reach launchd
    return data


def _no_placeholder_left(text: str) -> None:
    import re

    left = re.search(r"@[A-Z_]+@", text)
    if left:
        raise ServiceError(f"template placeholder {left.group(0)} has no value (a bug in the template)")


# --- the managers -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """What the rendered files depend on."""

    daemon_bin: Path
    socket_override: str  # "" = the manager's default location
    tcp_backend: bool = False  # config.toml names an http(s) synthesis backend: the unit allows AF_INET/AF_INET6


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=MANAGER_TIMEOUT_SECONDS, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: command not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"{cmd[0]} did not answer in time")


def _check(cmd: Sequence[str]) -> str:
    result = _run(cmd)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ServiceError(f"`{' '.join(cmd)}` failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    return result.stdout


class Systemd:
    """The systemd user instance (``systemctl --user``)."""

    name = "systemd"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        home = Path(os.environ.get("HOME") or os.path.expanduser("~"))
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        self.unit_dir = (Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config") / "systemd" / "user"

    def files(self) -> dict[Path, bytes]:
        root = templates_root() / "systemd"
        socket_path = self.settings.socket_override or SYSTEMD_DEFAULT_SOCKET
        return {
            self.unit_dir / unit: render_systemd(
                (root / unit).read_text(encoding="utf-8"),
                daemon_bin=self.settings.daemon_bin,
                socket_path=socket_path,
                inet=self.settings.tcp_backend,
            ).encode("utf-8")
            for unit in (SOCKET_UNIT, SERVICE_UNIT)
        }

    def problem(self) -> str | None:
        if shutil.which("systemctl") is None:
            return "systemctl is not installed"
        result = _run(["systemctl", "--user", "is-system-running"])
        state = result.stdout.strip()
        if state in _SYSTEMD_UP_STATES:
            return None
        return f"no systemd user manager is running here (systemctl --user is-system-running: {state or 'no answer'})"

    def start(self) -> None:
        _check(["systemctl", "--user", "daemon-reload"])
        _check(["systemctl", "--user", "enable", "--now", SOCKET_UNIT])
        warning = self.bus_mismatch()
        if warning:
            print(f"llmojid-ctl service: warning: {warning}", file=sys.stderr)

    def bus_mismatch(self) -> str | None:
        """The daemon reaches the keyring over the manager's session bus; say so if that is not ours.

        A desktop login exports its bus to the user manager; a session started by hand (ssh + dbus-run-session)
        does not, and the daemon would then find no keyring.
        """
        ours = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        shown = _run(["systemctl", "--user", "show-environment"]).stdout.splitlines()
        theirs = next((line.split("=", 1)[1] for line in shown if line.startswith("DBUS_SESSION_BUS_ADDRESS=")), "")
        if ours and ours != theirs:
            return (
                "the user manager's D-Bus session bus is not this shell's, so the daemon may not reach your keyring; "
                "run: systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS"
            )
        return None

    def stop(self) -> None:
        # Stop the service too: a daemon serving right now must not outlive its unit files.
        _run(["systemctl", "--user", "disable", "--now", SOCKET_UNIT])
        _run(["systemctl", "--user", "stop", SERVICE_UNIT])

    def reload(self) -> None:
        _run(["systemctl", "--user", "daemon-reload"])

    def state(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for unit in (SOCKET_UNIT, SERVICE_UNIT):
            show = _run(
                ["systemctl", "--user", "show", unit, "-p", "UnitFileState", "-p", "ActiveState", "-p", "SubState"]
            )
            fields = dict(line.split("=", 1) for line in show.stdout.splitlines() if "=" in line)
            enabled = fields.get("UnitFileState") or "unknown"
            out[unit] = f"{fields.get('ActiveState', 'unknown')} ({fields.get('SubState', '?')}), {enabled}"
        return out

    def logs_command(self, lines: int, follow: bool) -> list[str]:
        cmd = ["journalctl", "--user", "-u", SERVICE_UNIT, "-u", SOCKET_UNIT, "-n", str(lines), "--no-pager"]
        return [*cmd, "-f"] if follow else cmd

    def start_hint(self) -> str:
        return (
            "On a machine with a systemd user session, run:\n"
            f"    systemctl --user daemon-reload && systemctl --user enable --now {SOCKET_UNIT}\n"
            "Here, start the daemon yourself instead (it stays up until stopped):\n"
            "    llmojid serve &"
        )


class Launchd:
    """launchd's per-user GUI domain (``launchctl bootstrap gui/UID``)."""

    name = "launchd"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        home = Path(os.environ.get("HOME") or os.path.expanduser("~"))
        self.plist_path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        self.log_path = home / "Library" / "Logs" / "llmojid" / "llmojid.log"
        self.socket_path = Path(self.settings.socket_override) if self.settings.socket_override else paths.socket_path()
        self.domain = f"gui/{os.getuid()}"

    def files(self) -> dict[Path, bytes]:
        template = (templates_root() / "launchd" / f"{LAUNCHD_LABEL}.plist").read_text(encoding="utf-8")
        data = render_launchd(
            template, daemon_bin=self.settings.daemon_bin, socket_path=self.socket_path, log_path=self.log_path
        )
        return {self.plist_path: data}

    def problem(self) -> str | None:
        if sys.platform != "darwin" or shutil.which("launchctl") is None:
            return "launchd is not available here (launchctl not found; it is macOS's service manager)"
        return None

    def start(self) -> None:
        # launchd creates the socket file but not its folder; the daemon's own checks want it 0700.
        self.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _run(["launchctl", "bootout", f"{self.domain}/{LAUNCHD_LABEL}"])  # an older copy, if loaded
        _check(["launchctl", "bootstrap", self.domain, str(self.plist_path)])
        _check(["launchctl", "enable", f"{self.domain}/{LAUNCHD_LABEL}"])

    def stop(self) -> None:
        _run(["launchctl", "bootout", f"{self.domain}/{LAUNCHD_LABEL}"])

    def reload(self) -> None:
        pass

    def state(self) -> dict[str, str]:
        result = _run(["launchctl", "print", f"{self.domain}/{LAUNCHD_LABEL}"])
        if result.returncode != 0:
            return {LAUNCHD_LABEL: "not loaded"}
        running = next((ln.split("=", 1)[1].strip() for ln in result.stdout.splitlines() if "state =" in ln), "?")
        return {LAUNCHD_LABEL: f"loaded ({running})"}

    def logs_command(self, lines: int, follow: bool) -> list[str]:
        return ["tail", "-n", str(lines), *(["-F"] if follow else []), str(self.log_path)]

    def start_hint(self) -> str:
        return (
            "Start the daemon yourself instead:\n    llmojid serve &\n"
            f"(or, on macOS: launchctl bootstrap gui/$(id -u) '{self.plist_path}')"
        )


def manager_for(name: str | None, settings: Settings) -> Systemd | Launchd:
    chosen = name or ("launchd" if sys.platform == "darwin" else "systemd")
    return Launchd(settings) if chosen == "launchd" else Systemd(settings)


# --- commands -----------------------------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = subparsers.add_parser("service", help="run the daemon under your service manager (systemd, launchd)")
    service.add_argument(
        "--manager", choices=("systemd", "launchd"), help="service manager (default: this platform's own)"
    )
    sub = service.add_subparsers(dest="service_command", required=True, metavar="SUBCOMMAND")

    install = sub.add_parser("install", help="write the unit files/plist for this installation, enable and start")
    install.add_argument("--no-start", action="store_true", help="only write the files; enable nothing")
    install.set_defaults(func=cmd_install)

    uninstall = sub.add_parser("uninstall", help="stop and remove what install wrote (the journal stays)")
    uninstall.set_defaults(func=cmd_uninstall)

    status = sub.add_parser("status", help="are the files installed and current; what the manager says")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="the daemon's log (journalctl, or the launchd log file)")
    logs.add_argument("-n", type=int, default=100, help="how many lines (default 100)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(func=cmd_logs)


def _settings(args: argparse.Namespace) -> Settings:
    loaded = config.load(config.config_file(paths.config_dir()), flags={"socket": getattr(args, "socket", None)})
    return Settings(
        daemon_bin=daemon_executable(),
        socket_override=loaded.config.socket,
        tcp_backend=is_tcp_backend(loaded.config.synthesis_backend_url),
    )


def _manager(args: argparse.Namespace) -> Systemd | Launchd:
    try:
        return manager_for(args.manager, _settings(args))
    except config.ConfigError as exc:
        raise ServiceError(str(exc)) from None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _self_started_daemon(socket_path: Path) -> bool:
    """True when a daemon answers on the socket and was not started by a service manager."""
    try:
        with Client(socket_path, timeout=5.0) as client:
            reply = client.request(p.Status())
    except (DaemonUnreachable, DaemonError, p.ProtocolError, OSError):
        return False
    return isinstance(reply, p.StatusReply) and reply.activated_by == "self"


def _guarded(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except ServiceError as exc:
            print(f"llmojid-ctl service: {exc}", file=sys.stderr)
            return EXIT_MANAGER

    return run


@_guarded
def cmd_install(args: argparse.Namespace) -> int:
    manager = _manager(args)
    files = manager.files()
    for path, data in files.items():
        _write_atomic(path, data)
        print(f"wrote {path}")
    if manager.settings.tcp_backend and isinstance(manager, Systemd):
        print("config.toml names a TCP backend (synthesis_backend_url): the unit lets the daemon open inet sockets")
    if args.no_start:
        print(f"not started (--no-start). {manager.start_hint()}")
        return EXIT_OK
    problem = manager.problem()
    if problem is not None:
        print(f"llmojid-ctl service: {problem}; the files are written but nothing was started.", file=sys.stderr)
        print(manager.start_hint(), file=sys.stderr)
        return EXIT_MANAGER
    socket_path = Path(manager.settings.socket_override) if manager.settings.socket_override else paths.socket_path()
    if _self_started_daemon(socket_path):
        raise ServiceError(
            f"a daemon started by hand is serving {socket_path}; stop it first (llmojid-ctl stop), then run "
            "`llmojid-ctl service install` again"
        )
    manager.start()
    print(f"enabled under {manager.name}: the daemon starts on the first connection to {socket_path}")
    # Prove it: this connection is the first one, so it makes the manager start the daemon.
    try:
        with Client(socket_path, timeout=VERIFY_TIMEOUT_SECONDS) as client:
            reply = client.request(p.Status())
    except (DaemonUnreachable, DaemonError, p.ProtocolError, OSError) as exc:
        print(f"llmojid-ctl service: the daemon did not answer after install: {exc}", file=sys.stderr)
        print("see `llmojid-ctl service logs` and `llmojid-ctl doctor`", file=sys.stderr)
        return EXIT_MANAGER
    assert isinstance(reply, p.StatusReply)
    print(f"the daemon answered (pid {reply.pid}, started by {reply.activated_by})")
    return EXIT_OK


@_guarded
def cmd_uninstall(args: argparse.Namespace) -> int:
    manager = _manager(args)
    present = [path for path in manager.files() if path.exists()]
    problem = manager.problem()
    if problem is None:
        manager.stop()
    for path in present:
        path.unlink()
        print(f"removed {path}")
    if problem is None:
        manager.reload()
    if not present:
        print("nothing was installed")
    print("the journal, its keys and your config are kept")
    return EXIT_OK


@_guarded
def cmd_status(args: argparse.Namespace) -> int:
    manager = _manager(args)
    files = manager.files()
    file_states = {
        str(path): ("missing" if not path.exists() else "current" if path.read_bytes() == data else "outdated")
        for path, data in files.items()
    }
    problem = manager.problem()
    units = manager.state() if problem is None else {}
    if args.json:
        report = {"manager": manager.name, "manager_problem": problem, "files": file_states, "units": units}
        sys.stdout.write(json.dumps(report, indent=None) + "\n")
    else:
        print(f"service manager: {manager.name}: {problem or 'running'}")
        for path, state in file_states.items():
            note = {
                "missing": "not installed (llmojid-ctl service install)",
                "outdated": "differs from this installation (run llmojid-ctl service install again)",
                "current": "installed, current",
            }[state]
            print(f"  {path}: {note}")
        for unit, state in units.items():
            print(f"  {unit}: {state}")
    healthy = problem is None and all(state == "current" for state in file_states.values())
    return EXIT_OK if healthy else EXIT_MANAGER


@_guarded
def cmd_logs(args: argparse.Namespace) -> int:
    if args.n < 0:
        print("llmojid-ctl service: -n must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    manager = _manager(args)
    problem = manager.problem()
    if problem is not None and manager.name == "systemd":
        print(f"llmojid-ctl service: {problem}; no journal to read. A daemon started by hand logs to its stderr.")
        return EXIT_MANAGER
    cmd = manager.logs_command(args.n, args.follow)
    try:
        return subprocess.call(cmd)
    except FileNotFoundError:
        print(f"llmojid-ctl service: {cmd[0]} is not installed", file=sys.stderr)
        return EXIT_MANAGER
    except KeyboardInterrupt:
        return EXIT_OK
