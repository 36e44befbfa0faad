"""``llmojid-ctl sessions`` end to end: sessions written by the real hook scripts (Claude Code, Codex and Hermes
transcripts and payloads), prompts typed through the real ``wrap``, bags from the real ``analyze`` job (against an
OpenAI-compatible stand-in on loopback), and the diary checked against the journal, for the typing windows each
session answered, and for the canaries planted in every text field: prompt, reply, cwd, session id, transcript
path and typed text. None may reach ``sessions --json``, its text form, ``report.data``, the report page or the
bundle; the auditor's ``sessions`` check passes on it and fails on a line that breaks its rules.

One daemon serves the module. Timeline (each step after the previous one on the daemon's clock):
6 prompts typed through ``wrap`` (5 enrol the baseline, 1 scored), 3 Claude Code turns; 1 slow prompt, 2 Codex
turns; 1 prompt at a third tempo, 2 Hermes turns (these two sent as ``wrap`` sends them, so their deviations
differ). So each session answers exactly one scored window, its own, and the deviations tell which.
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.commands.sessions import duration, session_line
from llmojid.client.connection import Client, DaemonError
from llmojid.common.lexicon import CELL_OF_WORD
from llmojid.common.taxonomy import canonicalize
from llmojid.daemon.privacy.auditor import session_problems
from tests.harness_transcripts import ClaudeSession, CodexSession, GeminiSession, HermesSession, jsonl
from tests.hook_support import journal_rows, run_hook, start
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import DaemonProcess, make_env, remove_tree, scan_for, short_tempdir
from tests.test_audit_canary import _type_through_wrap as type_through_wrap
from tests.test_report import retimed, typing_window

pytestmark = pytest.mark.slow  # one daemon: wrap, torch encoder, hooks, analyze, report

#: One canary per text field; each must appear nowhere in the diary or anything built from it.
CANARY = {
    "prompt": "CANARYSESSPROMPT4Q",  # prompts and replies: the transcripts put it in both
    "cwd": "CANARYSESSCWD7Z",
    "session": "CANARYSESSID3K",
    "path": "CANARYSESSPATH8M",
    "typed": "CANARYSESSTYPED2W",
}
#: The stand-in synthesizer's one answer: every cell gets this bag.
BAG = {"primary_affect": ["cheery", "peaceful"], "stance_modality_function": ["eager", "helpful", "confident"]}
WAIT_SECONDS = 90.0
#: Events of one harness turn are this far apart (all of a session's turns fall before the next typed prompt).
EVENT_STEP = timedelta(milliseconds=20)


class _StandIn(StandInHandler):
    def do_POST(self) -> None:
        self.read_body()
        self.send_chat_completion(json.dumps(BAG))


@dataclass
class Built:
    daemon: DaemonProcess
    rows: list[p.JournalRow]
    windows: list[dict[str, Any]]
    diary: dict[str, Any]
    json_lines: list[dict[str, Any]]
    text: str
    secrets: list[str]


def type_prompts(daemon: DaemonProcess, n: int, seen: int) -> None:
    """``n`` prompts through ``wrap -- cat`` (each 20 keys, then Enter); wait until the daemon has encoded them."""
    typed = b"".join(f"{CANARY['typed']} x{i:02d}\r".encode() for i in range(n))
    type_through_wrap(daemon, typed)
    wait_encoded(daemon, seen + n)


def send_prompt(daemon: DaemonProcess, flight: float, seen: int) -> None:
    """One prompt at another tempo, sent as ``wrap`` sends it (a ``Keystrokes`` batch: key classes and times), so
    its deviation differs from the wrapped prompts'; wait until the daemon has encoded it."""
    with Client(daemon.socket_path) as client:
        assert isinstance(client.request(p.Keystrokes(source="wrap/t", events=typing_window(seen, flight))), p.Ok)
    wait_encoded(daemon, seen + 1)


def wait_encoded(daemon: DaemonProcess, seen: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    with Client(daemon.socket_path) as client:
        while True:
            reply = client.request(p.Request(name="typing.status", args={"limit": 0}))
            assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
            if reply.value["windows_seen"] >= seen and reply.value["windows_by_status"]["pending"] == 0:
                assert reply.value["windows_seen"] == seen, reply.value
                return
            assert time.monotonic() < deadline, f"typed prompts not encoded: {reply.value}"
            time.sleep(0.1)


def soon() -> datetime:
    time.sleep(0.3)  # the turns come after the prompt window's close on every clock reading
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    root = short_tempdir()
    daemon = start(DaemonProcess(root, make_env(root)))
    try:
        projects = daemon.home / CANARY["path"]
        projects.mkdir(parents=True)
        cwd = f"/home/someone/{CANARY['cwd']}"

        type_prompts(daemon, 6, 0)
        claude = ClaudeSession(session=f"{CANARY['session']}-claude", cwd=cwd, canary=CANARY["prompt"])
        transcript = projects / f"{claude.session}.jsonl"
        begin = soon()
        for n in range(3):
            events, _ = claude.turn(n)
            with transcript.open("ab") as f:
                f.write(jsonl(retimed(events, begin + n * 20 * EVENT_STEP, EVENT_STEP)))
            assert run_hook(daemon.env, "claude-code", claude.stop_payload(str(transcript))).returncode == 0

        time.sleep(1.5)  # the Claude turns' times lie up to a second ahead: the next prompt closes after them
        send_prompt(daemon, 480.0, 6)
        codex = CodexSession(new_shape=True, session=f"{CANARY['session']}-codex", cwd=cwd, canary=CANARY["prompt"])
        rollout = projects / "rollout-codex.jsonl"
        lines = codex.header()
        for n in (1, 2):
            turn, _ = codex.turn(n)
            lines += turn
        rollout.write_bytes(jsonl(retimed(lines, soon(), EVENT_STEP)))
        assert run_hook(daemon.env, "codex", codex.stop_payload(str(rollout))).returncode == 0

        time.sleep(1.5)
        send_prompt(daemon, 160.0, 7)
        hermes = HermesSession(session=f"{CANARY['session']}-hermes", cwd=cwd, canary=CANARY["prompt"])
        for n in (4, 5):
            payload, _ = hermes.turn(n)
            assert run_hook(daemon.env, "hermes", payload).returncode == 0

        rows = journal_rows(daemon)
        with serve_stand_in(_StandIn) as address:
            done = daemon.ctl_json_lines("analyze", "--json", "--backend-url", f"{address}/v1", "--backend-model", "s")
        assert done[-1]["event"] == "done" and not done[-1].get("failed"), done[-1]
        with Client(daemon.socket_path) as client:
            status = client.request(p.Request(name="typing.status", args={"limit": 50}))
            diary = client.request(p.Request(name="journal.sessions", args={}))
        assert isinstance(status, p.Result) and isinstance(status.value, dict)
        assert isinstance(diary, p.Result) and isinstance(diary.value, dict)
        windows = sorted(status.value["recent"], key=lambda w: w["id"])
        json_lines = daemon.ctl_json_lines("sessions", "--json")
        text = daemon.ctl("sessions").stdout.decode()
        secrets = [*CANARY.values(), claude.session, codex.session, hermes.session, cwd, str(transcript)]
        yield Built(daemon, rows, windows, diary.value, json_lines, text, secrets)
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.stop()
        remove_tree(root)


def _by_harness(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert len({line["harness"] for line in lines}) == len(lines)
    return {line["harness"]: line for line in lines}


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- what the diary says ----------------------------------------------------------------------------------------------
def test_one_line_per_session_with_its_counts_faces_and_times(built: Built) -> None:
    assert built.json_lines == built.diary["sessions"]  # --json prints the daemon's lines as they are
    assert built.diary["total"] == 3 and not built.diary["truncated"] and built.diary["unreadable"] == 0
    lines = _by_harness(built.json_lines)
    assert set(lines) == {"claude-code", "codex", "hermes"}
    # a turn is a prompt answered: Claude Code answers each of 3 prompts with two face-led messages, Codex each of
    # 2 prompts with two, Hermes each of 2 prompts with one
    expected = {"claude-code": (3, 6), "codex": (2, 4), "hermes": (2, 2)}
    assert {h: (line["turns"], line["messages"]) for h, line in lines.items()} == expected
    for harness, line in lines.items():
        rows = [r for r in built.rows if r.harness == harness]
        assert line["models"] == [rows[0].model] and line["model"] == rows[0].model
        faces = Counter(canonicalize(r.kaomoji) for r in rows)
        assert {f["canonical"]: f["count"] for f in line["faces"]} == dict(faces)
        assert line["faces_total"] == len(faces)
        first, last = min(rows, key=lambda r: _ts(r.ts)), max(rows, key=lambda r: _ts(r.ts))
        assert (line["start"], line["end"]) == (first.ts, last.ts)
        assert line["duration_seconds"] == round(_ts(last.ts) - _ts(first.ts))
    assert [line["harness"] for line in built.json_lines] == ["claude-code", "codex", "hermes"]  # oldest first


def test_cells_come_from_the_analyzed_bags(built: Built) -> None:
    cells: dict[str, float] = {}
    for word in BAG["primary_affect"]:
        cells[CELL_OF_WORD[word]] = cells.get(CELL_OF_WORD[word], 0.0) + 1 / len(BAG["primary_affect"])
    for line in built.json_lines:
        assert line["analyzed_messages"] == line["messages"]  # every cell was analyzed
        got = {c["cell"]: c["messages"] for c in line["cells"]}
        assert got == {cell: round(w * line["messages"], 3) for cell, w in cells.items()}


def test_each_session_answers_its_own_typed_prompt(built: Built) -> None:
    """Windows are attributed as typing.link links a turn: the latest prompt window closed before a message."""
    assert [w["status"] for w in built.windows] == ["enrolled"] * 5 + ["scored"] * 3
    scored = built.windows[5:]
    assert len({round(w["deviation"], 4) for w in scored}) == 3  # three tempos: the match below tells them apart
    lines = _by_harness(built.json_lines)
    for harness, window in zip(("claude-code", "codex", "hermes"), scored, strict=True):
        typing = lines[harness]["typing"]
        assert typing == {
            "windows": 1,
            "scored": 1,
            "mean_deviation": pytest.approx(window["deviation"], abs=1e-6),
            "flagged": int(window["flagged"]),
        }, harness


def test_the_text_form_has_one_line_per_session(built: Built) -> None:
    assert built.text.splitlines() == [session_line(line) for line in built.json_lines]
    claude = _by_harness(built.json_lines)["claude-code"]
    assert "3 turns  6 msg" in built.text and duration(claude["duration_seconds"]) in built.text
    assert "typing 1 window, deviation" in built.text


def test_since_keeps_the_sessions_active_after_it(built: Built) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert built.daemon.ctl_json_lines("sessions", "--json", "--since", tomorrow) == []
    assert b"no sessions since" in built.daemon.ctl("sessions", "--since", tomorrow).stdout
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert built.daemon.ctl_json_lines("sessions", "--json", "--since", today) == built.json_lines
    bad = built.daemon.ctl("sessions", "--since", "last tuesday", check=False)
    assert bad.returncode == 2 and b"--since takes a date" in bad.stderr
    with Client(built.daemon.socket_path) as client:
        for args in ({"since": "x"}, {"limit": 0}, {"cwd": True}):
            with pytest.raises(DaemonError) as info:
                client.request(p.Request(name="journal.sessions", args=args))
            assert info.value.code == p.ErrorCode.INVALID_ARGUMENT, args


# --- what it never holds ----------------------------------------------------------------------------------------------
def test_no_canary_reaches_the_diary_the_report_or_the_bundle(built: Built, tmp_path: Path) -> None:
    outputs = {
        "sessions --json": json.dumps(built.json_lines, ensure_ascii=False),
        "sessions": built.text,
        "journal.sessions": json.dumps(built.diary, ensure_ascii=False),
    }
    with Client(built.daemon.socket_path) as client:
        data = client.request(p.Request(name="report.data", args={}))
    assert isinstance(data, p.Result)
    outputs["report.data"] = json.dumps(data.value, ensure_ascii=False)
    folder = tmp_path / "report"
    built.daemon.ctl("report", "--out", str(folder), timeout=300)
    page = (folder / "index.html").read_text("utf-8")
    outputs["report"] = html.unescape(page.replace("<wbr>", ""))
    assert '<section id="sessions">' in page and "3 turns" not in page  # the table, with its own columns
    assert all(canonicalize(r.kaomoji) in outputs["report"] for r in built.rows)
    for line in built.json_lines:  # the model names are there, and no canary is in them
        assert line["model"] in outputs["report"] and not any(c in line["model"] for c in CANARY.values())
    leaks = [(where, s) for where, text in outputs.items() for s in built.secrets if s in text]
    assert leaks == []
    # the bundle carries none of the diary: no session, no duration, no turn count, no typing
    bundle = tmp_path / "bundle"
    built.daemon.ctl("bundle", "--folder", str(bundle), "build")
    files = sorted(f.name for f in bundle.iterdir())
    assert files and "manifest.json" in files
    needles = [s.encode() for s in built.secrets] + [b"duration_seconds", b"turns", b"typing", b"session"]
    assert scan_for(bundle, needles) == []


def test_the_auditor_checks_the_diary(built: Built) -> None:
    audit = built.daemon.ctl_json("audit", "--json", "--only", "sessions")
    assert audit["ok"] is True and audit["checked"]["sessions"] == 3, audit
    line = built.json_lines[0]
    assert session_problems(line, set()) == []
    tokens = {CANARY["prompt"], f"{CANARY['cwd']}/x"}
    assert session_problems({**line, "cwd": "/home/someone"}, tokens) == ["fields other than the diary's: cwd"]
    leaky_face = {**line, "faces": [{"canonical": f"(╯°□°) {CANARY['prompt']}", "count": 1}]}
    assert set(session_problems(leaky_face, tokens)) == {"faces break their rule", "holds your journal's text"}
    assert session_problems({**line, "harness": "please do the task now"}, set()) == ["harness break their rule"]
    assert session_problems({**line, "faces": [{"canonical": "(ツ)", "count": "2"}]}, set()) == [
        "faces break their rule"
    ]
    assert session_problems({**line, "typing": {**line["typing"], "prompt": "x"}}, set()) == ["typing break their rule"]


# --- what a turn and a session are ------------------------------------------------------------------------------------
def _row(ts: str, session: str, prompt: str, face: str = "(◕‿◕)", harness: str = "generic") -> p.JournalRow:
    return p.JournalRow(
        ts=ts,
        model="m-1",
        harness=harness,
        session=session,
        message_id=f"{ts}{prompt}",
        kaomoji=face,
        assistant_text="a reply",
        user_text=prompt,
        cwd="/home/someone/x",
    )


def test_turns_are_changes_of_prompt_and_rows_without_a_session_group_by_day(daemon: DaemonProcess) -> None:
    rows = [
        _row("2026-05-04T10:00:00Z", "s1", "fix the build"),
        _row("2026-05-04T10:01:00Z", "s1", "fix the build", "(╯°□°)"),  # the same turn
        _row("2026-05-04T10:05:00Z", "s1", "continue"),
        _row("2026-05-04T10:09:00Z", "s1", "now the docs"),
        _row("2026-05-04T10:15:00Z", "s1", "continue"),  # "continue" again, after another prompt: a new turn
        _row("2026-05-04T12:20:00+02:00", "s1", ""),  # no prompt known: still the turn before; 10:20 UTC
        _row("2026-05-04T23:00:00Z", "", "a"),
        _row("2026-05-05T01:00:00Z", "", "b"),
    ]
    with Client(daemon.socket_path) as client:
        assert isinstance(client.request(p.SubmitRows(rows=rows)), p.HookAck)
        reply = client.request(p.Request(name="journal.sessions", args={}))
        later = client.request(p.Request(name="journal.sessions", args={"since": "2026-05-05"}))
        newest = client.request(p.Request(name="journal.sessions", args={"limit": 1}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    lines = reply.value["sessions"]
    assert [(s["start"], s["turns"], s["messages"]) for s in lines] == [
        ("2026-05-04T10:00:00Z", 4, 6),
        ("2026-05-04T23:00:00Z", 1, 1),
        ("2026-05-05T01:00:00Z", 1, 1),
    ]
    first = lines[0]
    # stored in UTC since ingest normalizes timestamps (SECURITY T37)
    assert first["end"] == "2026-05-04T10:20:00Z" and first["duration_seconds"] == 20 * 60
    assert first["faces"] == [{"canonical": "(◕‿◕)", "count": 5}, {"canonical": "(╯°□°)", "count": 1}]
    assert first["cells"] == [] and first["analyzed_messages"] == 0
    assert first["typing"] == {"windows": 0, "scored": 0, "mean_deviation": None, "flagged": 0}
    assert isinstance(later, p.Result) and [s["start"] for s in later.value["sessions"]] == ["2026-05-05T01:00:00Z"]
    assert isinstance(newest, p.Result) and newest.value["truncated"] and newest.value["total"] == 3
    assert [s["start"] for s in newest.value["sessions"]] == ["2026-05-05T01:00:00Z"]


def test_rows_whose_text_retention_dropped_still_make_their_sessions(workdir: Path, daemon_env: dict[str, str]) -> None:
    """Retention (``retain_text_days``) sets prompts NULL: the diary keeps the session, its counts and faces, and
    counts what it can no longer tell apart as one turn; the auditor's check still runs."""
    daemon = start(DaemonProcess(workdir, {**daemon_env, "LLMOJID_RETAIN_TEXT_DAYS": "1"}))
    try:
        old = [_row(f"2026-05-04T10:0{i}:00Z", "s1", f"prompt {i}") for i in range(3)]
        with Client(daemon.socket_path) as client:
            assert isinstance(client.request(p.SubmitRows(rows=old)), p.HookAck)
            before = client.request(p.Request(name="journal.sessions", args={}))
        daemon.ctl("forget", "--expired", "--yes")
        assert [r.user_text for r in journal_rows(daemon)] == ["", "", ""]  # the text is gone
        with Client(daemon.socket_path) as client:
            after = client.request(p.Request(name="journal.sessions", args={}))
        assert isinstance(before, p.Result) and isinstance(after, p.Result)
        (line,) = after.value["sessions"]
        assert before.value["sessions"][0]["turns"] == 3 and line["turns"] == 1
        assert {k: v for k, v in line.items() if k != "turns"} == {
            k: v for k, v in before.value["sessions"][0].items() if k != "turns"
        }
        assert after.value["unreadable"] == 0
        assert daemon.ctl_json("audit", "--json", "--only", "sessions")["ok"] is True
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_gemini_cli_sessions_come_from_its_hook_without_their_text(daemon: DaemonProcess) -> None:
    """The real Gemini CLI hook script with a chat file as Gemini CLI 0.61 writes it (a --resume included): one
    session line with its turns, messages and faces; no prompt, reply, cwd, session id or path in the diary."""
    canary = "GEMINIDIARYCANARY"
    session = GeminiSession(session=f"{canary}-session", cwd=f"/home/someone/{canary}-cwd", canary=canary)
    chats = daemon.home / ".gemini" / "tmp" / f"{canary}-project" / "chats"
    chats.mkdir(parents=True)
    path = chats / "session-2026-01-02T03-04-1e95d6d4.jsonl"
    expected: list[Any] = []
    for n, before in ((0, session.header()), (1, []), (2, session.resume())):
        lines, rows = session.turn(n)
        with path.open("ab") as f:
            f.write(jsonl([*before, *lines]))
        expected += rows
        result = run_hook(daemon.env, "gemini", session.after_agent_payload(str(path), prompt=f"task {n} {canary}"))
        assert result.returncode == 0 and result.stdout == b"", result
    assert len(journal_rows(daemon, "gemini")) == len(expected) == 6
    lines = daemon.ctl_json_lines("sessions", "--json")
    (line,) = lines
    assert (line["harness"], line["models"], line["turns"], line["messages"]) == ("gemini", [session.model], 3, 6)
    faces = Counter(canonicalize(e.kaomoji) for e in expected)
    assert {f["canonical"]: f["count"] for f in line["faces"]} == dict(faces)
    shown = json.dumps(lines) + daemon.ctl("sessions").stdout.decode()
    assert canary not in shown and str(path) not in shown
