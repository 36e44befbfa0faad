"""``llmojid-ctl face [TEXT ...] [--json]``: is this message kaomoji-led, which face, what canonical form.

The answer to "why was (or wasn't) this message journaled?": the journal runs exactly this detector
(``llmojid.common.taxonomy.leading_face``) and pools faces by exactly this canonical form. It needs no
daemon: the taxonomy is pure, so the command works before ``llmojid`` is installed as a service, and it
never reads or writes the journal.

Input: each TEXT argument is one message; with none, every line of standard input is one message (so a
file of messages can be piped in; undecodable bytes become U+FFFD rather than an error). Output, one
record per input and in input order: for people, the input and the verdict (plus what the spec's baseline
rule alone would have decided, when that differs); with ``--json``, one object a line,
``{"input", "kaomoji", "canonical"}``, ``kaomoji`` and ``canonical`` null when the text is not face-led.

Exit codes: 0 always once the arguments parse (a text that is not face-led is an answer, not an error).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from llmojid.common import taxonomy

EXIT_OK = 0
#: Longest input echoed in the human format; the verdict matters, not a pasted page.
DISPLAY_CHARS = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "face",
        help="is a message kaomoji-led: the face and its canonical form (no daemon needed)",
        description="Show, for each message, whether the journal would take it as kaomoji-led, the face as "
        "written and its canonical form. With no TEXT, each line of standard input is one message.",
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="a message (default: one per stdin line)")
    parser.add_argument("--json", action="store_true", help='one {"input", "kaomoji", "canonical"} a line')
    parser.set_defaults(func=cmd_face)


def stdin_lines(stream: BinaryIO | None = None) -> Iterator[str]:
    """Standard input as text lines without their line endings, decoded leniently (U+FFFD for bad bytes).

    Resource handling: the byte stream stays open (the wrapper is detached, not closed, when done).
    """
    text = io.TextIOWrapper(stream or sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
    try:
        for line in text:
            yield line.rstrip("\n")
    finally:
        text.detach()


def verdict(text: str) -> dict[str, str | None]:
    """The JSON record for one input."""
    found = taxonomy.leading_face(text)
    if found is None:
        return {"input": text, "kaomoji": None, "canonical": None}
    face = found[0]
    return {"input": text, "kaomoji": face, "canonical": taxonomy.canonicalize(face)}


_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def shown(text: str) -> str:
    """An input as one readable terminal line: line breaks and control characters escaped, long text cut."""
    out = "".join(_ESCAPES.get(ord(c), f"\\x{ord(c):02x}" if ord(c) < 0x20 or c == "\x7f" else c) for c in text)
    return out if len(out) <= DISPLAY_CHARS else out[: DISPLAY_CHARS - 1] + "…"


def human(record: dict[str, str | None]) -> str:
    """Two or three lines: the input, the verdict, and the spec's baseline when it would decide otherwise."""
    text = record["input"] or ""
    lines = [shown(text)]
    face = record["kaomoji"]
    if face is None:
        lines.append("  not kaomoji-led")
    else:
        lines.append(f"  kaomoji-led: {face}   canonical: {record['canonical']}")
    baseline = taxonomy.baseline_leading_face(text)
    base_face = baseline[0] if baseline else None
    if base_face != face:
        said = f'would take "{base_face}"' if base_face is not None else "would find no face"
        lines.append(f"  the spec's baseline rule alone {said}")
    return "\n".join(lines)


def emit(texts: Iterable[str], as_json: bool) -> None:
    for text in texts:
        record = verdict(text)
        if as_json:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(human(record) + "\n")
        sys.stdout.flush()  # one answer per line as it comes, for a pipe fed interactively


def cmd_face(args: argparse.Namespace) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A face must never crash the command on a terminal that cannot show it: escape what it cannot encode.
        sys.stdout.reconfigure(errors="backslashreplace")
    emit(args.texts if args.texts else stdin_lines(), args.json)
    return EXIT_OK
