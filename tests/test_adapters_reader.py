"""The incremental transcript reader on real files: offsets, partial lines, over-long lines, rotation, refusal."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from llmojid.daemon.adapters import claude_code
from llmojid.daemon.adapters.base import ParseState
from llmojid.daemon.adapters.reader import Cursor, NotReadable, read_slice
from tests.harness_transcripts import ClaudeSession, jsonl

FRESH = ParseState(session="fresh")


def _read_all(path: Path, cursor: Cursor, **kw: int) -> tuple[list[bytes | None], Cursor]:
    lines: list[bytes | None] = []
    while True:
        piece = read_slice(str(path), cursor, FRESH, **kw)
        lines += piece.lines
        cursor = piece.cursor
        if not piece.more:
            return lines, cursor


def test_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    first = read_slice(str(path), Cursor(), FRESH)
    assert first.lines == [b'{"a": 1}', b'{"a": 2}'] and not first.restarted
    with path.open("ab") as f:
        f.write(b'{"a": 3}\n')
    second = read_slice(str(path), first.cursor, FRESH)
    assert second.lines == [b'{"a": 3}'] and not second.restarted
    assert second.cursor.offset == path.stat().st_size
    assert read_slice(str(path), second.cursor, FRESH).lines == []


def test_an_incomplete_last_line_is_not_consumed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2, "b": "half')
    piece = read_slice(str(path), Cursor(), FRESH)
    assert piece.lines == [b'{"a": 1}']
    assert piece.cursor.offset == len(b'{"a": 1}\n')
    with path.open("ab") as f:
        f.write(b' written"}\n')
    assert read_slice(str(path), piece.cursor, FRESH).lines == [b'{"a": 2, "b": "half written"}']


def test_truncation_rotation_and_rewrite_start_over(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    cursor = read_slice(str(path), Cursor(), FRESH).cursor
    cursor.state = ParseState(session="old", prompt="old prompt")

    path.write_bytes(b'{"b": 1}\n')  # truncated (shorter than the offset)
    piece = read_slice(str(path), cursor, FRESH)
    assert piece.restarted and piece.lines == [b'{"b": 1}'] and piece.cursor.state == FRESH

    cursor = read_slice(str(path), Cursor(), FRESH).cursor
    path.write_bytes(b'{"c": 1}\n{"c": 2}\n')  # rewritten in place, longer: the head no longer matches
    piece = read_slice(str(path), cursor, FRESH)
    assert piece.restarted and piece.lines == [b'{"c": 1}', b'{"c": 2}']

    cursor = piece.cursor
    rotated = tmp_path / "new.jsonl"
    rotated.write_bytes(b'{"c": 1}\n{"c": 2}\n{"c": 3}\n')  # same prefix, another inode
    os.replace(rotated, path)
    piece = read_slice(str(path), cursor, FRESH)
    assert piece.restarted and len(piece.lines) == 3


def test_a_rewritten_tail_is_noticed(tmp_path: Path) -> None:
    head = b'{"pad": "' + b"x" * 5000 + b'"}\n'
    path = tmp_path / "t.jsonl"
    path.write_bytes(head + b'{"a": 1}\n')
    cursor = read_slice(str(path), Cursor(), FRESH).cursor
    with path.open("r+b") as f:  # same inode, same head, same size: only the bytes before the offset differ
        f.seek(len(head))
        f.write(b'{"a": 9}\n')
    assert read_slice(str(path), cursor, FRESH).restarted


def test_a_50_mb_line_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with path.open("wb") as f:
        f.write(b'{"before": 1}\n{"huge": "')
        chunk = b"y" * (1024 * 1024)
        for _ in range(50):
            f.write(chunk)
        f.write(b'"}\n{"after": 1}\n')
    lines, cursor = _read_all(path, Cursor())
    assert lines == [b'{"before": 1}', None, b'{"after": 1}']
    assert cursor.offset == path.stat().st_size and not cursor.skipping


def test_an_over_long_line_still_being_written_is_skipped_across_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"ok": 1}\n' + b"z" * 3000)
    piece = read_slice(str(path), Cursor(), FRESH, max_line=1000)
    assert piece.lines == [b'{"ok": 1}'] and piece.cursor.skipping
    assert piece.cursor.offset == path.stat().st_size  # moved through the long line, without holding it
    with path.open("ab") as f:
        f.write(b"z" * 3000 + b'\n{"ok": 2}\n')
    piece = read_slice(str(path), piece.cursor, FRESH, max_line=1000)
    assert piece.lines == [None, b'{"ok": 2}'] and not piece.cursor.skipping


def test_slices_are_bounded_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(5000)))
    piece = read_slice(str(path), Cursor(), FRESH, max_bytes=4096, max_line=1024)
    assert piece.more and 0 < len(piece.lines) < 5000
    lines, _ = _read_all(path, Cursor(), max_bytes=4096, max_line=1024)
    assert lines == [b'{"n": %d}' % i for i in range(5000)]


def test_not_regular_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()

    def attempt() -> None:
        with pytest.raises(NotReadable):
            read_slice(str(fifo), Cursor(), FRESH)
        done.set()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert done.is_set(), "reading a FIFO blocked"
    for target in (str(tmp_path), "/dev/null", str(tmp_path / "missing.jsonl")):
        with pytest.raises(NotReadable):
            read_slice(target, Cursor(), FRESH)


def test_incremental_reads_give_the_same_rows_as_one_read(tmp_path: Path) -> None:
    session = ClaudeSession()
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"")
    cursor = Cursor(state=ParseState(session="s"))
    incremental = []
    for n in range(1, 8):
        events, _ = session.turn(n)
        data = jsonl(events)
        with path.open("ab") as f:  # each turn lands in two writes, the first ending mid-line
            f.write(data[: len(data) // 2])
            f.flush()
            piece = read_slice(str(path), cursor, FRESH)
            rows, state = claude_code.parse_transcript_lines(piece.lines, piece.cursor.state)
            cursor = piece.cursor
            cursor.state = state
            incremental += rows
            f.write(data[len(data) // 2 :])
        piece = read_slice(str(path), cursor, FRESH)
        rows, state = claude_code.parse_transcript_lines(piece.lines, piece.cursor.state)
        cursor = piece.cursor
        cursor.state = state
        incremental += rows
    whole, _ = claude_code.parse_transcript_lines(read_slice(str(path), Cursor(), FRESH).lines, ParseState(session="s"))
    assert incremental == whole and len(whole) == 14
