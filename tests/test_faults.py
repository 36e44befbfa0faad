"""Fault injection on a real daemon: a full disk, a file-size limit, the clock jumping.

Nothing acked may be lost; the client gets a clear, typed error; the daemon recovers when space returns.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from tests.support import DaemonProcess, make_env
from tests.test_daemon import rows_with

BIG_TEXT = "x" * 20_000  # fills a small disk in a few dozen rows


def fill_until_full(daemon: DaemonProcess, limit: int = 2000) -> tuple[int, DaemonError]:
    acked = 0
    with Client(daemon.socket_path) as client:
        for i in range(limit):
            row = rows_with("full", 1, start=i)[0]
            row.assistant_text = BIG_TEXT + str(i)
            try:
                client.request(p.SubmitRows(rows=[row]))
            except DaemonError as exc:
                return acked, exc
            acked += 1
    raise AssertionError("the disk never filled")


def count_rows(daemon: DaemonProcess) -> int:
    return int(daemon.ctl_json("status", "--json")["row_counts"]["journal"])


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights); the RLIMIT_FSIZE case covers it")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_is_a_clear_error_and_recovers(workdir: Path) -> None:
    env = make_env(workdir)
    state_home = Path(env["XDG_STATE_HOME"])
    with small_tmpfs(state_home, "1m"):
        daemon = DaemonProcess(workdir, env).start()
        try:
            acked, error = fill_until_full(daemon)
            assert error.code == p.ErrorCode.STORAGE_FULL and "disk is full" in error.message
            assert acked > 0
            assert daemon.answers(), "the daemon keeps serving on a full disk"
            subprocess.run(["mount", "-o", "remount,size=16m", str(state_home)], check=True)
            with Client(daemon.socket_path) as client:
                reply = client.request(p.SubmitRows(rows=rows_with("after", 1, start=99_999)))
            assert isinstance(reply, p.HookAck) and reply.rows_added == 1
            assert count_rows(daemon) == acked + 1
            assert daemon.stop() == 0
            daemon.start()
            assert count_rows(daemon) == acked + 1, "every acked row survives a restart"
        finally:
            daemon.stop()


def test_file_size_limit_is_a_clear_error_and_recovers(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    db = daemon.state_dir / "llmojid.db"
    wal = Path(f"{db}-wal")
    limit = max(db.stat().st_size, wal.stat().st_size if wal.exists() else 0) + 200_000
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # soft limit only
    acked, error = fill_until_full(daemon)
    assert error.code == p.ErrorCode.STORAGE_FULL
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    with Client(daemon.socket_path) as client:
        reply = client.request(p.SubmitRows(rows=rows_with("after", 1, start=99_999)))
    assert isinstance(reply, p.HookAck) and reply.rows_added == 1
    assert count_rows(daemon) == acked + 1
    daemon.kill9()
    daemon.start()
    assert count_rows(daemon) == acked + 1
