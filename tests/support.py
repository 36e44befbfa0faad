"""Running a real daemon for tests: a temporary HOME, a short runtime dir, its own keyring service name.

Everything is real: the ``llmojid`` console script in a subprocess, its Unix socket, its SQLite file, the
Secret Service of the D-Bus session the suite runs in (``scripts/test`` starts an unlocked gnome-keyring).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
LLMOJID = str(BIN / "llmojid")
LLMOJID_CTL = str(BIN / "llmojid-ctl")
START_TIMEOUT_SECONDS = 30.0


def make_env(root: Path) -> dict[str, str]:
    """An environment whose every llmojid path lies under ``root`` (and a keyring service of its own)."""
    home = root / "home"
    runtime = root / "run"
    for d in (home, runtime):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMOJID_", "XDG_", "LISTEN_"))}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        LLMOJID_KEYRING_SERVICE=f"llmojid-test-{secrets.token_hex(6)}",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class DaemonProcess:
    """One ``llmojid serve`` subprocess. ``start`` waits until it answers; ``stop`` drains it."""

    root: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    #: Start the daemon in a session of its own (as a service manager does): it then has no controlling terminal.
    new_session: bool = False
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.root / "daemon.log"

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def socket_path(self) -> Path:
        return Path(self.env.get("LLMOJID_SOCKET") or Path(self.env["XDG_RUNTIME_DIR"]) / "llmojid" / "llmojid.sock")

    @property
    def state_dir(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"]) / "llmojid"

    def start(self, *, wait: bool = True) -> DaemonProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [LLMOJID, "serve", *self.extra_args],
            env=self.env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=self.new_session,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            if self.answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not become ready:\n{self.log()}")

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(str(self.socket_path))
            return self.ctl("status", check=False).returncode == 0
        except OSError:
            return False

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"daemon did not stop on SIGTERM:\n{self.log()}") from None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ctl(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([LLMOJID_CTL, *args], env=self.env, input=input, capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"llmojid-ctl {' '.join(args)} exited {result.returncode}:\n{result.stderr.decode(errors='replace')}"
            )
        return result

    def ctl_json(self, *args: str) -> Any:
        return json.loads(self.ctl(*args).stdout)

    def ctl_json_lines(self, *args: str) -> list[Any]:
        return [json.loads(line) for line in self.ctl(*args).stdout.splitlines() if line.strip()]


def store_id(env: dict[str, str]) -> str | None:
    """The random id of the store under ``env`` (its keyring entries are named ``<id>/<entry>``), read-only.

    None for a store made before stores had ids (its entries have bare names).
    """
    database = Path(env["XDG_STATE_HOME"]) / "llmojid" / "llmojid.db"
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'store-id'").fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


def store_entry(env: dict[str, str], entry: str) -> str:
    """The keyring name of the store's ``entry`` (``active-key``, ``data-key:<id>``, ...)."""
    found = store_id(env)
    return entry if found is None else f"{found}/{entry}"


def short_tempdir(prefix: str = "lj-") -> Path:
    """A directory under /tmp with a short path (sockets must fit in sun_path)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def scan_for(root: Path, needles: list[bytes]) -> list[str]:
    """Every (file, needle) where a needle's bytes occur in a file under root. Follows no symlinks."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}: {needle!r}" for needle in needles if needle in data]
    return hits


def socket_inodes(pid: int) -> set[str]:
    """The inodes of every socket the process holds (from /proc/PID/fd)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def inet_inodes(pid: int) -> set[str]:
    """The inodes of every TCP, UDP and raw socket in the process's network namespace."""
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                found.add(line.split()[9])
    return found
