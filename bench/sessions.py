"""How long the session diary (``journal.sessions``) and the report's numbers (``report.data``, which include the
newest diary lines) take on journals of growing size, through a real daemon.

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
                               .venv/bin/python bench/sessions.py'

The diary opens two sealed values per journal row (session id and prompt) and links each row to the typing
windows, so it grows with the journal; each size gets a fresh daemon, rows spread over a year in sessions of
about eight messages, and the median of a few calls per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FACES = ("(◕‿◕)", "ʕ•ᴥ•ʔ", "(╯°□°)╯", "\\(^o^)/")


def rows(n: int) -> list[p.JournalRow]:
    step = 365 * 86_400 / n
    return [
        p.JournalRow(
            ts=(START + timedelta(seconds=i * step)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            model="bench-model",
            harness="claude-code",
            session=f"session-{i // 8}",
            message_id=str(i),
            kaomoji=FACES[i % len(FACES)],
            assistant_text="a benchmark reply " * 8,
            user_text=f"prompt {i // 2} " * 8,
            cwd="/tmp/bench",
        )
        for i in range(n)
    ]


def timed(client: Client, name: str, calls: int) -> float:
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        reply = client.request(p.Request(name=name, args={}))
        seconds.append(time.perf_counter() - start)
        assert isinstance(reply, p.Result)
    return statistics.median(seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="journal rows, comma-separated")
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    print(f"{'journal rows':>12} {'sessions':>9} {'journal.sessions ms':>20} {'report.data ms':>15}")
    for n in (int(x) for x in args.sizes.split(",")):
        root = short_tempdir()
        daemon = DaemonProcess(root, make_env(root)).start()
        try:
            batch = rows(n)
            with Client(daemon.socket_path, timeout=600) as client:
                for i in range(0, n, p.MAX_ROWS_PER_REQUEST):
                    client.request(p.SubmitRows(rows=batch[i : i + p.MAX_ROWS_PER_REQUEST]))
                diary = client.request(p.Request(name="journal.sessions", args={}))
                assert isinstance(diary, p.Result) and isinstance(diary.value, dict)
                sessions_ms = timed(client, "journal.sessions", args.calls)
                report_ms = timed(client, "report.data", args.calls)
            print(f"{n:>12,} {diary.value['total']:>9,} {sessions_ms:>20.0f} {report_ms:>15.0f}")
        finally:
            daemon.stop()
            remove_tree(root)


if __name__ == "__main__":
    main()
