"""Journal times are stored in one form (UTC, ``...Z``), so ``forget --before`` and retention cut by time.

``ts`` from ``SubmitRows`` and from generic hook payloads used to be stored as sent: a ``+05:00`` offset compares
as a string and escaped forgetting. Now it is normalised where rows enter the journal, an unreadable time is
refused (the whole request; a generic message is skipped), and times stored before are rewritten at the next
start in committed batches, which a kill mid-way leaves half done and the next start finishes.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from llmojid.daemon.timestamps import BadTimestampError, normalise_ts
from tests.hook_support import journal_rows, run_hook, start
from tests.support import DaemonProcess
from tests.test_audit_helpers import db, rows, submit

#: Store.open with batches of 3 rows, killed (SIGKILL) while writing the second batch's progress.
DYING_NORMALISE = """
import os, signal, sys
from pathlib import Path
from llmojid.daemon import timestamps
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.store import Store
timestamps.BATCH = 3
original, calls = timestamps._set_progress, [0]
def set_progress(conn, value):
    calls[0] += 1
    if calls[0] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    original(conn, value)
timestamps._set_progress = set_progress
Store.open(Path(sys.argv[1]), KeyManager.open())
"""


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-11-05T03:00:00+05:00", "2026-11-04T22:00:00Z"),
        ("2026-11-05T10:30:00.250-02:00", "2026-11-05T12:30:00.250000Z"),
        ("2026-11-05 10:30:00", "2026-11-05T10:30:00Z"),  # no zone: UTC, as forget --before reads it
        ("2026-11-05", "2026-11-05T00:00:00Z"),
        ("2026-11-05T10:30:00.123Z", "2026-11-05T10:30:00.123Z"),  # already in the form: kept as written
        ("2026-11-05T10:30:00+00:00", "2026-11-05T10:30:00Z"),
    ],
)
def test_times_are_normalised_to_utc(sent: str, stored: str) -> None:
    assert normalise_ts(sent) == stored


@pytest.mark.parametrize("sent", ["yesterday", "", "2026-13-01T00:00:00Z", "1730800000", "2026-11-05T25:00:00Z"])
def test_unreadable_times_are_refused_without_echoing_them(sent: str) -> None:
    with pytest.raises(BadTimestampError) as caught:
        normalise_ts(sent)
    assert not sent or sent not in str(caught.value)


def _at(batch: list[p.JournalRow], *times: str) -> list[p.JournalRow]:
    return [msgspec.structs.replace(r, ts=t) for r, t in zip(batch, times, strict=True)]


def test_an_offset_time_is_stored_in_utc_and_forgotten_by_time(daemon: DaemonProcess) -> None:
    # 03:00 at +05:00 is 22:00 UTC the day before: it is before 2026-11-05, whatever its text says.
    sent = _at(rows("TZ", 3), "2026-11-05T03:00:00+05:00", "2026-11-04T23:30:00-01:00", "2026-11-05T12:00:00Z")
    assert submit(daemon, sent) == 3
    assert sorted(r.ts for r in journal_rows(daemon)) == [
        "2026-11-04T22:00:00Z",
        "2026-11-05T00:30:00Z",
        "2026-11-05T12:00:00Z",
    ]
    gone = daemon.ctl_json("forget", "--before", "2026-11-05", "--yes", "--json")
    assert gone["deleted"]["journal"] == 1
    assert sorted(r.ts for r in journal_rows(daemon)) == ["2026-11-05T00:30:00Z", "2026-11-05T12:00:00Z"]


def test_submit_rows_with_an_unreadable_time_is_refused_whole(daemon: DaemonProcess) -> None:
    sent = _at(rows("BADTS", 3), "2026-11-05T10:00:00Z", "last tuesday BADTS", "2026-11-05T10:00:02Z")
    with Client(daemon.socket_path) as client, pytest.raises(DaemonError) as refused:
        client.request(p.SubmitRows(rows=sent))
    assert refused.value.code == p.ErrorCode.INVALID_ARGUMENT
    assert "row 1" in str(refused.value) and "ISO-8601" in str(refused.value)
    assert "tuesday" not in str(refused.value)
    assert journal_rows(daemon) == []  # nothing stored, not even the good rows


def test_a_generic_message_with_an_unreadable_time_is_skipped(daemon: DaemonProcess) -> None:
    message = {"model": "m", "cwd": "/c", "user_text": "u", "message_id": "g1"}
    payload = "\n".join(
        json.dumps(message | extra)
        for extra in (
            {"assistant_text": "(◕‿◕) offset", "ts": "2026-11-05T03:00:00+05:00"},
            {"assistant_text": "(◕‿◕) bad", "ts": "not a time", "message_id": "g2"},
        )
    )
    assert run_hook(daemon.env, "generic", payload.encode()).returncode == 0
    assert [(r.assistant_text, r.ts) for r in journal_rows(daemon)] == [("offset", "2026-11-04T22:00:00Z")]


def test_times_stored_before_are_normalised_at_start_resumably(daemon: DaemonProcess) -> None:
    assert submit(daemon, rows("OLDTS", 8)) == 8
    assert daemon.stop() == 0
    # As the code before this fix stored them: as sent (a +05:00 offset, a space), and no progress recorded.
    conn = db(daemon)
    conn.execute("UPDATE journal SET ts = replace(replace(ts, 'Z', '+05:00'), 'T', ' ')")
    conn.execute("DELETE FROM meta WHERE key = 'ts-normalised'")
    conn.close()
    database = daemon.state_dir / "llmojid.db"

    killed = subprocess.run(
        [sys.executable, "-c", DYING_NORMALISE, str(database)], env=daemon.env, capture_output=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr.decode(errors="replace")
    half = _stored(database)
    assert [ts.endswith("Z") for ts in half] == [True] * 3 + [False] * 5  # the first batch committed, no more

    start(daemon)
    stored = [r.ts for r in journal_rows(daemon)]
    assert stored == [f"2026-11-01T05:00:{i:02d}Z" for i in range(8)]  # 10:00 at +05:00 is 05:00 UTC
    assert _stored(database) == stored


def _stored(database: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [str(r[0]) for r in conn.execute("SELECT ts FROM journal ORDER BY id")]
    finally:
        conn.close()
