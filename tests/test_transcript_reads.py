"""Transcript reads cannot starve the store or act on devices (issue 15, item 6).

A hook payload names a file and the daemon reads it. The file may be anything: a FIFO, a terminal, a sparse
terabyte, a path on a hung mount. Reads run on threads of their own (never the writer's or the readers'), a
hook event reads at most a budget of bytes, and nothing but a regular file is ever opened for reading. All real:
the daemon, its socket, the store, FIFOs and a pseudo-terminal of the kernel.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.daemon.adapters.ingest import EVENT_READ_BUDGET_BYTES
from tests.hook_support import journal_rows, start
from tests.support import DaemonProcess

#: How long an ack from a client that only writes may take while the transcript reads are busy. The writer is
#: idle otherwise, so this is slack for a loaded machine, not an expected time.
WRITE_ACK_SECONDS = 20.0


def stop_event(path: Path | str, session: str = "s1") -> p.HookEvent:
    payload = {"hook_event_name": "Stop", "session_id": session, "transcript_path": str(path)}
    return p.HookEvent(harness="claude-code", payload=json.dumps(payload).encode())


def row(n: int) -> p.JournalRow:
    return p.JournalRow(
        ts="2026-11-01T10:00:00Z", model="m", harness="generic", session="w", message_id=f"w{n}",
        kaomoji="(・ω・)", user_text="u", assistant_text=f"(・ω・) reply {n}",
    )  # fmt: skip


def write_rows_meanwhile(proc: DaemonProcess, count: int) -> list[float]:
    """Submit ``count`` rows one by one from a client of its own; the seconds each ack took."""
    took = []
    with Client(proc.socket_path, timeout=WRITE_ACK_SECONDS) as client:
        for n in range(count):
            began = time.monotonic()
            reply = client.request(p.SubmitRows(rows=[row(n)]))
            took.append(time.monotonic() - began)
            assert isinstance(reply, p.HookAck) and reply.rows_added == 1
    return took


def send_events(proc: DaemonProcess, events: list[p.HookEvent], timeout: float) -> list[object]:
    def one(event: p.HookEvent) -> object:
        with Client(proc.socket_path, timeout=timeout) as client:
            return client.request(event)

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(one, events))


def test_a_fifo_is_never_opened_and_forty_events_naming_one_leave_writers_alone(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    proc = start(DaemonProcess(workdir, daemon_env))
    try:
        fifo = workdir / "transcript.jsonl"
        os.mkfifo(fifo, 0o600)
        writer_woke = threading.Event()

        def writer() -> None:  # blocks in open() until someone opens the FIFO for reading
            fd = os.open(fifo, os.O_WRONLY)
            writer_woke.set()
            os.close(fd)

        threading.Thread(target=writer, daemon=True).start()
        time.sleep(0.2)
        acks: list[object] = []
        events = [stop_event(fifo, f"s{i}") for i in range(40)]
        sender = threading.Thread(target=lambda: acks.extend(send_events(proc, events, 60.0)), daemon=True)
        sender.start()
        took = write_rows_meanwhile(proc, 5)  # while the 40 events are in flight
        sender.join(60)
        assert max(took) < WRITE_ACK_SECONDS
        assert len(acks) == 40 and all(isinstance(a, p.HookAck) and a.rows_added == 0 for a in acks)
        # Opening a FIFO for reading wakes its writer: the daemon must not have opened it at all.
        assert not writer_woke.wait(1.0), "the daemon opened the FIFO"
        assert len(journal_rows(proc)) == 5
    finally:
        with open(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK), "rb"):  # release our own writer thread
            pass
        assert proc.stop() == 0


def _controlling_tty(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[4])  # field 7, tty_nr (after the parenthesised command name)


def test_a_terminal_named_as_transcript_is_refused_and_never_opened(workdir: Path, daemon_env: dict[str, str]) -> None:
    """A daemon in a session of its own (as under systemd) has no controlling terminal; opening a terminal without
    O_NOCTTY would make it one (and then its hangup signals the daemon). The device must not even be opened."""
    proc = start(DaemonProcess(workdir, daemon_env, new_session=True))
    master, slave = os.openpty()
    try:
        assert proc.proc is not None and _controlling_tty(proc.proc.pid) == 0
        ack = send_events(proc, [stop_event(os.ttyname(slave))], timeout=30.0)[0]
        assert isinstance(ack, p.HookAck) and ack.rows_added == 0
        assert _controlling_tty(proc.proc.pid) == 0, "the daemon opened the terminal and it became its own"
        health = proc.ctl_json("stats", "--json")
        assert "claude-code" in json.dumps(health)  # the refused event was counted, not dropped silently
    finally:
        os.close(master)
        os.close(slave)
        assert proc.stop() == 0


def test_forty_sparse_terabyte_transcripts_leave_the_writer_free_and_each_event_bounded(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    """With trio's shared thread pool, 40 events reading terabytes of zeros held every worker thread, and a
    client that only submits rows got no ack. Now the reads have four threads of their own and a budget each."""
    proc = start(DaemonProcess(workdir, daemon_env))
    try:
        files = []
        for i in range(40):
            path = workdir / f"huge-{i}.jsonl"
            with open(path, "wb") as fh:
                fh.truncate(1 << 40)  # 1 TiB, no newline: one endless "line"
            files.append(path)
        acks: list[object] = []
        events = [stop_event(f, f"s{i}") for i, f in enumerate(files)]
        sender = threading.Thread(target=lambda: acks.extend(send_events(proc, events, 600.0)), daemon=True)
        sender.start()
        time.sleep(1.0)  # the reads are under way
        took = write_rows_meanwhile(proc, 5)  # raises TimeoutError when the writer is starved
        assert max(took) < WRITE_ACK_SECONDS, took
        sender.join(600)
        assert len(acks) == 40 and all(isinstance(a, p.HookAck) for a in acks)
        # Each event consumed its budget and stopped there; the sparse files were never read to their end.
        assert EVENT_READ_BUDGET_BYTES < 1 << 30
        assert "read budget" in proc.log()
        assert len(journal_rows(proc)) == 5
    finally:
        assert proc.stop(timeout=60) == 0
