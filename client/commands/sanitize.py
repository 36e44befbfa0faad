"""``llmojid-ctl sanitize [--json]``: show what the PII sanitizer would redact, on text read from stdin.

It runs the same :func:`llmojid.common.sanitizer.sanitize` the daemon applies to every sample before synthesis
and to everything a bundle holds, locally: no daemon, no socket, nothing stored.

- Plain: the sanitized text, written as it was read (line endings kept). Whole lines are gathered into blocks of
  up to ``MAX_INPUT_CHARS`` characters and each block is scanned at once, so a multi-line value (a PEM private key)
  is found as one; a value split across two blocks is still caught piecewise (an unterminated key block runs to
  the end of its base64, and the rest of the base64 is high-entropy).
- ``--json``: one object per input line, ``{"text": sanitized, "found": [types]}`` (the line without its line
  ending), plus ``"truncated": true`` on a line longer than the cap.

A line longer than ``MAX_INPUT_CHARS`` is cut there (the sanitizer's own cap; the rest of the line is dropped,
never printed unscanned) and a note on stderr says how many lines were cut. Input that is not UTF-8 is decoded
with replacement characters. Exit status 0; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

from llmojid.client.cli import EXIT_OK
from llmojid.common.sanitizer import MAX_INPUT_CHARS, sanitize

#: Characters read from stdin at a time while skipping the unscanned rest of an over-long line.
_SKIP_CHUNK = 1 << 16


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sanitize",
        help="redact personal data and secrets from stdin (no daemon needed)",
        description="Read text on stdin and print it with personal data and secrets replaced by [TYPE] "
        "placeholders: what llmojid redacts before synthesis and export.",
    )
    parser.add_argument(
        "--json", action="store_true", help='one JSON object per input line: {"text": ..., "found": [types]}'
    )
    parser.set_defaults(func=cmd_sanitize)


def cmd_sanitize(args: argparse.Namespace) -> int:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
    out = sys.stdout.buffer
    try:
        cut = _sanitize_lines(stdin, out) if args.json else _sanitize_blocks(stdin, out)
    finally:
        stdin.detach()  # leave sys.stdin usable (and unclosed) for whoever called us
    out.flush()
    if cut:
        print(f"llmojid-ctl: {cut} line(s) longer than {MAX_INPUT_CHARS:,} characters were cut there", file=sys.stderr)
    return int(EXIT_OK)


def _lines(stdin: io.TextIOWrapper) -> Iterator[tuple[str, bool]]:
    """(line with its ending, whether it was cut at the cap). An over-long line's rest is read and dropped."""
    while True:
        line = stdin.readline(MAX_INPUT_CHARS + 1)
        if not line:
            return
        if len(line) <= MAX_INPUT_CHARS or line.endswith("\n"):
            yield line, False
            continue
        ending = ""
        while True:  # skip to the end of this line
            rest = stdin.readline(_SKIP_CHUNK)
            if not rest or rest.endswith("\n"):
                ending = "\n" if rest.endswith("\n") else ""
                break
        yield line + ending, True


def _split_ending(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def _sanitize_lines(stdin: io.TextIOWrapper, out: BinaryIO) -> int:
    cut = 0
    for line, was_cut in _lines(stdin):
        body, _ = _split_ending(line)
        result = sanitize(body)
        obj: dict[str, Any] = {"text": result.text, "found": list(result.found)}
        if was_cut or result.truncated:
            obj["truncated"] = True
            cut += 1
        out.write(msgspec.json.encode(obj) + b"\n")  # UTF-8 whatever the locale says
    return cut


def _sanitize_blocks(stdin: io.TextIOWrapper, out: BinaryIO) -> int:
    cut = 0
    block: list[str] = []
    size = 0
    for line, was_cut in _lines(stdin):
        if block and (size + len(line) > MAX_INPUT_CHARS or was_cut):
            out.write(sanitize("".join(block)).text.encode())
            block, size = [], 0
        if len(line) > MAX_INPUT_CHARS:  # alone, without its ending (which then fits, or it was cut)
            body, ending = _split_ending(line)
            out.write(sanitize(body).text.encode() + ending.encode())
            cut += was_cut
            continue
        block.append(line)
        size += len(line)
    if block:
        out.write(sanitize("".join(block)).text.encode())
    return cut
