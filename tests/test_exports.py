"""``llmojid-ctl import --export``: exported chats into the journal, through a real daemon, end to end.

One test per format (claude.ai bulk and per-conversation files, ChatGPT, Gemini AI Studio and Takeout, OpenHands
0.x and 1.x): import, ``journal tail``, ``stats``, ``bundle build`` (the synthesis cache seeded as the privacy tests
seed it: no model run), a second import that adds nothing, and no plaintext on disk. Then: malformed and truncated
files of each format refused with the file named and nothing written (good files beside them included), zip input,
``--dry-run``, ``--since``, the terminal progress bar, and unknown input.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from llmojid.common.taxonomy import canonicalize
from llmojid.daemon.exports.base import iso_utc
from tests.export_samples import CANARY, FIXTURES
from tests.hook_support import journal_rows, start
from tests.support import LLMOJID_CTL, DaemonProcess, scan_for
from tests.test_audit_helpers import seed_cache

#: The AI Studio files name no time: their rows take the file's modification time, set to this in the tests.
STUDIO_MTIME = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
Row = tuple[str, str, str, str, str]  # kaomoji, assistant_text, user_text, model, ts

CLAUDE_BULK: list[Row] = [
    (
        "(◕‿◕)",
        "Sure, here is a tidier loader. EXPCANARY-a2\n\nIt reads the header once.",
        "Can you tidy this CSV loader? EXPCANARY-a1",
        "",
        "2025-03-01T10:00:09.000000Z",
    ),
    (
        "(╯°□°)╯",
        "Empty files, of course. Fixed with an early return. EXPCANARY-a4",
        "It crashes on empty files EXPCANARY-a3",
        "",
        "2025-03-01T10:02:07.000000Z",
    ),
    (
        "(◕‿◕)",
        "Quicksort, mergesort and heapsort. EXPCANARY-b2",
        "Name three sorting algorithms EXPCANARY-b1",
        "",
        "2025-04-02T08:00:04.000000Z",
    ),
    (
        "(>_<)",
        "Mergesort: equal keys keep their order when halves merge. EXPCANARY-b6",
        "which one is stable, and why? EXPCANARY-b5",
        "",
        "2025-04-02T08:02:06.000000Z",
    ),
]
CLAUDE_FILES: list[Row] = [
    (
        "(◕‿◕)",
        "Green at last, I breathe / the suite hums its quiet song EXPCANARY-d3",
        "Write a haiku about tests EXPCANARY-d1",
        "claude-sonnet-4-5-20250929",
        "2025-06-10T09:00:30.000000Z",
    ),
    (
        "(╯°□°)╯",
        "Because it rebuilds everything. EXPCANARY-e2",
        "Why is my build slow? EXPCANARY-e1",
        "claude-opus-4-1-20250805",
        "2025-06-11T14:00:05.000000Z",
    ),
]
CHATGPT: list[Row] = [
    (
        "(◕‿◕)",
        "A state machine with three states. EXPCANARY-g3",
        "What is on this whiteboard? EXPCANARY-g1",
        "gpt-4o",
        "2025-02-19T21:20:30Z",
    ),
    (
        "(╯°□°)╯",
        "Three transitions, counted twice to be sure. EXPCANARY-g5",
        "Count the transitions with python EXPCANARY-g4",
        "o3",
        "2025-02-19T21:21:10Z",
    ),
    (
        "(>_<)",
        "Green tea, noted for good. EXPCANARY-h4",
        "Remember that I like green tea EXPCANARY-h3",
        "gpt-4o",
        "2025-04-18T18:14:03Z",
    ),
]
GEMINI: list[Row] = [
    (
        "(◕‿◕)",
        "The doc proposes a sealed journal. EXPCANARY-s2",
        "Summarise the attached design doc EXPCANARY-s1",
        "gemini-2.5-pro",
        STUDIO_MTIME.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    ),
    (
        "(╯°□°)╯",
        "The diagram contradicts the doc. EXPCANARY-s4",
        "And this diagram? EXPCANARY-s3",
        "gemini-2.5-pro",
        "2025-07-01T10:05:00.000Z",
    ),
    (
        "(>_<)",
        "The import fails because the module is missing. EXPCANARY-m2\ninstall it\nretry",
        "what does this error mean EXPCANARY-m1",
        "",
        "2025-08-02T18:30:00.123Z",
    ),
    (
        "(◕‿◕)",
        'Why did the function return early?\nIt had "issues". EXPCANARY-m6',
        "tell me a joke EXPCANARY-m5",
        "",
        "2025-07-30T20:00:00.000Z",
    ),
]
OH_OLD, OH_NEW = "anthropic/claude-sonnet-4-20250514", "openai/gpt-5-2025-08-07"
OPENHANDS: list[Row] = [
    (
        "(◕‿◕)",
        "Let me run the tests first. EXPCANARY-o2",
        "Fix the failing parser test EXPCANARY-o1",
        OH_OLD,
        iso_utc("2025-09-01T10:00:04.000000"),
    ),
    (
        "(╯°□°)╯",
        "The tokenizer drops the last byte. EXPCANARY-o3",
        "Fix the failing parser test EXPCANARY-o1",
        OH_OLD,
        iso_utc("2025-09-01T10:00:20.000000"),
    ),
    ("(._.)", "Fixed; the suite passes. EXPCANARY-o5", "go ahead EXPCANARY-o4", OH_OLD, iso_utc("2025-09-01T10:02:00")),
    (
        "(◕‿◕)",
        "I'll look at the CLI first. EXPCANARY-v2",
        "Add a --json flag EXPCANARY-v1",
        OH_NEW,
        iso_utc("2025-10-01T09:00:05.000001"),
    ),
    (
        "(>_<)",
        "Added --json, with a test. EXPCANARY-v3",
        "Add a --json flag EXPCANARY-v1",
        OH_NEW,
        iso_utc("2025-10-01T09:01:00.000001"),
    ),
]
#: format -> (fixture folders, the rows they must yield)
CASES: dict[str, tuple[tuple[str, ...], list[Row]]] = {
    "claude.ai": (("claude_ai", "claude_ai_files"), CLAUDE_BULK + CLAUDE_FILES),
    "chatgpt": (("chatgpt",), CHATGPT),
    "gemini": (("gemini",), GEMINI),
    "openhands": (("openhands",), OPENHANDS),
}


#: Conversations (Takeout: activity records) each format's fixtures hold, faceless ones included.
CHATS = {"claude.ai": 5, "chatgpt": 3, "gemini": 7, "openhands": 3}


@pytest.fixture
def exports(workdir: Path) -> Path:
    """A copy of the fixtures (AI Studio files get a known modification time)."""
    target = workdir / "exports"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.py"))
    stamp = STUDIO_MTIME.timestamp()
    for path in (target / "gemini" / "Takeout" / "Drive" / "Google AI Studio").iterdir():
        os.utime(path, (stamp, stamp))
    return target


@pytest.fixture
def daemon_up(workdir: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    proc = start(DaemonProcess(workdir, daemon_env))
    yield proc
    assert proc.stop() == 0, proc.log()


def request_export(
    proc: DaemonProcess, *paths: Path, progress: list[dict[str, object]] | None = None, **args: Any
) -> dict[str, Any]:
    with Client(proc.socket_path, timeout=300) as client:
        reply = client.request(
            p.Request(name="journal.import_export", args={"paths": [str(x) for x in paths], **args}),
            on_progress=None if progress is None else progress.append,
        )
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    return reply.value


def refused(proc: DaemonProcess, *paths: Path, **args: Any) -> str:
    with pytest.raises(DaemonError) as caught:
        request_export(proc, *paths, **args)
    assert caught.value.code == p.ErrorCode.INVALID_ARGUMENT
    return str(caught.value)


def as_rows(rows: list[p.JournalRow]) -> list[Row]:
    return sorted((r.kaomoji, r.assistant_text, r.user_text, r.model, r.ts) for r in rows)


def journal_count(proc: DaemonProcess) -> int:
    return len(journal_rows(proc))


# --- one test per format, end to end ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(CASES))
def test_each_format_end_to_end(fmt: str, daemon_up: DaemonProcess, exports: Path) -> None:
    folders, expected = CASES[fmt]
    paths = [str(exports / f) for f in folders]
    tally = json.loads(daemon_up.ctl("import", "--export", fmt, *paths, "--json").stdout)
    assert set(tally["formats"]) == {fmt}
    counted = tally["formats"][fmt]
    assert counted["rows_found"] == counted["rows_new"] == len(expected), counted
    assert counted["bad_entries"] == 0 and not tally["dry_run"]
    assert counted["conversations"] == CHATS[fmt], "conversations without a face are read and yield nothing"

    tail = [p.JournalRow(**row) for row in daemon_up.ctl_json_lines("journal", "tail", "-n", "100", "--json")]
    assert as_rows(tail) == sorted(expected)
    assert {r.harness for r in tail} == {fmt}
    assert all(r.canonical == canonicalize(r.kaomoji) for r in tail), "the journal derives the canonical form"

    stats = daemon_up.ctl_json("stats", "--json", "--by", "harness")
    assert stats["rows"] == len(expected)
    assert [(h["harness"], h["count"]) for h in stats["harnesses"]] == [(fmt, len(expected))]
    want_faces: dict[str, int] = {}
    for face, *_ in expected:
        want_faces[canonicalize(face)] = want_faces.get(canonicalize(face), 0) + 1
    assert {f["canonical"]: f["count"] for f in stats["faces"]} == want_faces
    assert stats["hooks"] == [], "an import of an export is not hook activity"

    models = sorted({row[3] for row in expected})
    for model in models:
        assert seed_cache(daemon_up, source_model=model) > 0
    built = daemon_up.ctl_json("bundle", "build", "--json")
    manifest = json.loads((Path(built["folder"]) / "manifest.json").read_text())
    assert manifest["providers_seen"] == [fmt]
    assert manifest["model_counts"] == {m: sum(1 for r in expected if r[3] == m) for m in models}

    again = json.loads(daemon_up.ctl("import", "--export", *paths, "--json").stdout)["formats"][fmt]
    assert again["rows_new"] == 0 and again["rows_present"] == len(expected), "the same export twice adds nothing"
    assert journal_count(daemon_up) == len(expected)
    assert scan_for(daemon_up.state_dir, [CANARY]) == [], "imported text is sealed"


def test_every_format_at_once_is_recognised_without_a_format(daemon_up: DaemonProcess, exports: Path) -> None:
    paths = [exports / f for folders, _ in CASES.values() for f in folders]
    result = request_export(daemon_up, *paths)
    assert {f: t["rows_new"] for f, t in result["formats"].items()} == {f: len(c[1]) for f, c in CASES.items()}
    assert result["skipped_files"] >= 8, "users.json, chat.html, another product's MyActivity.json ... left alone"
    assert as_rows(journal_rows(daemon_up)) == sorted(r for _, rows in CASES.values() for r in rows)


# --- refused input: nothing written -----------------------------------------------------------------------------------
def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _rewrite(path: Path, change: Any) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def _claude_item_without_messages(value: Any) -> None:
    del value[-1]["chat_messages"]


def _chatgpt_item_without_mapping(value: Any) -> None:
    value[1]["mapping"] = []


def _studio_chunks_not_a_list(value: Any) -> None:
    value["chunkedPrompt"]["chunks"] = {"0": "x"}


def _event_not_an_object(path: Path) -> None:
    path.write_text("[1, 2]")


STUDIO = "gemini/Takeout/Drive/Google AI Studio/Kaomoji helper"
OH_EVENT = "openhands/sessions/a1b2c3d4e5f6/events/5.json"
#: (format, folders imported, file spoiled, how) -> what the refusal must say
SPOILED: list[tuple[str, tuple[str, ...], str, str, str]] = [
    ("claude.ai", ("claude_ai", "claude_ai_files"), "claude_ai/conversations.json", "truncate", "truncated"),
    ("claude.ai", ("claude_ai", "claude_ai_files"), "claude_ai/conversations.json", "structure", "chat_messages"),
    ("claude.ai", ("claude_ai", "claude_ai_files"), "claude_ai_files/Haiku.json", "truncate", "not valid JSON"),
    ("chatgpt", ("chatgpt",), "chatgpt/conversations.json", "truncate", "truncated"),
    ("chatgpt", ("chatgpt",), "chatgpt/conversations.json", "structure", "mapping"),
    ("gemini", ("gemini",), STUDIO, "truncate", "not valid JSON"),
    ("gemini", ("gemini",), STUDIO, "structure", "chunkedPrompt"),
    ("gemini", ("gemini",), "gemini/Takeout/My Activity/Gemini Apps/MyActivity.json", "truncate", "truncated"),
    ("openhands", ("openhands",), OH_EVENT, "truncate", "not valid JSON"),
    ("openhands", ("openhands",), OH_EVENT, "structure", "OpenHands event"),
]
SPOILERS = {
    "claude_ai/conversations.json": _claude_item_without_messages,
    "chatgpt/conversations.json": _chatgpt_item_without_mapping,
    STUDIO: _studio_chunks_not_a_list,
}


@pytest.mark.parametrize(("fmt", "folders", "spoiled", "how", "said"), SPOILED)
def test_malformed_and_truncated_files_are_refused_and_nothing_is_written(
    fmt: str, folders: tuple[str, ...], spoiled: str, how: str, said: str, daemon_up: DaemonProcess, exports: Path
) -> None:
    target = exports / spoiled
    if how == "truncate":
        _truncate(target)
    elif spoiled == OH_EVENT:
        _event_not_an_object(target)
    else:
        _rewrite(target, SPOILERS[spoiled])
    paths = [exports / f for f in folders]
    for args in ({"format": fmt}, {}, {"format": fmt, "dry_run": True}):
        message = refused(daemon_up, *paths, **args)
        assert str(target) in message, f"the refusal names the file: {message}"
        assert said in message and "nothing was written" in message, message
        assert "EXPCANARY" not in message, "a refusal never quotes the export"
    assert journal_count(daemon_up) == 0, "a refused export writes nothing, not even its good conversations"
    assert b"EXPCANARY" not in daemon_up.log().encode() and str(target) not in daemon_up.log()


def test_unknown_input_and_the_wrong_format_are_refused(daemon_up: DaemonProcess, workdir: Path) -> None:
    notes = workdir / "notes.txt"
    notes.write_text("just some notes\n")
    assert "expected an export" in refused(daemon_up, notes)
    assert "cannot be read" in refused(daemon_up, workdir / "missing.json")
    fifo = workdir / "conversations.json"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(daemon_up, fifo), "a FIFO is never opened for reading"
    chatgpt = workdir / "gpt"
    shutil.copytree(FIXTURES / "chatgpt", chatgpt)
    message = refused(daemon_up, chatgpt, format="claude.ai")
    assert "expected a claude.ai export" in message and "chatgpt export" in message
    empty = workdir / "empty"
    empty.mkdir()
    assert "expected an export" in refused(daemon_up, empty)
    for args in ({"paths": []}, {"paths": ["relative/path"]}, {"format": "myspace"}):
        with pytest.raises(DaemonError) as caught, Client(daemon_up.socket_path) as client:
            client.request(p.Request(name="journal.import_export", args={"paths": ["/tmp"], **args}))
        assert caught.value.code == p.ErrorCode.INVALID_ARGUMENT
    assert journal_count(daemon_up) == 0


# --- zip, dry run, since ----------------------------------------------------------------------------------------------
def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def test_a_zip_works_as_well_as_the_folder(daemon_up: DaemonProcess, exports: Path, workdir: Path) -> None:
    zips = [_zip(exports / name, workdir / f"{name}.zip") for name in ("chatgpt", "claude_ai", "openhands")]
    result = request_export(daemon_up, *zips)
    want = {"chatgpt": len(CHATGPT), "claude.ai": len(CLAUDE_BULK), "openhands": len(OPENHANDS)}
    assert {f: t["rows_new"] for f, t in result["formats"].items()} == want
    assert as_rows(journal_rows(daemon_up)) == sorted(CHATGPT + CLAUDE_BULK + OPENHANDS)
    unpacked = request_export(daemon_up, exports / "chatgpt", exports / "claude_ai", exports / "openhands")
    assert all(t["rows_new"] == 0 for t in unpacked["formats"].values()), "the zip and the folder are one export"

    broken = workdir / "broken.zip"
    broken.write_bytes(zips[0].read_bytes()[:-200])
    assert str(broken) in refused(daemon_up, broken)
    spoiled = workdir / "spoiled.zip"
    with zipfile.ZipFile(spoiled, "w") as archive:
        archive.writestr("conversations.json", (FIXTURES / "claude_ai" / "conversations.json").read_bytes()[:-50])
    message = refused(daemon_up, spoiled)
    assert f"conversations.json (in {spoiled})" in message and "truncated" in message


def test_chatgpt_exports_split_over_numbered_files(daemon_up: DaemonProcess, exports: Path) -> None:
    result = request_export(daemon_up, exports / "chatgpt_split", format="chatgpt")
    assert result["formats"]["chatgpt"]["files"] == 2 and result["formats"]["chatgpt"]["rows_new"] == len(CHATGPT)
    assert as_rows(journal_rows(daemon_up)) == sorted(CHATGPT)
    assert request_export(daemon_up, exports / "chatgpt")["formats"]["chatgpt"]["rows_new"] == 0


def test_one_openhands_conversation_folder_given_directly(daemon_up: DaemonProcess, exports: Path) -> None:
    folder = exports / "openhands" / "conversations" / "7f3e2a1000004000800000000000beef"
    result = request_export(daemon_up, folder)
    assert result["formats"]["openhands"]["rows_new"] == 2
    assert as_rows(journal_rows(daemon_up)) == sorted(OPENHANDS[3:]), "its model read from base_state.json"
    assert request_export(daemon_up, exports / "openhands")["formats"]["openhands"]["rows_new"] == 3


def test_dry_run_writes_nothing_and_predicts_the_import(daemon_up: DaemonProcess, exports: Path) -> None:
    request_export(daemon_up, exports / "claude_ai_files")
    paths = [exports / "claude_ai", exports / "claude_ai_files", exports / "chatgpt"]
    progress: list[dict[str, object]] = []
    dry = request_export(daemon_up, *paths, dry_run=True, progress=progress)
    assert dry["dry_run"] and dry["formats"]["claude.ai"]["rows_present"] == len(CLAUDE_FILES)
    assert dry["formats"]["claude.ai"]["rows_new"] == len(CLAUDE_BULK)
    assert journal_count(daemon_up) == len(CLAUDE_FILES), "a dry run writes nothing"
    assert progress[-1]["phase"] == "done" and progress[-1]["bytes_done"] == progress[-1]["bytes_total"]
    assert {e["phase"] for e in progress} == {"count", "done"}
    real = request_export(daemon_up, *paths)
    assert real["formats"] == dry["formats"], "the dry run predicted the import exactly"
    assert journal_count(daemon_up) == len(CLAUDE_BULK + CLAUDE_FILES + CHATGPT)


def test_since_keeps_only_later_messages(daemon_up: DaemonProcess, exports: Path) -> None:
    result = request_export(daemon_up, exports / "claude_ai", exports / "chatgpt", since="2025-03-01T10:01:00Z")
    claude, gpt = result["formats"]["claude.ai"], result["formats"]["chatgpt"]
    assert (claude["rows_new"], claude["rows_before_since"]) == (3, 1)
    assert (gpt["rows_new"], gpt["rows_before_since"]) == (1, 2)
    assert as_rows(journal_rows(daemon_up)) == sorted(CLAUDE_BULK[1:] + CHATGPT[2:])
    assert "since" in refused(daemon_up, exports / "chatgpt", since="last week")


def test_ctl_import_export_draws_progress_and_prints_the_tally(daemon_up: DaemonProcess, exports: Path) -> None:
    master, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [LLMOJID_CTL, "import", "--export", str(exports / "chatgpt")],  # no FORMAT: recognised
            env=daemon_up.env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=120,
            check=False,
        )
        os.close(terminal)
        drawn = os.read(master, 1 << 16).decode()
    finally:
        os.close(master)
    assert result.returncode == 0, drawn
    assert "\rchecking [" in drawn and "\rwriting  [" in drawn and "100%" in drawn, drawn
    table = result.stdout.decode().splitlines()
    assert table[0].split() == ["format", "files", "chats", "rows", "new", "present", "skipped", "entries"]
    assert table[1].split() == ["chatgpt", "1", "3", str(len(CHATGPT)), str(len(CHATGPT)), "0", "0"]
    assert "3 file(s) in the export hold no conversations" in result.stdout.decode()

    usage = daemon_up.ctl("import", "--export", check=False)
    assert usage.returncode == 2 and b"PATH" in usage.stderr
    assert daemon_up.ctl("import", "claude-code", "codex", check=False).returncode == 2
    bad = daemon_up.ctl("import", "--export", "chatgpt", str(exports / "openhands"), check=False)
    assert bad.returncode == 1 and b"expected a ChatGPT export" in bad.stderr
