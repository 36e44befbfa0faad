"""Soak and load: many hook clients, a keystroke stream and an analyze job against one daemon, for a bounded time.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/soak.py --seconds 180 --hook-clients 100'

Hook clients speak exactly the frames the hook writes (``client.hook.hook_frames``: stdlib msgpack, the harness
payload as-is, here the generic harness's one-message JSON); the keystroke stream sends ``Keystrokes`` batches as
``wrap`` does, at typing speed; the analyze client runs ``analyze`` (the real local model) over and over.
Reported: requests served, p50/p99 latency per request type, errors (must be 0), lost rows (acked but not stored,
must be 0), the daemon's RSS over time and its open file descriptors when idle again vs. before the load.
Unix socket only; bounded by --seconds and by count.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.client import minipack
from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.client.hook import hook_frames
from tests.support import DaemonProcess, inet_inodes, make_env, remove_tree, short_tempdir, socket_inodes


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.acked_ids: set[str] = set()

    def ok(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


def hook_once(path: Path, payload: bytes) -> bool:
    """One hook call as the hook makes it: Hello + HookEvent, wait for the ack."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(hook_frames("generic", payload))
        data = b""
        replies: list[dict[str, object]] = []
        while len(replies) < 2:
            chunk = s.recv(65536)
            if not chunk:
                return False
            data += chunk
            while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "big"):
                n = int.from_bytes(data[:4], "big")
                replies.append(minipack.decode(data[4 : 4 + n]))  # type: ignore[arg-type]
                data = data[4 + n :]
        return replies[1].get("type") == "HookAck"


def hook_client(idx: int, path: Path, stop: float, rec: Recorder) -> None:
    n = 0
    while time.monotonic() < stop:
        message_ts = f"2026-11-01T{idx % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
        marker = f"soak-{idx}-{n}"
        payload = json.dumps(
            {
                "model": "soak-model",
                "cwd": "/tmp/soak",
                "user_text": "go",
                "assistant_text": f"(◕‿◕) row {marker}",
                "ts": message_ts,
            }
        ).encode()
        t0 = time.perf_counter()
        try:
            if hook_once(path, payload):
                rec.ok("HookEvent", time.perf_counter() - t0)
                with rec.lock:
                    rec.acked_ids.add(marker)
            else:
                rec.error("HookEvent")
        except OSError:
            rec.error("HookEvent")
        n += 1
        time.sleep(0.05)


def keystroke_client(path: Path, stop: float, rec: Recorder) -> None:
    with Client(path) as client:
        clock = 0.0
        while time.monotonic() < stop:
            events = []
            for i in range(40):
                clock += 120.0 + (i % 7) * 15
                events.append(p.KeyEvent(clock, None, int(p.KeyClass.ENTER if i == 39 else p.KeyClass.CHAR)))
            t0 = time.perf_counter()
            try:
                client.request(p.Keystrokes(source="soak", events=events))
                rec.ok("Keystrokes", time.perf_counter() - t0)
            except Exception:
                rec.error("Keystrokes")
            time.sleep(1.0)


def analyze_client(path: Path, stop: float, rec: Recorder) -> None:
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            with Client(path, timeout=600) as client:
                client.request(p.Request(name="analyze", args={}))
            rec.ok("analyze", time.perf_counter() - t0)
        except Exception:
            rec.error("analyze")
        time.sleep(2.0)


def status_client(path: Path, stop: float, rec: Recorder) -> None:
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            with Client(path) as client:
                client.request(p.Status())
            rec.ok("Status", time.perf_counter() - t0)
        except Exception:
            rec.error("Status")
        time.sleep(0.5)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fd_kinds(pid: int) -> dict[str, int]:
    """Open descriptors by kind: sockets (connections must all be gone when idle) and everything else."""
    kinds: dict[str, int] = defaultdict(int)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kinds["socket" if target.startswith("socket:") else "pipe" if target.startswith("pipe:") else "file"] += 1
    return dict(kinds)


def stored_markers(path: Path) -> set[str]:
    found: set[str] = set()
    before = 0
    with Client(path) as client:
        while True:
            reply = client.request(p.QueryJournal(limit=p.MAX_ROWS_PER_REQUEST, before_row_id=before))
            assert isinstance(reply, p.Rows)
            if not reply.rows:
                return found
            for row in reply.rows:
                found.add(row.assistant_text.rsplit(" ", 1)[-1])
            before = min(r.row_id for r in reply.rows)


def main() -> int:
    parser = argparse.ArgumentParser(description="soak the daemon")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--hook-clients", type=int, default=100)
    parser.add_argument("--no-analyze", action="store_true", help="leave the model out (faster)")
    args = parser.parse_args()

    root = short_tempdir("lj-soak-")
    rec = Recorder()
    samples: list[tuple[float, float]] = []
    try:
        daemon = DaemonProcess(root, make_env(root)).start()
        assert daemon.proc is not None
        pid = daemon.proc.pid
        with Client(daemon.socket_path) as client:  # a few faces for analyze to work on
            client.request(
                p.SubmitRows(
                    rows=[
                        p.JournalRow(
                            ts="2026-11-01T00:00:00Z",
                            model="soak-model",
                            harness="generic",
                            session="seed",
                            message_id=f"s{i}",
                            kaomoji=face,
                            assistant_text=text,
                            user_text="how is it going?",
                        )
                        for i, (face, text) in enumerate(
                            [
                                ("(◕‿◕)", "All tests pass, lovely."),
                                ("(╯°□°)╯", "The build broke again!"),
                                ("(・_・;)", "I am not sure this is right."),
                            ]
                        )
                    ]
                )
            )
        time.sleep(1.0)
        fds_before = fd_kinds(pid)
        start = time.monotonic()
        stop = start + args.seconds
        threads = [
            threading.Thread(target=hook_client, args=(i, daemon.socket_path, stop, rec), daemon=True)
            for i in range(args.hook_clients)
        ]
        threads.append(threading.Thread(target=keystroke_client, args=(daemon.socket_path, stop, rec), daemon=True))
        threads.append(threading.Thread(target=status_client, args=(daemon.socket_path, stop, rec), daemon=True))
        if not args.no_analyze:
            threads.append(threading.Thread(target=analyze_client, args=(daemon.socket_path, stop, rec), daemon=True))
        for t in threads:
            t.start()
        inet_seen = 0
        while time.monotonic() < stop:
            samples.append((time.monotonic() - start, rss_mib(pid)))
            inet_seen += len(socket_inodes(pid) & inet_inodes(pid))
            time.sleep(min(5.0, max(0.5, args.seconds / 20)))
        for t in threads:
            t.join(timeout=700)
        time.sleep(2.0)
        fds_after = fd_kinds(pid)
        stored = stored_markers(daemon.socket_path)
        lost = len(rec.acked_ids - stored)
        samples.append((time.monotonic() - start, rss_mib(pid)))
        daemon.stop()
    finally:
        remove_tree(root)

    print(f"{'request':<12} {'served':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for kind in sorted(set(rec.latency) | set(rec.errors)):
        lat = sorted(rec.latency[kind]) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"{kind:<12} {len(rec.latency[kind]):>8} {statistics.median(lat) * 1000:>8.1f} {p99 * 1000:>8.1f} "
            f"{rec.errors[kind]:>7}"
        )
    print(f"\nacked hook rows {len(rec.acked_ids)}, lost {lost}; inet sockets seen in the daemon: {inet_seen}")
    print(f"open fds idle before {fds_before}, idle after {fds_after} (the model and encoder keep their files open)")
    print("RSS over time (s: MiB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in samples))
    errors = sum(rec.errors.values())
    sockets_back = fds_after.get("socket", 0) <= fds_before.get("socket", 0)
    return 0 if errors == 0 and lost == 0 and inet_seen == 0 and sockets_back else 1


if __name__ == "__main__":
    raise SystemExit(main())
