"""The wall clock jumping backwards and forwards under a running daemon and under the hooks.

The step is real for the process: ``tests/clockshift.c`` (built here with the system C compiler, loaded with
LD_PRELOAD) moves what CLOCK_REALTIME, gettimeofday and time() return, and leaves the monotonic and boot clocks
alone, as ``date -s`` or an NTP step does. The defined outcomes:

* the daemon keeps serving: every acked row is stored once and the journal keeps arrival order;
* durations ride monotonic clocks: no rate-limit refusal after a backward step, uptime is not a year long;
* retention, the one thing the wall clock can make destroy data, waits while the clock disagrees with boot time,
  and works again once it agrees;
* the hook's spool keeps call order when the clock steps back between calls (the daemon drains by name).
"""

from __future__ import annotations

import json
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmojid.client import hook
from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.common import spool_format
from llmojid.daemon.clock import MAX_STEP_SECONDS, WallClockWatch
from tests.hook_support import journal_rows, run_hook, spool_files, start, wait_spool_drained
from tests.support import DaemonProcess

SHIM_SOURCE = Path(__file__).with_name("clockshift.c")
DAY = 86_400.0
RETAIN_DAYS = 30


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clockshift shim, compiled for this run (scripts/setup installs gcc)."""
    out = tmp_path_factory.mktemp("clockshift") / "clockshift.so"
    try:
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM_SOURCE), "-ldl"], check=True)
    except FileNotFoundError:
        pytest.fail("these tests need a C compiler (cc) for tests/clockshift.c: scripts/setup installs gcc")
    return out


class WallClock:
    """The offset file the shim maps: ``step_to(seconds)`` moves the wall clock of every process using it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_bytes(struct.pack("=q", 0))

    def step_to(self, seconds: float) -> None:
        # Rewritten in place: a truncated file under a live mapping would be a SIGBUS in every process using it.
        with open(self.path, "r+b") as f:
            f.write(struct.pack("=q", int(seconds * 1e9)))

    def env(self, shim: Path) -> dict[str, str]:
        return {"LD_PRELOAD": str(shim), "CLOCKSHIFT_FILE": str(self.path)}


@pytest.fixture
def clock(workdir: Path) -> WallClock:
    return WallClock(workdir / "clock-offset")


@pytest.fixture
def shifted_daemon(workdir: Path, daemon_env: dict[str, str], shim: Path, clock: WallClock) -> Iterator[DaemonProcess]:
    env = {**daemon_env, **clock.env(shim), "LLMOJID_RETAIN_TEXT_DAYS": str(RETAIN_DAYS)}
    proc = start(DaemonProcess(workdir, env))
    try:
        yield proc
    finally:
        clock.step_to(0.0)
        assert proc.stop() == 0, proc.log()


def test_watch_tells_a_step_from_time_passing() -> None:
    readings = iter([1000.0, 1000.2, 1000.0 + MAX_STEP_SECONDS + 1, 1000.0 - 400 * DAY, 1003.0])
    watch = WallClockWatch(read=lambda: next(readings))
    assert not watch.stepped()  # drift of 0.2 s: NTP slewing, not a step
    assert watch.stepped() and watch.stepped()  # forwards, then backwards
    assert watch.step_seconds() == 3.0


def test_spool_names_never_sort_before_a_waiting_file() -> None:
    waiting = [hook.spool_name(5_000), f"{spool_format.SPOOL_TMP_PREFIX}{hook.spool_name(7_000)}", "stray", "x-y.spool"]
    assert hook.next_spool_ns(9_000, waiting) == 9_000
    assert hook.next_spool_ns(1_000, waiting) == 7_001  # the clock went back: still after the newest
    assert hook.next_spool_ns(1_000, []) == 1_000


def _row(n: int, ts: str, tag: str = "CLK") -> p.JournalRow:
    return p.JournalRow(
        ts=ts,
        model="m",
        harness="generic",
        session="s-clock",
        message_id=f"{tag}-{n}",
        kaomoji="(◕‿◕)",
        user_text=f"prompt {n} {tag}",
        assistant_text=f"(◕‿◕) reply {n} {tag}",
        cwd="/w",
    )


def _daemon_now(proc: DaemonProcess) -> datetime:
    """The daemon's own wall clock, as it reports it in ``stats``."""
    now = json.loads(proc.ctl("stats", "--json").stdout)["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


def _expire(proc: DaemonProcess) -> tuple[int, dict[str, object]]:
    result = proc.ctl("forget", "--expired", "--yes", "--json", check=False)
    return result.returncode, json.loads(result.stdout)


def test_daemon_keeps_serving_and_loses_nothing_while_the_wall_clock_jumps(
    shifted_daemon: DaemonProcess, clock: WallClock
) -> None:
    proc = shifted_daemon
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with Client(proc.socket_path) as client:  # one row past retention, to show retention still works after
        first = client.request(p.SubmitRows(rows=[_row(0, "2020-01-01T00:00:00Z", "OLD")]))
    assert isinstance(first, p.HookAck) and first.rows_added == 1

    clock.step_to(400 * DAY)
    assert abs((_daemon_now(proc) - datetime.now(UTC)).total_seconds() - 400 * DAY) < 300, "the step is in force"

    acked: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with Client(proc.socket_path) as c:
            n = 0
            while not stop.is_set():
                n += 1
                reply = c.request(p.SubmitRows(rows=[_row(n, today)]))
                if isinstance(reply, p.HookAck) and reply.rows_added == 1:
                    acked.append(n)
                else:
                    errors.append(repr(reply))

    writer = threading.Thread(target=write)
    writer.start()
    started = time.monotonic()
    try:
        for offset in (400 * DAY, -400 * DAY, -DAY, 3600.0, 30 * DAY, -7 * DAY, 0.0, 400 * DAY):
            clock.step_to(offset)
            time.sleep(0.4)
            with Client(proc.socket_path) as c:  # status answers, and its uptime rides the monotonic clock
                status = c.request(p.Status())
            assert isinstance(status, p.StatusReply)
            assert status.uptime_seconds < time.monotonic() - started + 120, status.uptime_seconds
    finally:
        stop.set()
        writer.join(30)
    assert not errors and len(acked) > 20, (errors[:3], len(acked))

    # Every acked row is there once, in arrival order, whatever the clock said when it came in.
    rows = [r for r in journal_rows(proc) if r.assistant_text.endswith(" CLK")]
    assert [int(r.assistant_text.split()[2]) for r in rows] == acked

    # The clock is 400 days ahead: retention would drop every text, so it waits and says why.
    code, value = _expire(proc)
    assert code == 1 and value["dropped"] == 0 and "stepped" in str(value["skipped"]), value
    assert "retention skipped: the wall clock moved" in proc.log()
    assert all(r.assistant_text.endswith(" CLK") for r in journal_rows(proc) if r.ts == today)

    # Back in step with the boot clock, retention runs again: only the row from 2020 loses its text.
    clock.step_to(0.0)
    code, value = _expire(proc)
    assert code == 0 and value == {"days": RETAIN_DAYS, "dropped": 1, "skipped": None}, value
    after = journal_rows(proc)
    old = [r for r in after if r.ts == "2020-01-01T00:00:00Z"]
    assert len(old) == 1 and old[0].assistant_text == "" and old[0].kaomoji == "(◕‿◕)"
    assert sum(1 for r in after if r.assistant_text.endswith(" CLK")) == len(acked)


def test_spooled_hook_calls_keep_their_order_when_the_clock_steps_back(
    workdir: Path, daemon_env: dict[str, str], shim: Path, clock: WallClock
) -> None:
    proc = start(DaemonProcess(workdir, daemon_env))  # publishes the spool key the hooks seal to
    assert proc.stop() == 0
    hook_env = {**daemon_env, **clock.env(shim)}
    for n, offset in enumerate((0.0, -DAY, -2 * DAY, -2 * DAY - 60.0)):
        clock.step_to(offset)
        message = {"model": "m", "cwd": "/w", "user_text": f"q{n}", "assistant_text": f"(◕‿◕) step {n}"}
        assert (
            run_hook(hook_env, "generic", json.dumps({**message, "message_id": f"step-{n}"}).encode()).returncode == 0
        )
    assert len(spool_files(proc)) == 4, "the daemon was away: every call spooled"
    start(proc)
    try:
        wait_spool_drained(proc)
        assert [r.assistant_text for r in journal_rows(proc, "generic")] == [f"step {n}" for n in range(4)]
    finally:
        assert proc.stop() == 0, proc.log()
