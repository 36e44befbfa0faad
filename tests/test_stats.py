"""``journal.stats`` against a real daemon: every number checked against rows whose counts we know.

Rows go in through ``SubmitRows`` (the daemon's own door) with chosen faces, models, harnesses and times; hook
health comes from real hook calls (a transcript with a bad line, a payload that is not JSON); the spool backlog
from a spool file the daemon cannot open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.commands.stats import stale_hooks
from llmojid.client.connection import Client, DaemonError
from llmojid.daemon.stats import spool_backlog
from tests.harness_transcripts import ClaudeSession, jsonl
from tests.hook_support import live_daemon, run_hook, start  # noqa: F401 (fixture)
from tests.support import DaemonProcess


def row(n: int, kaomoji: str, model: str, harness: str, day: int) -> p.JournalRow:
    return p.JournalRow(
        ts=f"2026-03-{day:02d}T12:00:00.000Z",
        model=model,
        harness=harness,
        session="s",
        message_id=f"m{n}",
        kaomoji=kaomoji,
        assistant_text=f"text {n}",
    )


#: (kaomoji as written, model, harness, day). "(＞_＜)" and "(>_<)" are one canonical face; so are the two cats.
ROWS = [
    ("(>_<)", "opus", "claude-code", 5),
    ("(＞_＜)", "opus", "claude-code", 1),
    ("(>_<)", "gpt-5", "codex", 9),
    ("(>_<)", "opus", "claude-code", 7),
    ("(◕‿◕)", "opus", "claude-code", 2),
    ("(◕‿◕)", "gpt-5", "codex", 3),
    ("ʕ•ᴥ•ʔ", "hermes-4", "hermes", 20),
]


def stats(proc: DaemonProcess, **args: Any) -> dict[str, Any]:
    with Client(proc.socket_path) as client:
        reply = client.request(p.Request(name="journal.stats", args=args))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    return reply.value


@pytest.fixture
def filled(live_daemon: DaemonProcess) -> Iterator[DaemonProcess]:  # noqa: F811
    rows = [row(n, *spec) for n, spec in enumerate(ROWS)]
    with Client(live_daemon.socket_path) as client:
        reply = client.request(p.SubmitRows(rows=rows))
    assert isinstance(reply, p.HookAck) and reply.rows_added == len(ROWS)
    yield live_daemon


def test_counts_per_face_model_and_harness(filled: DaemonProcess) -> None:
    v = stats(filled, top=10)
    assert v["rows"] == 7 and v["distinct_faces"] == 3
    assert (v["first_seen"], v["last_seen"]) == ("2026-03-01T12:00:00.000Z", "2026-03-20T12:00:00.000Z")
    assert [(f["canonical"], f["count"]) for f in v["faces"]] == [("(>_<)", 4), ("(◕‿◕)", 2), ("ʕ・ᴥ・ʔ", 1)]
    angry = v["faces"][0]
    assert angry["kaomoji"] == "(>_<)", "the form written most often (3 of 4) stands for the face"
    assert (angry["first_seen"][:10], angry["last_seen"][:10]) == ("2026-03-01", "2026-03-09")
    assert [(m["model"], m["count"], m["faces"]) for m in v["models"]] == [
        ("opus", 4, 2),
        ("gpt-5", 2, 2),
        ("hermes-4", 1, 1),
    ]
    assert v["models"][0]["first_seen"][:10] == "2026-03-01" and v["models"][0]["last_seen"][:10] == "2026-03-07"
    assert [(h["harness"], h["count"]) for h in v["harnesses"]] == [("claude-code", 4), ("codex", 2), ("hermes", 1)]
    assert "by" not in v


def test_top_and_by(filled: DaemonProcess) -> None:
    v = stats(filled, top=1, by="model")
    assert [f["canonical"] for f in v["faces"]] == ["(>_<)"]
    groups = {g["model"]: [(f["canonical"], f["count"]) for f in g["top_faces"]] for g in v["by"]["groups"]}
    assert groups == {"opus": [("(>_<)", 3)], "gpt-5": [("(>_<)", 1)], "hermes-4": [("ʕ・ᴥ・ʔ", 1)]}
    by_harness = stats(filled, top=5, by="harness")["by"]["groups"]
    codex = next(g for g in by_harness if g["harness"] == "codex")
    assert sorted((f["canonical"], f["count"]) for f in codex["top_faces"]) == [("(>_<)", 1), ("(◕‿◕)", 1)]


def test_health_counts_hook_events_bad_input_and_the_spool(workdir: Path, daemon_env: dict[str, str]) -> None:
    spool_dir = Path(daemon_env["XDG_STATE_HOME"]) / "llmojid" / "spool"
    spool_dir.mkdir(mode=0o700, parents=True)
    os.chmod(spool_dir.parent, 0o700)
    (spool_dir / "00000000000000000001-0000001-deadbeef.spool").write_bytes(b"not sealed")
    proc = start(DaemonProcess(workdir, daemon_env))
    try:
        session = ClaudeSession()
        transcript = Path(daemon_env["HOME"]) / "t" / f"{session.session}.jsonl"
        transcript.parent.mkdir()
        events, expected = session.turn(1)
        transcript.write_bytes(jsonl(events) + b"{broken json\n")
        assert run_hook(daemon_env, "claude-code", session.stop_payload(str(transcript))).returncode == 0
        assert run_hook(daemon_env, "claude-code", b"\x00 not a payload").returncode == 0
        v = stats(proc)
        hooks = {h["harness"]: h for h in v["hooks"]}
        claude = hooks["claude-code"]
        assert (claude["events"], claude["rows_added"]) == (2, len(expected))
        assert (claude["bad_payloads"], claude["bad_lines"]) == (1, 1)
        assert claude["last_event_at"] >= "2026"  # a real time, set by the hook calls
        assert v["parse_errors"] == 2
        assert v["spool"] == {"waiting": 0, "quarantined": 1}, "the unreadable spool file was set aside"
    finally:
        assert proc.stop() == 0, proc.log()


def test_bad_arguments_are_refused(live_daemon: DaemonProcess) -> None:  # noqa: F811
    for args in ({"top": 0}, {"top": 10_000}, {"by": "colour"}, {"top": "ten"}, {"sort": "x"}):
        with pytest.raises(DaemonError) as caught:
            stats(live_daemon, **args)
        assert caught.value.code == p.ErrorCode.INVALID_ARGUMENT
    empty = stats(live_daemon)
    assert (empty["rows"], empty["faces"], empty["first_seen"], empty["hooks"]) == (0, [], "", [])


def test_stale_hooks_and_spool_backlog(tmp_path: Path) -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    hooks = [
        {"harness": "claude-code", "last_event_at": "2026-03-19T10:00:00.000Z"},
        {"harness": "codex", "last_event_at": "2026-03-01T10:00:00.000Z"},
    ]
    stale = stale_hooks(hooks, ["claude-code", "codex", "hermes"], now)
    assert stale == [
        {"harness": "codex", "last_event_at": "2026-03-01T10:00:00.000Z", "days": 18},
        {"harness": "hermes", "last_event_at": "", "days": None},
    ]
    assert stale_hooks(hooks, [], now) == [], "a hook that is not installed is never stale"
    for name in ("a.spool", "b.spool", ".tmp-c.spool", "d.spool.bad", "other"):
        (tmp_path / name).write_bytes(b"x")
    assert spool_backlog(tmp_path) == {"waiting": 3, "quarantined": 1}
    assert spool_backlog(tmp_path / "missing") == {"waiting": 0, "quarantined": 0}
