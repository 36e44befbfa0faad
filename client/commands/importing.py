"""``llmojid-ctl import [HARNESS] [--since DATE] [--dry-run]``: replay existing session histories into the journal.
``llmojid-ctl import --export [FORMAT] PATH... [--since DATE] [--dry-run]``: journal exported chats (claude.ai,
ChatGPT, Gemini, OpenHands; files, folders or zips).

The daemon does the reading (``journal.import``, ``llmojid.daemon.backfill``; ``journal.import_export``,
``llmojid.daemon.exports``) with the same row builder the hooks use, so a message already journaled is counted
as present, not added again. This side only asks (export paths made absolute: the daemon has its own working
directory), draws a progress bar on a terminal (stderr, so ``--json`` output stays clean), and prints the tally.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any, TextIO

from llmojid.client import protocol as p
from llmojid.client.cli import EXIT_OK, UsageError, connect, print_json

#: Antigravity is not here: its transcripts name no model, so they cannot be replayed (the daemon says the same).
HARNESSES = ("claude-code", "codex", "hermes", "gemini", "opencode", "grok")
#: Export formats (``--export FORMAT``); without one the daemon recognises each file's format.
EXPORT_FORMATS = ("claude.ai", "chatgpt", "gemini", "openhands")
AUTO = "auto"
#: Seconds without any frame from the daemon before giving up (it sends progress at least every file).
IMPORT_TIMEOUT_SECONDS = 600.0
BAR_WIDTH = 28


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="replay session histories, or exported chats (--export), into the journal (deduplicated)",
        usage="llmojid-ctl import [HARNESS] [--since DATE] [--dry-run] [--json]\n"
        "       llmojid-ctl import --export [FORMAT] PATH... [--since DATE] [--dry-run] [--json]",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="HARNESS | PATH",
        help=f"a harness ({', '.join(HARNESSES)}; default: all), or with --export the export files, folders, zips",
    )
    parser.add_argument(
        "--export",
        nargs="?",
        const=AUTO,
        metavar="FORMAT",
        help=f"import exported chats: {', '.join(EXPORT_FORMATS)} (left out: recognised from each file)",
    )
    parser.add_argument("--since", metavar="DATE", help="only messages at or after DATE (YYYY-MM-DD or ISO time)")
    parser.add_argument("--dry-run", action="store_true", help="read and count; write nothing")
    parser.add_argument("--json", action="store_true", help="print the tally as JSON")
    parser.set_defaults(func=cmd_import)


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; silent when the stream is not one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.drawn = False

    def update(self, event: dict[str, object]) -> None:
        if not self.enabled:
            return
        self.stream.write("\r" + render(event))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def render(event: dict[str, object]) -> str:
    """``[#########...........]  42%  3/7 files  120 rows, 80 new`` from a progress event."""

    def num(key: str) -> int:
        value = event.get(key, 0)
        return value if isinstance(value, int) else 0

    done, total = num("bytes_done"), num("bytes_total")
    fraction = done / total if total else (1.0 if event.get("phase") == "done" else 0.0)
    filled = round(fraction * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    # An export is read twice (checked whole, then written): say which pass the bar is on.
    label = {"check": "checking ", "count": "checking ", "write": "writing  "}.get(str(event.get("phase")), "")
    return (
        f"{label}[{bar}] {fraction:4.0%}  {num('files_done')}/{num('files_total')} files"
        f"  {num('rows_found'):,} rows, {num('rows_new'):,} new"
    )


def export_request(args: argparse.Namespace) -> p.Request:
    """``--export [FORMAT] PATH...``: a FORMAT that is not a format name is the first path."""
    fmt, paths = args.export, list(args.targets)
    if fmt not in (AUTO, *EXPORT_FORMATS):
        fmt, paths = AUTO, [fmt, *paths]
    if not paths:
        raise UsageError("--export needs the export's PATH (a file, a folder or a zip)")
    return p.Request(
        name="journal.import_export",
        args={
            "format": "" if fmt == AUTO else fmt,
            "paths": [os.path.abspath(os.path.expanduser(path)) for path in paths],
            "since": args.since or "",
            "dry_run": bool(args.dry_run),
        },
    )


def cmd_import(args: argparse.Namespace) -> int:
    if args.since:
        try:
            datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError("--since takes a date (YYYY-MM-DD) or an ISO date-time") from None
    if args.export is not None:
        request = export_request(args)
    elif len(args.targets) > 1 or (args.targets and args.targets[0] not in HARNESSES):
        raise UsageError(f"import takes one harness ({', '.join(HARNESSES)}), or --export [FORMAT] PATH...")
    else:
        harness = args.targets[0] if args.targets else ""
        request = p.Request(
            name="journal.import", args={"harness": harness, "since": args.since or "", "dry_run": bool(args.dry_run)}
        )
    bar = ProgressBar(sys.stderr)
    try:
        with connect(args, timeout=IMPORT_TIMEOUT_SECONDS) as client:
            reply = client.request(request, on_progress=bar.update)
    finally:
        bar.close()
    assert isinstance(reply, p.Result)
    value = reply.value
    assert isinstance(value, dict)
    if args.json:
        print_json(value)
        return EXIT_OK
    if args.export is not None:
        print_export_tally(value)
    else:
        print_tally(value)
    return EXIT_OK


def print_tally(value: dict[str, Any]) -> None:
    dry = bool(value.get("dry_run"))
    print(f"{'harness':<12} {'files':>6} {'rows':>8} {'new':>8} {'present':>8} {'bad lines':>9} {'unreadable':>10}")
    for harness, t in value.get("harnesses", {}).items():
        print(
            f"{harness:<12} {t['files']:>6,} {t['rows_found']:>8,} {t['rows_new']:>8,} {t['rows_present']:>8,}"
            f" {t['bad_lines']:>9,} {t['unreadable']:>10,}"
        )
    if value.get("since"):
        skipped = sum(t.get("rows_before_since", 0) for t in value.get("harnesses", {}).values())
        print(f"since {value['since']}: {skipped:,} earlier row(s) left out")
    if dry:
        print("dry run: nothing was written ('new' is what an import would add)")


def print_export_tally(value: dict[str, Any]) -> None:
    print(f"{'format':<10} {'files':>6} {'chats':>7} {'rows':>8} {'new':>8} {'present':>8} {'skipped entries':>15}")
    for fmt, t in value.get("formats", {}).items():
        print(
            f"{fmt:<10} {t['files']:>6,} {t['conversations']:>7,} {t['rows_found']:>8,} {t['rows_new']:>8,}"
            f" {t['rows_present']:>8,} {t['bad_entries']:>15,}"
        )
    if value.get("skipped_files"):
        print(f"{value['skipped_files']:,} file(s) in the export hold no conversations (left alone)")
    if value.get("since"):
        skipped = sum(t.get("rows_before_since", 0) for t in value.get("formats", {}).values())
        print(f"since {value['since']}: {skipped:,} earlier row(s) left out")
    if value.get("dry_run"):
        print("dry run: nothing was written ('new' is what an import would add)")
