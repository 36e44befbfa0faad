"""Helpers for the hook, adapter and spool tests: run the real hook scripts against a real daemon, read the journal.

The daemon is ``tests.support.DaemonProcess``; readiness is judged with a ``Status`` request over the socket
(the protocol's own client), so these tests depend on the daemon and the hook, not on other CLI commands.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.support import LLMOJID_CTL, START_TIMEOUT_SECONDS, DaemonProcess

#: The modules of ours a hook may import, every one standard-library only (the hook path must stay cheap).
HOOK_PATH_MODULES = frozenset(
    {
        "llmojid",
        "llmojid.client",
        "llmojid.client.entry",
        "llmojid.client.hook",
        "llmojid.client.minipack",
        "llmojid.client.paths",
        "llmojid.client.handoff",
        "llmojid.common",
        "llmojid.common.socket_trust",
        "llmojid.common.spool_format",
    }
)
_SITE_MACHINERY = ("__editable__", "_distutils_hack", "sitecustomize", "usercustomize", "_virtualenv")


def imported_modules(importtime_stderr: bytes) -> tuple[set[str], set[str]]:
    """From ``python -X importtime`` output: (modules of ours, modules neither ours nor the standard library's)."""
    modules = {
        line.split("|")[-1].strip()
        for line in importtime_stderr.decode().splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    ours = {m for m in modules if m.split(".")[0] == "llmojid"}
    foreign = {
        m
        for m in modules - ours
        if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith(_SITE_MACHINERY)
    }
    return ours, foreign


HOOKS = Path(__file__).resolve().parent.parent / "hooks"


def start(proc: DaemonProcess) -> DaemonProcess:
    proc.start(wait=False)
    wait_answering(proc)
    return proc


def wait_answering(proc: DaemonProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert proc.proc is not None
        if proc.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.proc.returncode}:\n{proc.log()}")
        try:
            with Client(proc.socket_path, timeout=5.0) as client:
                client.request(p.Status())
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"daemon did not become ready:\n{proc.log()}")


def run_hook(
    env: dict[str, str], harness: str, payload: bytes, *, timeout_ms: int | None = 10_000
) -> subprocess.CompletedProcess[bytes]:
    """Run ``hooks/<harness>`` the way a harness does: payload on stdin, our ``llmojid-ctl`` found by the script."""
    run_env = dict(env, LLMOJID_CTL=LLMOJID_CTL)
    if timeout_ms is not None:
        run_env["LLMOJID_HOOK_TIMEOUT_MS"] = str(timeout_ms)
    script = HOOKS / harness
    # A harness without a script of ours is run as an installer would write it: the ctl command itself.
    command = ["/bin/sh", str(script)] if script.exists() else [LLMOJID_CTL, "hook", harness]
    return subprocess.run(command, input=payload, env=run_env, capture_output=True, timeout=120)


def journal_rows(proc: DaemonProcess, harness: str = "") -> list[p.JournalRow]:
    """Every journal row, oldest first."""
    rows: list[p.JournalRow] = []
    before = 0
    with Client(proc.socket_path) as client:
        while True:
            reply = client.request(p.QueryJournal(limit=p.MAX_ROWS_PER_REQUEST, before_row_id=before, harness=harness))
            assert isinstance(reply, p.Rows)
            if not reply.rows:
                return rows[::-1]
            rows += reply.rows
            before = reply.rows[-1].row_id


def spool_files(proc: DaemonProcess) -> list[Path]:
    spool = proc.state_dir / "spool"
    return sorted(spool.iterdir()) if spool.exists() else []


def wait_spool_drained(proc: DaemonProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while spool_files(proc):
        if time.monotonic() > deadline:
            raise AssertionError(f"spool not drained: {len(spool_files(proc))} files left\n{proc.log()}")
        time.sleep(0.05)


@pytest.fixture
def live_daemon(workdir: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    """A started daemon (stopped, and its clean exit checked, after the test)."""
    proc = start(DaemonProcess(workdir, daemon_env))
    yield proc
    code = proc.stop()
    assert code == 0, f"daemon exited {code}:\n{proc.log()}"
