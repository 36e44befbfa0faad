"""Journal ingest throughput with durable acks, next to a plain SQLite loop doing the same synced commits.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/ingest.py'

Each client sends one row per SubmitRows request and waits for its ack (committed and fsynced). The
baseline inserts the same number of rows into a WAL database with synchronous=FULL, one commit each: what a
naive durable writer costs on this disk. The daemon's group commit lets concurrent clients share an fsync.
Also printed: the daemon's start-to-ready time and its idle RSS.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir


def row(i: int, client: int) -> p.JournalRow:
    return p.JournalRow(
        ts="2026-11-01T00:00:00Z",
        model="bench",
        harness="generic",
        session=f"s{client}",
        message_id=f"{client}-{i}",
        kaomoji="(◕‿◕)",
        assistant_text="a benchmark row " * 8,
        user_text="a prompt " * 8,
        cwd="/tmp/bench",
    )


def through_daemon(daemon: DaemonProcess, clients: int, total: int, offset: int) -> float:
    per = total // clients
    errors: list[BaseException] = []

    def work(c: int) -> None:
        try:
            with Client(daemon.socket_path) as client:
                for i in range(per):
                    client.request(p.SubmitRows(rows=[row(i, offset + c)]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per * clients / elapsed


def plain_sqlite(path: Path, total: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)")
    start = time.perf_counter()
    for i in range(total):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", (str(i), "a benchmark row " * 8, "a prompt " * 8))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return total / elapsed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows per measurement (default 2000)")
    args = parser.parse_args()
    root = short_tempdir("lj-bench-")
    try:
        daemon = DaemonProcess(root, make_env(root))
        t0 = time.perf_counter()
        daemon.start()
        ready = time.perf_counter() - t0
        time.sleep(1.0)
        assert daemon.proc is not None
        idle_rss = rss_kib(daemon.proc.pid)
        results = []
        for k, clients in enumerate((1, 8, 64)):
            base = plain_sqlite(root / f"plain-{clients}.db", args.rows)
            rate = through_daemon(daemon, clients, args.rows, offset=k * 1000)
            results.append((clients, rate, base))
        daemon.stop()
    finally:
        remove_tree(root)

    print(f"{'clients':>8} {'daemon rows/s':>14} {'plain sqlite rows/s':>20} {'ratio':>7}")
    for clients, rate, base in results:
        print(f"{clients:>8} {rate:>14.0f} {base:>20.0f} {rate / base:>7.2f}")
    print(f"\nstart-to-ready: {ready * 1000:.0f} ms   idle RSS: {idle_rss / 1024:.1f} MiB   rows per run: {args.rows}")
    print("(each daemon row is one request acked after COMMIT + fsync; plain = one synced commit per row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
